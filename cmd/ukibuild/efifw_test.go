package main

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/tpmunseal"
	"github.com/ukibuild/ukibuild/keys"
)

// peSections returns the sections of a PE as pefile (ukify's PE library)
// reads them: name and the first VirtualSize bytes, each written to a file
// in dir, in PE order.
func peSections(t *testing.T, f *fixture, pe, dir string) (names, files []string) {
	t.Helper()
	in, _ := json.Marshal(map[string]string{"pe": pe, "dir": dir})
	out := f.tools.UkifyPython(t, `
import pefile, os
a = json.load(sys.stdin)
pe = pefile.PE(a["pe"], fast_load=True)
res = []
for i, s in enumerate(pe.sections):
    name = s.Name.rstrip(b"\0").decode()
    p = os.path.join(a["dir"], "%d%s" % (i, name))
    with open(p, "wb") as f:
        f.write(s.get_data()[:s.Misc_VirtualSize])
    res.append([name, p])
json.dump(res, sys.stdout)
`, in)
	var res [][2]string
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("pefile: %v: %s", err, out)
	}
	for _, r := range res {
		names, files = append(names, r[0]), append(files, r[1])
	}
	return names, files
}

// TestEFIFWMeasureAndUnseal: a UKI for the 262.1 stub with two .dtbauto, a
// .hwids table and two .efifw is ukify's but for its .pcrsig, which has a
// policy set for every devicetree with no firmware and with each .efifw;
// "ukibuild measure FILE --dtbauto I --efifw J|none" equals systemd-measure
// 262.1 calculate given the files of the sections the stub measures (the
// picked .efifw through --efifw=); a secret sealed to the PCR key unseals
// after PCR 11 was extended with them with our .pcrsig for every pick, and
// with ukify's only when no firmware was picked.
func TestEFIFWMeasureAndUnseal(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	k1, _ := rsaKeyPEM(t, dir, "k1")
	dtbs := []string{filepath.Join(f.dir, "dtb"), writeFile(dir, "dtb2", append([]byte{0xd0, 0x0d, 0xfe, 0xed}, randomBytes(12, 300)...))}
	hw := hwidsDir(t, dir)
	for _, fw := range []string{"test-fw", "other-fw"} {
		if err := os.MkdirAll(filepath.Join(dir, "fw", fw), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(filepath.Join(dir, "fw", fw), "firmware.bin", randomBytes(uint64(len(fw)+7), 2000))
	}
	args := []string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "quiet", "--os-release", "@" + filepath.Join(f.dir, "os-release"),
		"--devicetree-auto", dtbs[0], "--devicetree-auto", dtbs[1], "--hwids", hw,
		"--efifw", filepath.Join(dir, "fw", "test-fw"), "--efifw", filepath.Join(dir, "fw", "other-fw"),
		"--pcr-private-key", k1, "--pcr-banks", "sha256"}
	ours, ref := filepath.Join(dir, "ours.efi"), filepath.Join(dir, "ukify.efi")
	if code, _, e := runOurs(append(args, "--output", ours)...); code != 0 {
		t.Fatalf("ukibuild: %s", e)
	}
	if code, _, e := runUkify(t, f.tools, dir, append(args, "--tools", sidToolsDir(t, f), "--output", ref)...); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	mkdir := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oursNames, oursFiles := peSections(t, f, ours, mkdir("ours"))
	refNames, refFiles := peSections(t, f, ref, mkdir("ref"))
	if strings.Join(oursNames, " ") != strings.Join(refNames, " ") {
		t.Fatalf("sections %v, ukify's %v", oursNames, refNames)
	}
	files := map[string]string{".linux": f.kernel, ".initrd": filepath.Join(f.dir, "initrd1"),
		".cmdline": writeFile(dir, "cmdline", []byte("quiet")), ".osrel": filepath.Join(f.dir, "os-release")}
	var efifw []string
	var pcrsig, refPCRSig string
	for i, name := range refNames {
		a, err := os.ReadFile(oursFiles[i])
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(refFiles[i])
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case ".pcrsig":
			pcrsig, refPCRSig = string(a), string(b)
			continue
		case ".uname", ".sbat", ".pcrpkey", ".hwids":
			files[name] = refFiles[i]
		case ".efifw":
			efifw = append(efifw, refFiles[i])
		}
		if string(a) != string(b) {
			t.Errorf("section %d (%s) differs from ukify's", i, name)
		}
	}
	if len(efifw) != 2 || pcrsig == "" || refPCRSig == "" {
		t.Fatalf("%d .efifw sections, .pcrsig %q, ukify's %q", len(efifw), pcrsig, refPCRSig)
	}
	var doc, refDoc map[string][]any
	if err := json.Unmarshal([]byte(pcrsig), &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(refPCRSig), &refDoc); err != nil {
		t.Fatal(err)
	}
	// 2 devicetrees × (no firmware, 2 firmwares) policies for each of the
	// 4 default phase paths; ukify: 2 × 1.
	if len(doc["sha256"]) != 2*3*4 || len(refDoc["sha256"]) != 2*4 {
		t.Errorf("%d policies, ukify %d; want %d and %d", len(doc["sha256"]), len(refDoc["sha256"]), 2*3*4, 2*4)
	}
	signer, err := keys.PrivateKey(k1, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := signer.Public().(*rsa.PublicKey)
	for d, dtb := range dtbs {
		for fw := -1; fw < len(efifw); fw++ {
			secs := map[string]string{".dtbauto": dtb}
			for k, v := range files {
				secs[k] = v
			}
			pick := "none"
			if fw >= 0 {
				secs[".efifw"] = efifw[fw]
				pick = fmt.Sprint(fw)
			}
			var margs []string
			for name, file := range secs {
				margs = append(margs, "--"+name[1:]+"="+file)
			}
			where := fmt.Sprintf("dtbauto %d, efifw %s", d, pick)
			_, want, e := runMeasure(t, f, "262", append([]string{"calculate", "--json=short", "--bank=sha256"}, margs...)...)
			code, got, oe := runOurs("measure", ours, "--dtbauto", fmt.Sprint(d), "--efifw", pick, "--json=short", "--bank=sha256")
			if code != 0 || got != want || want == "" {
				t.Errorf("%s: exit %d %s\n--- systemd-measure %s\n%s--- ukibuild\n%s", where, code, oe, e, want, got)
			}
			// --explain: the events of PCR 11 hold the picked .efifw's
			// digest (of the bytes pefile read) and no other's.
			code, ex, oe := runOurs("measure", ours, "--explain", "--pcrs", "11", "--bank", "sha256", "--dtbauto", fmt.Sprint(d), "--efifw", pick)
			if code != 0 {
				t.Errorf("%s: --explain: exit %d %s", where, code, oe)
			}
			for i, file := range efifw {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				if got := strings.Contains(ex, hex.EncodeToString(sum[:])); got != (i == fw) {
					t.Errorf("%s: --explain has the digest of .efifw %d: %v\n%s", where, i, got, ex)
				}
			}
			if secret, err := unsealAfter(t, secs, pcrsig, pub); err != nil || string(secret) != "profile secret" {
				t.Errorf("%s: unseal with our .pcrsig: %q, %v", where, secret, err)
			}
			secret, err := unsealAfter(t, secs, refPCRSig, pub)
			switch {
			case fw < 0 && (err != nil || string(secret) != "profile secret"):
				t.Errorf("%s: unseal with ukify's .pcrsig: %q, %v", where, secret, err)
			case fw >= 0 && !errors.Is(err, tpmunseal.ErrNoPolicy):
				t.Errorf("%s: ukify's .pcrsig gave %q, %v; want %v (ukify 262.1 does not measure .efifw)", where, secret, err, tpmunseal.ErrNoPolicy)
			}
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dtbauto", "0"}, "--efifw=INDEX (0 to 1)"},
		{[]string{"--dtbauto", "0", "--efifw", "2"}, ".efifw 2 does not exist"},
		{[]string{"--dtbauto", "0", "--efifw=-1"}, "not an index"},
		{[]string{"--dtbauto", "0", "--efifw", "0", "--stub-version", "261"}, "systemd-stub 261 never selects"},
		{[]string{"--dtbauto", "0", "--efifw", "0", "--explain", "--stub-version", "261"}, "systemd-stub 261 never selects"},
		{[]string{"--dtbauto", "0", "--explain"}, "Machine.EFIFW"},
	} {
		if code, out, e := runOurs(append([]string{"measure", ours}, c.args...)...); code == 0 || out != "" || !strings.Contains(e, c.want) {
			t.Errorf("measure %q: exit %d, stdout %q, stderr %q; want an error with %q", c.args, code, out, e, c.want)
		}
	}
	// A 261.0 stub never picks firmware: without --efifw the prediction
	// is that of no firmware.
	_, none, _ := runOurs("measure", ours, "--dtbauto", "1", "--efifw", "none", "--json=short", "--bank=sha256")
	if code, got, e := runOurs("measure", ours, "--dtbauto", "1", "--stub-version", "261", "--json=short", "--bank=sha256"); code != 0 || got != none {
		t.Errorf("measure --stub-version 261: exit %d %s: %s, want %s", code, e, got, none)
	}
}
