package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/quote"
)

// TestPCRLockMatchesLockUKI: "measure FILE.efi --pcrs 4,11 --pcrlock F"
// writes the bytes "systemd-pcrlock lock-uki" 262.1 writes for UKIs built
// on stubs 257 and 262 (whose measured sections have the same order for
// the sections these UKIs hold).
func TestPCRLockMatchesLockUKI(t *testing.T) {
	f := getFixture(t)
	for _, v := range []string{"257", "262"} {
		t.Run(v, func(t *testing.T) {
			dir := t.TempDir()
			_, pub := rsaKeyPEM(t, dir, "pcr")
			efi := filepath.Join(dir, "uki.efi")
			if code, _, e := runOurs("build", "--stub", f.stubs[v], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
				"--cmdline", "quiet", "--os-release", "ID=test", "--pcr-public-key", pub, "--output", efi); code != 0 {
				t.Fatalf("build: %s", e)
			}
			ref := filepath.Join(dir, "lock-uki.pcrlock")
			if out, err := f.tools.Sid(t, "usr/lib/systemd/systemd-pcrlock", "lock-uki", efi, "--pcrlock="+ref).CombinedOutput(); err != nil {
				t.Fatalf("systemd-pcrlock lock-uki: %v\n%s", err, out)
			}
			ours := filepath.Join(dir, "ours.pcrlock")
			if code, _, e := runOurs("measure", efi, "--pcrs", "4,11", "--pcrlock", ours); code != 0 {
				t.Fatalf("measure --pcrlock: %s", e)
			}
			compareFiles(t, ref, ours)
		})
	}
}

