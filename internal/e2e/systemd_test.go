package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"

	"github.com/ukibuild/ukibuild/cpio"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/quote"
)

// The systemd initrd (case 19): sid's systemd 262.1 and the libraries it
// dlopen()s, unpacked from pinned Debian packages by
// internal/reftools/fetch.sh (UKIBUILD_INITRD_262_ROOT), plus
// /etc/initrd-release, the efivarfs module of the test kernel (so that
// systemd reads the stub's EFI variables: ConditionSecurity=measured-os)
// and a unit that runs the guest program (internal/e2e/guest) once
// systemd's early measurements are done. systemd is PID 1 (/init).

// initrdEpoch is SOURCE_DATE_EPOCH for the systemd initrd's cpio: every
// file's time is clamped to it (2020-01-01, older than the pinned packages'
// files), so the archive does not depend on when the tree was copied.
var initrdEpoch = time.Unix(1577836800, 0)

// initrdSkip are the paths of the package tree left out of the initrd:
// documentation, locales and the like, hardware databases, gconv modules,
// OpenSSL's engines and providers, networkd. kmod stays: systemd mounts
// efivarfs without loading it, and the kernel asks /sbin/modprobe for it.
var initrdSkip = []string{
	"usr/share", "usr/lib/x86_64-linux-gnu/gconv", "usr/lib/udev/hwdb.d", "usr/lib/udev/hwdb.bin",
	"usr/lib/x86_64-linux-gnu/libmemusage.so", "usr/lib/x86_64-linux-gnu/libpcprofile.so",
	"usr/lib/x86_64-linux-gnu/engines-3", "usr/lib/x86_64-linux-gnu/ossl-modules",
	"usr/lib/systemd/systemd-networkd", "usr/lib/systemd/systemd-networkd-wait-online", "usr/lib/systemd/network",
}

// initrdUnit runs the guest once sysinit.target is reached (after
// systemd-pcrphase-initrd.service measured enter-initrd, and the other
// measuring services ordered before sysinit.target); systemd powers the
// machine off when it ends.
const initrdUnit = `[Unit]
Description=ukibuild boot test: report the TPM's state
After=systemd-pcrphase-initrd.service systemd-pcrosseparator.service systemd-pcrnvdone.service systemd-tpm2-setup-early.service ukibuild-e2e-cred.service ukibuild-e2e-sysext.service
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/usr/bin/ukibuild-e2e-guest
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
`

// initrdCredUnit has systemd decrypt the credential the stub passed in
// /.extra/credentials/ (imported by PID 1 into
// /run/credentials/@encrypted/) and runs the guest to print it; its
// failure does not stop the boot (the report says what is missing).
const initrdCredUnit = `[Unit]
Description=ukibuild boot test: a credential systemd imported
After=systemd-pcrphase-initrd.service systemd-tpm2-setup-early.service
Before=ukibuild-e2e.service

[Service]
Type=oneshot
ImportCredential=ukibuild-systemd*
ExecStart=/usr/bin/ukibuild-e2e-guest --credentials
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
`

// initrdSysextUnit runs the guest to print the files the system
// extensions add to /usr once systemd-sysext-initrd.service merged them
// (the signed Verity DDIs the stub passed in /.extra/sysext/ and
// /.extra/global_sysext/; their certificate is in /etc/verity.d/).
const initrdSysextUnit = `[Unit]
Description=ukibuild boot test: the system extensions systemd merged
After=systemd-sysext-initrd.service
Before=ukibuild-e2e.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ukibuild-e2e-guest --sysext
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
`

const initrdRelease = `NAME="ukibuild e2e initrd"
ID=ukibuild-e2e-initrd
VERSION_ID=1
PRETTY_NAME="ukibuild e2e initrd (Debian sid's systemd 262.1)"
`