// TestPCRLockAcceptedBySystemdPcrlock: the component "measure --pcrs 12,13
// --pcrlock" writes for the recorded stub 257 boot with credentials and
// extensions in the UKI's .extra.d/ and on the ESP is taken by
// systemd-pcrlock 262.1 as the owner of the log's PCR 12 and 13 records
// (log), its prediction (predict) equals the values the boot's TPM
// reported, and make-policy writes a policy with them. The TPM is swtpm
// with PCR 12 and 13 extended by tpm2_pcrextend with the log's digests.
// Keylime's policy has the same values.
func TestPCRLockAcceptedBySystemdPcrlock(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	rec := filepath.Join(vectors, "ovmf-sb-stub257-global")
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["257"], "--linux", f.kernel, "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	copyTree(t, rec+".extra.d", efi+".extra.d")
	comps := filepath.Join(dir, "pcrlock.d")
	if err := os.Mkdir(comps, 0o755); err != nil {
		t.Fatal(err)
	}
	keylime := filepath.Join(dir, "keylime.json")
	if code, _, e := runOurs("measure", efi, "--pcrs", "12,13", "--esp", rec+".esp", "--bank", "sha1", "--bank", "sha256",
		"--pcrlock", filepath.Join(comps, "650-ukibuild.pcrlock"), "--keylime-policy", keylime); code == 0 || !strings.Contains(e, "one --bank") {
		t.Errorf("--keylime-policy with two banks: exit %d, %s", code, e)
	}
	if _, err := os.Stat(filepath.Join(comps, "650-ukibuild.pcrlock")); err == nil {
		t.Errorf("a refused measure wrote the --pcrlock file")
	}
	if code, _, e := runOurs("measure", efi, "--pcrs", "12,13", "--esp", rec+".esp", "--bank", "sha256",
		"--pcrlock", filepath.Join(comps, "650-ukibuild.pcrlock"), "--keylime-policy", keylime); code != 0 {
		t.Fatalf("measure --pcrlock: %s", e)
	}
	b, err := os.ReadFile(rec + ".pcrs")
	if err != nil {
		t.Fatal(err)
	}
	tpmValues, err := quote.ParseValues(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for _, v := range tpmValues {
		if (v.PCR == 12 || v.PCR == 13) && v.Bank.Name == "sha256" {
			want[v.PCR] = fmt.Sprintf("%x", v.Digest)
		}
	}
	var kl map[string]any
	if b, err := os.ReadFile(keylime); err != nil || json.Unmarshal(b, &kl) != nil {
		t.Fatalf("keylime policy: %v\n%s", err, b)
	}
	if fmt.Sprint(kl["12"]) != "["+want[12]+"]" || fmt.Sprint(kl["13"]) != "["+want[13]+"]" || kl["mask"] != "0x3000" {
		t.Errorf("keylime policy %v; the TPM reported %v", kl, want)
	}

	sock := startSwtpm(t, dir)
	log, err := os.ReadFile(rec + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	seen, err := eventlog.Parse(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range eventlog.Select(seen, []int{12, 13}) {
		var ds []string
		for _, v := range ev.Digests {
			ds = append(ds, fmt.Sprintf("%s=%x", v.Bank.Name, v.Digest))
		}
		cmd := exec.Command("tpm2_pcrextend", fmt.Sprintf("%d:%s", ev.PCR, strings.Join(ds, ",")))
		cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:path="+sock)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tpm2_pcrextend: %v\n%s", err, out)
		}
	}
	pcrlock := func(args ...string) []byte {
		t.Helper()
		cmd := f.tools.Sid(t, "usr/lib/systemd/systemd-pcrlock", append(args, "--components="+comps)...)
		// sid's TPM stack loads the swtpm TCTI from the host's libraries.
		for i, a := range cmd.Args {
			if a == "--library-path" {
				cmd.Args[i+1] += ":/usr/lib/x86_64-linux-gnu"
			}
		}
		cmd.Env = append(cmd.Env, "SYSTEMD_TPM2_DEVICE=swtpm:path="+sock, "SYSTEMD_MEASURE_LOG_FIRMWARE="+rec+".bin",
			"SYSTEMD_MEASURE_LOG_USERSPACE="+filepath.Join(dir, "no-userspace-log"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("systemd-pcrlock %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.Bytes()
	}
	var logDoc struct {
		Log []struct {
			PCR       int    `json:"pcr"`
			Component string `json:"component"`
		} `json:"log"`
	}
	if err := json.Unmarshal(pcrlock("log", "--json=short"), &logDoc); err != nil {
		t.Fatal(err)
	}
	owned := 0
	for _, r := range logDoc.Log {
		if r.PCR == 12 || r.PCR == 13 {
			if r.Component != "650-ukibuild" {
				t.Errorf("PCR %d record owned by %q, not by our component", r.PCR, r.Component)
			}
			owned++
		}
	}
	if owned != 4 {
		t.Errorf("%d PCR 12/13 records in systemd-pcrlock's log, want 4", owned)
	}
	var pred map[string][]struct {
		PCR    int      `json:"pcr"`
		Values []string `json:"values"`
	}
	if err := json.Unmarshal(pcrlock("predict", "--pcr=12", "--pcr=13", "--json=short"), &pred); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(pred["sha256"]); got != fmt.Sprintf("[{12 [%s]} {13 [%s]}]", want[12], want[13]) {
		t.Errorf("systemd-pcrlock predict: %s; the TPM reported %v", got, want)
	}
	policy := filepath.Join(dir, "pcrlock.json")
	pcrlock("make-policy", "--pcr=12", "--pcr=13", "--policy="+policy, "--recovery-pin=hide")
	var pol struct {
		PCRValues []struct {
			PCR    int      `json:"pcr"`
			Values []string `json:"values"`
		} `json:"pcrValues"`
	}
	if b, err := os.ReadFile(policy); err != nil || json.Unmarshal(b, &pol) != nil || fmt.Sprint(pol.PCRValues) != fmt.Sprintf("[{12 [%s]} {13 [%s]}]", want[12], want[13]) {
		t.Errorf("make-policy: %v %+v", err, pol)
	}
}

// startSwtpm runs swtpm on a unix socket in dir (its control socket next
// to it, as the swtpm TCTI wants) until the test ends.
func startSwtpm(t *testing.T, dir string) string {
	t.Helper()
	state := filepath.Join(dir, "swtpm-state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "swtpm.sock")
	sw := exec.Command("swtpm", "socket", "--tpm2", "--server", "type=unixio,path="+sock, "--ctrl", "type=unixio,path="+sock+".ctrl",
		"--flags", "startup-clear", "--tpmstate", "dir="+state)
	var swlog bytes.Buffer
	sw.Stdout, sw.Stderr = &swlog, &swlog
	if err := sw.Start(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	t.Cleanup(func() {
		sw.Process.Kill()
		sw.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not create %s:\n%s", sock, swlog.String())
		}
	}
}

// copyTree copies the regular files of src into the new directory dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(dst, e.Name(), b)
	}
}