// systemdInitrdTree writes the initrd's tree into dir, with verityCert
// (PEM) as the certificate systemd-sysext checks the system extensions'
// Verity signatures against in userspace (/etc/verity.d/*.crt: the
// kernel's keyring does not have it).
func (e *env) systemdInitrdTree(t *testing.T, dir, verityCert string) {
	t.Helper()
	root := e.tools.Path(t, "UKIBUILD_INITRD_262_ROOT")
	kmod := e.tools.Path(t, "UKIBUILD_INITRD_KMOD")
	dm := e.tools.Path(t, "UKIBUILD_INITRD_DM")
	crt, err := os.ReadFile(verityCert)
	if err != nil {
		t.Fatal(err)
	}
	if err := copyTree(root, dir, func(rel string) bool {
		return strings.HasPrefix(filepath.Base(rel), ".deb-") && !strings.Contains(rel, "/") ||
			slices.Contains(initrdSkip, rel)
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"},
		{"init", "usr/lib/systemd/systemd"}, {"etc/os-release", "initrd-release"},
		{"etc/systemd/system/initrd.target.wants/ukibuild-e2e.service", "../ukibuild-e2e.service"},
		{"etc/systemd/system/initrd.target.wants/ukibuild-e2e-cred.service", "../ukibuild-e2e-cred.service"},
		{"etc/systemd/system/initrd.target.wants/ukibuild-e2e-sysext.service", "../ukibuild-e2e-sysext.service"}} {
		p := filepath.Join(dir, l[0])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if err := os.Symlink(l[1], p); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "sysroot", "etc/verity.d"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	guest, err := os.ReadFile(filepath.Join(e.dir, "guest"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		data []byte
		mode fs.FileMode
	}{
		{"etc/initrd-release", []byte(initrdRelease), 0o644},
		{"etc/systemd/system/ukibuild-e2e.service", []byte(initrdUnit), 0o644},
		{"etc/systemd/system/ukibuild-e2e-cred.service", []byte(initrdCredUnit), 0o644},
		{"etc/systemd/system/ukibuild-e2e-sysext.service", []byte(initrdSysextUnit), 0o644},
		{"etc/verity.d/ukibuild-e2e.crt", crt, 0o644},
		{"usr/bin/ukibuild-e2e-guest", guest, 0o755},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.path), f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel's efivarfs module, the ones systemd-sysext needs for a
	// signed Verity DDI (loop, dm-mod, dm-verity, erofs, overlay and what
	// they depend on) and the indexes sid's depmod makes for them (run
	// through sid's own loader from the package tree).
	for _, m := range []string{kmod, dm} {
		if err := copyTree(filepath.Join(m, "lib/modules"), filepath.Join(dir, "usr/lib/modules"), func(string) bool { return false }); err != nil {
			t.Fatal(err)
		}
	}
	versions, err := os.ReadDir(filepath.Join(dir, "usr/lib/modules"))
	if err != nil || len(versions) != 1 {
		t.Fatalf("want one kernel's modules in %s: %v %v", kmod, versions, err)
	}
	cmd := exec.Command(filepath.Join(root, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		"--library-path", filepath.Join(root, "usr/lib/x86_64-linux-gnu"), "--argv0", "depmod",
		filepath.Join(root, "usr/bin/kmod"), "-b", dir, versions[0].Name())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v\n%s", err, b)
	}
}

// copyTree copies regular files, directories and symbolic links from src
// to dst (modes kept, times and owners not), leaving out what skip names
// (a slash-separated path relative to src).
func copyTree(src, dst string, skip func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && skip(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, info.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(to, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		}
		return fmt.Errorf("%s: unexpected file type %v", p, info.Mode().Type())
	})
}

// systemdInitrd builds the initrd twice, each time from a fresh copy of
// the tree, packs both with package cpio (mkosi's recipe, owner 0:0,
// times clamped to initrdEpoch) and returns the zstd-compressed archive,
// the two uncompressed archives' SHA-256 and the size of the first.
func (e *env) systemdInitrd(t *testing.T, dir, verityCert string) (string, [2][32]byte, int64) {
	t.Helper()
	var sums [2][32]byte
	var size int64
	for i := range 2 {
		tree := filepath.Join(dir, fmt.Sprintf("initrd-tree-%d", i))
		e.systemdInitrdTree(t, tree, verityCert)
		out := filepath.Join(dir, fmt.Sprintf("initrd-%d.cpio", i))
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := cpio.Write(f, tree, cpio.Options{Owner: &cpio.Owner{}, SourceDateEpoch: initrdEpoch}); err != nil {
			t.Fatalf("packing %s: %v", tree, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sums[i], size = sha256.Sum256(b), int64(len(b))
	}
	// The UKI gets it compressed with zstd, as mkosi's initrds are (a
	// third of the size: the firmware and the stubs hash it several times,
	// slowly under TCG).
	zst := filepath.Join(dir, "initrd.cpio.zst")
	f, err := os.Create(zst)
	if err != nil {
		t.Fatal(err)
	}
	if err := cpio.Write(f, filepath.Join(dir, "initrd-tree-0"), cpio.Options{Owner: &cpio.Owner{}, SourceDateEpoch: initrdEpoch, Compression: cpio.Zstd}); err != nil {
		t.Fatalf("packing the initrd: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("initrd-tree-%d", i)))
	}
	return zst, sums, size
}

// celRecord is one record of systemd's CEL-JSON log
// (/run/log/systemd/tpm2-measure.log): the fields the test reads.
type celRecord struct {
	// PCR is -1 for a record of an NV index extension (an NvPCR: "nv_index"
	// instead of "pcr"), which changes no PCR.
	PCR     int     `json:"pcr"`
	NVIndex *uint32 `json:"nv_index"`
	Digests []struct {
		HashAlg string `json:"hashAlg"`
		Digest  string `json:"digest"`
	} `json:"digests"`
	ContentType string `json:"content_type"`
	Content     struct {
		EventType string `json:"eventType"`
		String    string `json:"string"`
	} `json:"content"`
}

// parseCEL reads the JSON-SEQ records (each after an RS byte).
func parseCEL(b []byte) ([]celRecord, error) {
	var recs []celRecord
	for _, chunk := range bytes.FieldsFunc(b, func(r rune) bool { return r == 0x1e || r == '\n' }) {
		r := celRecord{PCR: -1}
		if err := json.Unmarshal(chunk, &r); err != nil {
			return recs, fmt.Errorf("record %d: %w", len(recs), err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// TestBootSystemdInitrd (case 19): a Secure Boot UKI of the 262.1 stub
// whose initrd is systemd 262.1 from Debian packages boots; systemd (PID
// 1) measures enter-initrd into PCR 11 and its separators, and the test
// unit reports the firmware's log, systemd's log, the PCRs and a quote.
// The initrd's cpio is byte-identical across two builds; the firmware's
// log followed by systemd's replays to every PCR the TPM has (an
// independent replay here, with go-attestation's parser and plain
// SHA-256); PCR 11 is "ukibuild measure --phase=enter-initrd"; the quote
// is signed by the guest's AK over the test's nonce and those PCRs.
//
// systemd also takes what the stub passed in /.extra: a TPM-bound
// credential (ImportCredential=, printed decrypted by a unit) and a system
// extension, a Verity DDI signed by the test's key (sid's systemd-repart,
// as --make-ddi=sysext makes it), which systemd-sysext-initrd.service
// merges into /usr after checking its signature against the certificate
// in /etc/verity.d/ (userspace check: the kernel's keyring does not have
// it); a unit prints the extension's file. So PCR 12's and 13's
// predictions are proven against files systemd itself used.
//
// The sub-case "systemd-boot" boots the same initrd in a UKI that
// systemd-boot 262.1 starts (case 6's ESP), with a second credential in
// /loader/credentials/ and a second extension in /loader/extensions/: the
// stub passes them as /.extra/global_credentials/ and
// /.extra/global_sysext/, systemd imports and merges them with the first
// ones, and the units print all; "eventlog verify --loader --esp" and
// "measure --explain --loader --esp" then predict systemd-boot's PCR 4
// event and the stub's PCR 12 and 13 ones for the global files.
func TestBootSystemdInitrd(t *testing.T) {
	e := setup(t)
	const name = "19 systemd 262.1 initrd from Debian packages"
	dir := e.workDir(t)
	verity, err := newTestCert(dir, "verity", "ukibuild e2e verity")
	if err != nil {
		t.Fatal(err)
	}
	initrd, sums, size := e.systemdInitrd(t, dir, verity.cert)
	same := sums[0] == sums[1]
	record(t, name, "initrd cpio, two builds", "byte-identical", fmt.Sprintf("%d bytes, sha256 %x and %x", size, sums[0][:8], sums[1][:8]), same)
	if !same {
		t.Errorf("the initrd's cpio differs between two builds: %x, %x", sums[0], sums[1])
	}

	e.bootSystemdInitrd(t, name, dir, initrd, verity, "")

	// The same initrd in a UKI that systemd-boot 262.1 starts.
	t.Run("systemd-boot", func(t *testing.T) {
		const name = "19 systemd 262.1 initrd through systemd-boot 262.1"
		dir := e.workDir(t)
		loader := filepath.Join(dir, "systemd-bootx64.efi")
		e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), "-o", loader, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
		e.bootSystemdInitrd(t, name, dir, initrd, verity, loader)
	})
}

// bootSystemdInitrd boots a Secure Boot UKI of the 262.1 stub with the
// systemd initrd and checks what systemd did (case 19). With a loader
// (the signed systemd-boot) the ESP is case 6's (the UKI as the Type #2
// entry EFI/Linux/ukibuild.efi) and has a second credential in
// /loader/credentials/, which the stub passes as /.extra/global_credentials/
// and systemd imports too; eventlog verify and measure --explain are then
// given the loader and the ESP.
func (e *env) bootSystemdInitrd(t *testing.T, name, dir, initrd string, verity *testCert, loader string) {
	t.Helper()
	nonce := make([]byte, 20)
	rand.Read(nonce)
	// A credential for systemd to import (case 9's offline one, under
	// another name): encrypted for this TPM's SRK and locked to the UKI's
	// PCR signing key, signed for enter-initrd.
	key := writeRSAKey(t, filepath.Join(dir, "pcr.pem"))
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pcrPub := writeFileE2E(t, dir, "pcr.pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	state := newTPMState(t, dir)
	srk := writeFileE2E(t, dir, "srk.tpm2b_public", provisionSRK(t, state))
	// The credentials (ESP paths as extraFile names them) and the lines
	// the unit prints for them once systemd imported and decrypted them.
	creds := []struct{ name, path string }{{"ukibuild-systemd", "ukibuild-systemd.cred"}}
	if loader != "" {
		creds = append(creds, struct{ name, path string }{"ukibuild-systemd-global", "/loader/credentials/ukibuild-systemd-global.cred"})
	}
	var extras []extraFile
	var wantCreds []string
	for _, c := range creds {
		secret := fmt.Sprintf("%s-secret-%d", c.name, time.Now().UnixNano())
		cred := filepath.Join(dir, c.name+".cred")
		e.run(t, "creds", "encrypt", writeFileE2E(t, dir, c.name+".payload", []byte(secret)), cred, "--name="+c.name, "--with-key=tpm2",
			"--tpm2-device-key="+srk, "--tpm2-public-key="+pcrPub)
		credData, err := os.ReadFile(cred)
		if err != nil {
			t.Fatal(err)
		}
		extras = append(extras, extraFile{name: c.path, data: credData})
		wantCreds = append(wantCreds, "sdcred "+c.name+" "+secret)
	}
	// The system extensions, signed Verity DDIs, and the lines the unit
	// prints for their files once systemd-sysext merged them.
	sysexts := []struct{ name, path string }{{"ukibuild-e2e", "ukibuild-e2e.raw"}}
	if loader != "" {
		sysexts = append(sysexts, struct{ name, path string }{"ukibuild-e2e-global", "/loader/extensions/ukibuild-e2e-global.raw"})
	}
	var wantSysext []string
	for _, x := range sysexts {
		value := fmt.Sprintf("%s-sysext-%d", x.name, time.Now().UnixNano())
		extras = append(extras, extraFile{name: x.path, data: e.signedSysext(t, dir, x.name, value, verity)})
		wantSysext = append(wantSysext, "sdsysext "+x.name+".txt "+value)
	}
	efi := filepath.Join(dir, "uki.efi")
	if loader != "" {
		efi = filepath.Join(dir, "ukibuild.efi")
	}
	e.buildSigned(t, efi, e.sb.db, "build", "--stub", e.tools.Path(t, "UKIBUILD_STUB_262"), "--linux", e.tools.Path(t, "UKIBUILD_KERNEL"),
		"--initrd", initrd, "--cmdline", "console=ttyS0 panic=-1 systemd.show_status=false systemd.default_timeout_start_sec=600 systemd.default_device_timeout_sec=600 ukibuild.nonce="+hex.EncodeToString(nonce),
		"--os-release", "ID=ukibuild-e2e", "--pcr-private-key", filepath.Join(dir, "pcr.pem"), "--phases", "enter-initrd")
	esp := writeExtras(t, efi, extras)
	start := time.Now()
	var res *bootResult
	var predictArgs []string
	if loader == "" {
		res = e.bootWithTPM(t, efi, state, extras...)
	} else {
		files := []espFile{
			{path: "EFI/BOOT/BOOTX64.EFI", from: loader},
			{path: "EFI/Linux/ukibuild.efi", from: efi},
			{path: "loader/loader.conf", data: []byte(sdbootLoaderConf)},
		}
		for _, x := range extras {
			p, global := strings.CutPrefix(x.name, "/")
			if !global {
				p = "EFI/Linux/ukibuild.efi.extra.d/" + x.name
			}
			files = append(files, espFile{path: p, data: x.data})
		}
		res = e.bootESP(t, efi, files, state)
		predictArgs = []string{"--loader", loader, "--esp", esp}
	}
	t.Logf("boot took %s", time.Since(start).Round(time.Second))

	serial, _ := os.ReadFile(res.serial)
	pid1 := bytes.Contains(serial, []byte("systemd 262.1")) && bytes.Contains(serial, []byte("UKIBUILD-E2E begin"))
	record(t, name, "PID 1", "systemd 262.1, the test unit ran", fmt.Sprintf("systemd 262.1 banner %v, unit ran %v", bytes.Contains(serial, []byte("systemd 262.1")), pid1), pid1)
	if !pid1 {
		t.Errorf("systemd 262.1 did not run the test unit (serial log %s)", res.serial)
	}

	var celB, akB, attestB, sigB []byte
	tpmPCRs := map[int][]byte{}
	for _, l := range res.lines {
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && f[0] == "cel":
			celB, _ = base64.StdEncoding.DecodeString(f[1])
		case len(f) == 2 && f[0] == "quote-ak":
			akB, _ = base64.StdEncoding.DecodeString(f[1])
		case len(f) == 2 && f[0] == "quote-attest":
			attestB, _ = base64.StdEncoding.DecodeString(f[1])
		case len(f) == 2 && f[0] == "quote-sig":
			sigB, _ = base64.StdEncoding.DecodeString(f[1])
		case len(f) == 4 && f[0] == "pcr" && f[2] == "sha256":
			i, _ := strconv.Atoi(f[1])
			tpmPCRs[i], _ = hex.DecodeString(f[3])
		}
	}
	save := "systemd-initrd-"
	if loader != "" {
		save = "systemd-initrd-sdboot-"
	}
	saveSystemdBoot(t, dir, save, res, celB, nonce)

	// systemd's own events.
	cel, err := parseCEL(celB)
	var seen []string
	for _, r := range cel {
		seen = append(seen, fmt.Sprintf("%d:%s/%s", r.PCR, r.Content.EventType, r.Content.String))
	}
	has := func(pcrIdx int, s string) bool {
		return slices.ContainsFunc(cel, func(r celRecord) bool { return r.PCR == pcrIdx && r.Content.String == s })
	}
	sepOK := true
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14} {
		sepOK = sepOK && has(i, "os-separator")
	}
	ok := err == nil && has(11, "enter-initrd") && sepOK
	record(t, name, "systemd's log (CEL-JSON)", "enter-initrd in PCR 11; os-separator in PCRs 0-7, 9, 12-14", strings.Join(seen, " "), ok)
	if !ok {
		t.Errorf("systemd's log: %v; records %s", err, strings.Join(seen, " "))
	}

	// The firmware's log, then systemd's, replayed to the TPM's PCRs.
	var bad []string
	replayed := 0
	el, err := attest.ParseEventLog(res.evlog)
	if err != nil {
		t.Fatalf("parsing the firmware's event log: %v", err)
	}
	acc := map[int][]byte{}
	fold := func(i int, d []byte) {
		if acc[i] == nil {
			acc[i] = make([]byte, 32)
			if i >= 17 && i <= 22 {
				acc[i] = bytes.Repeat([]byte{0xff}, 32)
			}
		}
		h := sha256.New()
		h.Write(acc[i])
		h.Write(d)
		acc[i] = h.Sum(nil)
	}
	for _, ev := range el.Events(attest.HashSHA256) {
		fold(ev.Index, ev.Digest)
	}
	// PCR 7 when the firmware was done: systemd has extended it since
	// (os-separator), and checkSecureBoot replays the firmware's log only.
	// The replay below proves that the TPM's PCR 7 is this value extended
	// with systemd's events.
	firmwarePCR7 := slices.Clone(acc[7])
	for _, r := range cel {
		if r.PCR < 0 {
			continue
		}
		for _, d := range r.Digests {
			if d.HashAlg == "sha256" {
				b, _ := hex.DecodeString(d.Digest)
				fold(r.PCR, b)
			}
		}
	}
	var idx []int
	for i := range tpmPCRs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		if i == 10 {
			continue // the kernel's IMA (its own log, not read here)
		}
		want := acc[i]
		if want == nil {
			want = make([]byte, 32)
			if i >= 17 && i <= 22 {
				want = bytes.Repeat([]byte{0xff}, 32)
			}
		}
		if !bytes.Equal(want, tpmPCRs[i]) {
			bad = append(bad, strconv.Itoa(i))
		} else {
			replayed++
		}
	}
	ok = len(tpmPCRs) == 24 && len(bad) == 0
	record(t, name, "firmware log + systemd's log replay (sha256)", "all 24 PCRs but 10 (IMA's)", fmt.Sprintf("%d replay; differ: %s", replayed, strings.Join(bad, ",")), ok)
	if !ok {
		t.Errorf("replaying the firmware's and systemd's logs: PCRs %v differ from the TPM's (%d read)", bad, len(tpmPCRs))
	}

	if !slices.Contains(bad, "7") {
		atEBS := *res
		atEBS.pcr7 = map[string]string{"sha256": hex.EncodeToString(firmwarePCR7)}
		e.checkSecureBoot(t, name, &atEBS, e.sb.db.c)
	} else {
		record(t, name, "Secure Boot (event log, PCR 7)", "on", "PCR 7 does not replay", false)
	}

	// PCR 11: the prediction after enter-initrd.
	want := parseCalculate(e.run(t, "measure", efi, "--bank=sha256", "--phase=enter-initrd"))
	got := hex.EncodeToString(tpmPCRs[11])
	ok = want["sha256"] != "" && got == want["sha256"] && res.pcr11["sha256"] == got
	record(t, name, "PCR 11 sha256", "measure --phase=enter-initrd: "+want["sha256"], got, ok)
	if !ok {
		t.Errorf("PCR 11 sha256: measure --phase=enter-initrd predicts %s, the TPM has %s", want["sha256"], got)
	}

	// The quote: the guest's AK signed our nonce and the replay of the
	// two logs (PCRs 0-15 but 10).
	ak, err := quote.ParseAKPublic(akB)
	var values []quote.PCRValue
	for i := 0; i < 16; i++ {
		if i == 10 {
			continue
		}
		v := acc[i]
		if v == nil {
			v = make([]byte, 32)
		}
		values = append(values, quote.PCRValue{PCR: i, Value: pcr.Value{Bank: pcr.SHA256, Digest: v}})
	}
	if err == nil {
		_, err = quote.Verify(quote.Quote{Attest: attestB, Signature: sigB}, ak, nonce, values)
	}
	ok = err == nil
	record(t, name, "TPM quote (AK made in the initrd)", "signed over our nonce and the logs' PCRs 0-9, 11-15", fmt.Sprint(errOr(err, "verifies")), ok)
	if !ok {
		t.Errorf("the quote does not verify: %v", err)
	}
	var seenCreds []string
	for _, l := range res.lines {
		if strings.HasPrefix(l, "sdcred") {
			seenCreds = append(seenCreds, l)
		}
	}
	sort.Strings(seenCreds)
	sort.Strings(wantCreds)
	ok = slices.Equal(seenCreds, wantCreds)
	check := "credential in .extra.d/, ImportCredential= (systemd decrypts with the TPM)"
	if loader != "" {
		check = "credentials in .extra.d/ and /loader/credentials/, ImportCredential= (systemd decrypts with the TPM)"
	}
	record(t, name, check, strings.Join(wantCreds, "; "), strings.Join(seenCreds, "; "), ok)
	if !ok {
		t.Errorf("systemd's imported credentials: %q, want %q (serial log %s)", seenCreds, wantCreds, res.serial)
	}
	var seenSysext []string
	for _, l := range res.lines {
		if strings.HasPrefix(l, "sdsysext") {
			seenSysext = append(seenSysext, l)
		}
	}
	sort.Strings(seenSysext)
	sort.Strings(wantSysext)
	ok = slices.Equal(seenSysext, wantSysext)
	check = "signed Verity sysext in .extra.d/, merged by systemd-sysext (certificate in /etc/verity.d/)"
	if loader != "" {
		check = "signed Verity sysexts in .extra.d/ and /loader/extensions/, merged by systemd-sysext (certificate in /etc/verity.d/)"
	}
	record(t, name, check, strings.Join(wantSysext, "; "), strings.Join(seenSysext, "; "), ok)
	if !ok {
		t.Errorf("the merged system extensions' files: %q, want %q (serial log %s)", seenSysext, wantSysext, res.serial)
	}
	if loader != "" {
		checkLoaderConfEvent(t, name, res)
	}
	// PCR 4: the firmware's four events before the first image (as in
	// case 6), then one per image (systemd-boot, the UKI); PCR 12: one
	// event per /.extra directory the stub packs credentials into; PCR 13:
	// one per directory it packs system extensions into.
	images := 1
	if loader != "" {
		images = 2
	}
	counts := []string{fmt.Sprintf("PCR 4: match (%d events)", 4+images), fmt.Sprintf("PCR 12: match (%d events)", len(creds)),
		fmt.Sprintf("PCR 13: match (%d events)", len(sysexts))}
	e.verifySystemdBoot(t, name, dir, efi, tpmPCRs, nonce, akB, attestB, sigB, counts, predictArgs...)
	e.explainSystemdPhase(t, name, dir, efi, tpmPCRs, predictArgs...)
}

// explainSystemdPhase runs "ukibuild measure --explain --phase
// enter-initrd --systemd-version 262.1" for PCRs 4, 7, 9, 11, 12 and 13:
// systemd extends each of them before the unit runs (os-separator into 4,
// 7, 9, 12 and 13, nvpcr-separator into 9, the phase word into 11), and
// each predicted value after those events must be the TPM's.
func (e *env) explainSystemdPhase(t *testing.T, name, dir, efi string, tpmPCRs map[int][]byte, predictArgs ...string) {
	t.Helper()
	args := []string{"measure", efi, "--explain", "--pcrs", "4,7,9,11,12,13", "--bank", "sha256", "--phase", "enter-initrd",
		"--systemd-version", "262.1", "--boot-attempts", "2", "--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert,
		"--db", e.sb.db.cert, "--db", e.sb.hsm.CertPEM, "--dbx", filepath.Join(dir, "dbx.esl")}
	out := e.run(t, append(args, predictArgs...)...)
	var seen, bad []string
	for _, i := range []int{4, 7, 9, 11, 12, 13} {
		want := fmt.Sprintf("PCR %d after enter-initrd: sha256=%x", i, tpmPCRs[i])
		if strings.Contains(out, want) {
			seen = append(seen, strconv.Itoa(i))
		} else {
			bad = append(bad, strconv.Itoa(i))
		}
	}
	ok := len(bad) == 0
	record(t, name, "measure --explain --phase enter-initrd --systemd-version 262.1", "PCRs 4, 7, 9, 11, 12, 13 after systemd's events = the TPM's",
		fmt.Sprintf("equal: %s; differ: %s", strings.Join(seen, ","), strings.Join(bad, ",")), ok)
	if !ok {
		t.Errorf("measure --explain --phase enter-initrd: PCRs %v differ from the TPM's:\n%s", bad, out)
	}
}

// verifySystemdBoot runs "ukibuild eventlog verify" on the boot's logs:
// the firmware's events of PCRs 4, 7, 9, 11, 12 and 13 against the
// prediction for the UKI, systemd's records against what systemd 262
// measures, and both logs, merged, against the quote and the PCRs the TPM
// reported (but 10). counts are lines of its output that must be there
// (events per PCR); predictArgs are added to its arguments.
func (e *env) verifySystemdBoot(t *testing.T, name, dir, efi string, tpmPCRs map[int][]byte, nonce, ak, attestB, sig []byte, counts []string, predictArgs ...string) {
	t.Helper()
	var q strings.Builder
	for i, v := range tpmPCRs {
		if i != 10 && i < 16 {
			fmt.Fprintf(&q, "%d:sha256=%x\n", i, v)
		}
	}
	files := map[string][]byte{"quote-pcrs.txt": []byte(q.String()), "ak.pub": ak, "quote.msg": attestB, "quote.sig": sig,
		"dbx.esl": virtFwVarsDBX()}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	args := []string{"eventlog", "verify", f("systemd-initrd-eventlog.bin"), "--uki", efi, "--pcrs", "4,7,9,11,12,13",
		"--boot-attempts", "2", "--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert, "--db", e.sb.db.cert,
		"--db", e.sb.hsm.CertPEM, "--dbx", f("dbx.esl"), "--quote-pcrs", f("quote-pcrs.txt"),
		"--quote", f("quote.msg"), "--quote-signature", f("quote.sig"), "--ak-public", f("ak.pub"), "--nonce", hex.EncodeToString(nonce),
		"--cel", f("systemd-initrd-tpm2-measure.log"), "--systemd-version", "262.1"}
	args = append(args, predictArgs...)
	out, err := exec.Command(e.ukibuild, args...).CombinedOutput()
	s := string(out)
	ok := err == nil && strings.Contains(s, "the log replays to its PCR digest") && strings.Contains(s, "PCR 11: match") &&
		strings.Contains(s, "as systemd measures it") && !strings.Contains(s, "differs")
	for _, c := range counts {
		ok = ok && strings.Contains(s, c)
	}
	check := "ukibuild eventlog verify --uki --cel --quote --quote-pcrs"
	if len(predictArgs) > 0 {
		check += " --loader --esp"
	}
	record(t, name, check, "firmware events match the UKI's prediction (4, 7, 9, 11, 12, 13; "+strings.Join(counts, ", ")+"); systemd's records as systemd 262 measures them; both logs replay to the quote and the TPM's PCRs", oneLine(s), ok)
	if !ok {
		t.Errorf("ukibuild eventlog verify with systemd's log: %v\n%s", err, s)
	}
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// saveSystemdBoot keeps the boot's logs, the guest's lines and the
// quote's nonce in dir (kept when the run fails; named systemd-initrd-*,
// which verifySystemdBoot reads), and in $UKIBUILD_E2E_SAVE when it is set
// (testvectors/eventlog/systemd-initrd-262), named with prefix there.
func saveSystemdBoot(t *testing.T, dir, prefix string, res *bootResult, cel, nonce []byte) {
	t.Helper()
	files := map[string][]byte{"eventlog.bin": res.evlog, "tpm2-measure.log": cel,
		"lines.txt": []byte(strings.Join(res.lines, "\n") + "\n"), "nonce.txt": []byte(hex.EncodeToString(nonce) + "\n")}
	for d, p := range map[string]string{dir: "systemd-initrd-", os.Getenv("UKIBUILD_E2E_SAVE"): prefix} {
		if d == "" {
			continue
		}
		for n, b := range files {
			if err := os.WriteFile(filepath.Join(d, p+n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// signedSysext makes a system extension NAME for the initrd with sid's
// systemd-repart 262.1, as "systemd-repart --make-ddi=sysext" does (sid's
// sysext.repart.d definitions: an erofs root partition, its Verity hash
// partition and the signature partition, signed with verity's key and
// certificate; --make-ddi looks for the definitions in the host's
// /usr/lib, so they are given with what it implies: --empty=create
// --size=auto), and returns the image. The extension holds
// /usr/lib/ukibuild-e2e/NAME.txt with value and an extension-release
// matching the initrd's os-release, for the initrd (systemd-sysext takes
// an extension without SYSEXT_SCOPE= for "system portable" only:
// src/shared/extension-util.c, extension_release_validate).
func (e *env) signedSysext(t *testing.T, dir, name, value string, verity *testCert) []byte {
	t.Helper()
	tree := filepath.Join(dir, name+"-sysext")
	for _, f := range []struct{ path, data string }{
		{"usr/lib/extension-release.d/extension-release." + name, "ID=ukibuild-e2e-initrd\nVERSION_ID=1\nSYSEXT_SCOPE=initrd\n"},
		{"usr/lib/ukibuild-e2e/" + name + ".txt", value + "\n"},
	} {
		p := filepath.Join(tree, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+".raw")
	defs := filepath.Join(e.tools.Path(t, "UKIBUILD_SID_ROOT"), "usr/lib/systemd/repart/definitions/sysext.repart.d")
	cmd := e.tools.Sid(t, "usr/bin/systemd-repart", "--definitions="+defs, "--empty=create", "--size=auto",
		"--copy-source="+tree, "--private-key="+verity.key, "--certificate="+verity.cert, "--offline=yes", "--dry-run=no", out)
	cmd.Env = append(cmd.Env, "PATH="+e.tools.MkfsErofsPath(t, bin)+":"+os.Getenv("PATH"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-repart for the sysext %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
