package main

import (
	"bytes"
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEventlogVerifyShim: "eventlog verify --loader shimx64.efi --pcrs 14"
// on the recorded shim 16.1 boots (testvectors/eventlog/ovmf-sb-shim161-*)
// matches PCR 14 (MokList, MokListX, MokListTrusted), for the MOK boot
// only with --mok (or --shim-var MokList=), and the log replays to the
// TPM's PCR 14; measure --explain describes shim's events by name. A
// shim claiming a version whose measurements were not examined, and a
// bad --shim-var, are refused.
func TestEventlogVerifyShim(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "sb")
	shim := filepath.Join(dir, "shimx64.efi")
	if code, _, e := runOurs("sign", f.tools.Path(t, "UKIBUILD_SHIM_161"), "-o", shim, "--key", key, "--cert", cert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "other", "--os-release", "ID=other",
		"--secureboot-private-key", key, "--secureboot-certificate", cert, "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	mok := filepath.Join(vectors, "ovmf-sb-shim161.mok.pem")
	for _, c := range []struct {
		log  string
		args []string
		code int
		want []string
	}{
		{"fresh", nil, 0, []string{"PCR 14: match (3 events)", "PCR 14 sha256: the log replays to the quoted value"}},
		{"mok", []string{"--mok", mok}, 0, []string{"PCR 14: match (3 events)", "PCR 14 sha256: the log replays to the quoted value"}},
		// the seen event is the recorded log's own MokList event
		{"mok", nil, 1, []string{"PCR 14: event 0 differs", `"MokList (974 bytes`, "EV_IPL sha1:69827ee10df93871c4133625c273695e0cce61e8 \"MokList\"\n"}},
		{"fresh", []string{"--mok", mok}, 1, []string{"PCR 14: event 0 differs"}},
	} {
		log := filepath.Join(vectors, "ovmf-sb-shim161-"+c.log+".bin")
		args := append([]string{"eventlog", "verify", log, "--uki", efi, "--loader", shim, "--pcrs", "14",
			"--quote-pcrs", filepath.Join(vectors, "ovmf-sb-shim161-"+c.log+".pcrs")}, c.args...)
		code, out, e := runOurs(args...)
		ok := code == c.code
		for _, w := range c.want {
			ok = ok && strings.Contains(out, w)
		}
		if !ok {
			t.Errorf("%s %v: exit %d (want %d), want %q:\n%s%s", c.log, c.args, code, c.code, c.want, out, e)
		}
	}
	// The MOK as the MokList variable's bytes: one signature list owned
	// by shim's GUID, made by efitools.
	esl := filepath.Join(dir, "moklist.esl")
	if out, err := exec.Command("cert-to-efi-sig-list", "-g", "605dab50-e046-4300-abb6-3dd810dd8b23", mok, esl).CombinedOutput(); err != nil {
		t.Fatalf("cert-to-efi-sig-list: %v\n%s", err, out)
	}
	code, out, e := runOurs("eventlog", "verify", filepath.Join(vectors, "ovmf-sb-shim161-mok.bin"), "--uki", efi, "--loader", shim, "--pcrs", "14", "--shim-var", "MokList="+esl)
	if code != 0 || !strings.Contains(out, "PCR 14: match (3 events)") {
		t.Errorf("--shim-var MokList=: exit %d:\n%s%s", code, out, e)
	}
	// --mok and --shim-var MokList= together: a usage error naming both.
	code, out, e = runOurs("eventlog", "verify", filepath.Join(vectors, "ovmf-sb-shim161-mok.bin"), "--uki", efi, "--loader", shim, "--pcrs", "14",
		"--mok", mok, "--shim-var", "MokList="+esl)
	if code != 2 || !strings.Contains(e, "--mok and --shim-var MokList="+esl) {
		t.Errorf("--mok with --shim-var MokList=: exit %d, want 2 and both named:\n%s%s", code, out, e)
	}
	code, out, e = runOurs("measure", efi, "--explain", "--pcrs", "7,14", "--bank", "sha256", "--loader", shim,
		"--pk", cert, "--db", cert, "--owner-guid", "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55")
	for _, w := range []string{"EV_IPL MokList (", "EV_IPL MokListX (", "EV_IPL MokListTrusted (", "EV_EFI_VARIABLE_AUTHORITY variable SbatLevel (32 bytes of data)", `"sbat,1,2025021800\nshim,4\ngrub,5"`, "(shim 16.1)"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("measure --explain --loader shimx64.efi: exit %d, want %q:\n%s%s", code, w, out, e)
		}
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not a signature list"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--shim-var", "MokFoo=" + esl}, `--shim-var "MokFoo=`},
		{[]string{"--shim-var", "MokList"}, `--shim-var "MokList"`},
		{[]string{"--shim-var", "SbatLevel=" + filepath.Join(dir, "missing")}, "--shim-var SbatLevel:"},
		// a malformed variable names its option and file, not shim's image
		{[]string{"--shim-var", "MokListX=" + garbage}, "ukibuild: error: --shim-var MokListX=" + garbage + ": the MokListX variable: "},
		{[]string{"--shim-var", "SbatPolicy=" + garbage}, "ukibuild: error: --shim-var SbatPolicy=" + garbage + ": the SbatPolicy variable: "},
	} {
		args := append([]string{"eventlog", "verify", filepath.Join(vectors, "ovmf-sb-shim161-fresh.bin"), "--uki", efi, "--loader", shim, "--pcrs", "14"}, c.args...)
		if code, _, e := runOurs(args...); code != 1 || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, want 1 and %q:\n%s", c.args, code, c.want, e)
		}
	}
	data, err := os.ReadFile(shim)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "shim-other.efi")
	if err := os.WriteFile(other, bytes.Replace(data, []byte("$Version: 16.1 $"), []byte("$Version: 15.8 $"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, e := runOurs("eventlog", "verify", filepath.Join(vectors, "ovmf-sb-shim161-fresh.bin"), "--uki", efi, "--loader", other, "--pcrs", "14"); code != 1 ||
		!strings.Contains(e, "shim 15.8: its measurements were not examined") {
		t.Errorf("shim 15.8: exit %d, want a refusal:\n%s", code, e)
	}
}

// TestEventlogVerifyShimOtherVersionPCR4: PCR 4 alone does not depend on
// shim's version (shim measures the next image as the firmware would), so
// a shim whose measurements were not examined still gets PCR 4 predicted.
func TestEventlogVerifyShimOtherVersionPCR4(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	data, err := os.ReadFile(f.tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "shim-15.8.efi")
	if err := os.WriteFile(other, bytes.Replace(data, []byte("$Version: 16.1 $"), []byte("$Version: 15.8 $"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "other", "--os-release", "ID=other", "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "4", "--bank", "sha256", "--loader", other)
	if code != 0 || !strings.Contains(out, "EV_EFI_BOOT_SERVICES_APPLICATION shim-15.8.efi (Authenticode digest)") {
		t.Errorf("measure --explain --pcrs 4 --loader shim-15.8.efi: exit %d\n%s%s", code, out, e)
	}
	code, _, e = runOurs("measure", efi, "--explain", "--pcrs", "4,14", "--bank", "sha256", "--loader", other)
	if code != 1 || !strings.Contains(e, "shim 15.8: its measurements were not examined") {
		t.Errorf("measure --explain --pcrs 4,14 --loader shim-15.8.efi: exit %d, want a refusal\n%s", code, e)
	}
}

// TestMeasureShimLoadImageHook: behind shim and systemd-boot, the UKI is
// verified by shim only when shim 16.1 hooks LoadImage, which it does
// when it carries a vendor certificate or dbx (shim.c, shim_init). A UKI
// signed by a MOK only is then authorized (MokListRT); behind a shim
// whose .vendor_cert table is emptied, the firmware verifies it against
// db and refuses it.
func TestMeasureShimLoadImageHook(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "sb")
	mokKey, mokCert := selfSignedKeyCert(t, dir, "mok")
	data, err := os.ReadFile(f.tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	// The table's first two words are the vendor certificate's and the
	// dbx's sizes (shim's cert.S); debug/pe finds the section.
	pf, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s := pf.Section(".vendor_cert")
	if s == nil {
		t.Fatal("debug/pe finds no .vendor_cert section in shimx64.efi")
	}
	bare := bytes.Clone(data)
	copy(bare[s.Offset:s.Offset+8], make([]byte, 8))
	sd := f.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262")
	signed := func(in, name, k, c string) string {
		out := filepath.Join(dir, name)
		if code, _, e := runOurs("sign", in, "-o", out, "--key", k, "--cert", c); code != 0 {
			t.Fatalf("sign %s: %s", name, e)
		}
		return out
	}
	bareIn := filepath.Join(dir, "bare-in.efi")
	if err := os.WriteFile(bareIn, bare, 0o644); err != nil {
		t.Fatal(err)
	}
	debianShim := signed(f.tools.Path(t, "UKIBUILD_SHIM_161"), "shimx64.efi", key, cert)
	bareShim := signed(bareIn, "bare.efi", key, cert)
	boot := signed(sd, "systemd-bootx64.efi", key, cert)
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "other", "--os-release", "ID=other",
		"--secureboot-private-key", mokKey, "--secureboot-certificate", mokCert, "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	for _, c := range []struct {
		shim  string
		hooks bool
	}{{debianShim, true}, {bareShim, false}} {
		code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "7", "--bank", "sha256", "--loader", c.shim, "--loader", boot,
			"--pk", cert, "--db", cert, "--owner-guid", "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55", "--mok", mokCert)
		refused := strings.Contains(out+e, "the firmware refuses the UKI")
		byMOK := strings.Contains(out, "variable MokListRT")
		if code != 0 || refused == c.hooks || byMOK != c.hooks {
			t.Errorf("%s: exit %d, firmware refusal %v, MokListRT authority %v (hooks LoadImage: %v):\n%s%s",
				filepath.Base(c.shim), code, refused, byMOK, c.hooks, out, e)
		}
	}
}

// TestMeasureShimVarsWithoutShim: --mok with PCR 7 asked and no loader
// that is shim is refused (nothing would read it); with PCR 4 only, a
// note says it changes nothing.
func TestMeasureShimVarsWithoutShim(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "sb")
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "other", "--os-release", "ID=other",
		"--secureboot-private-key", key, "--secureboot-certificate", cert, "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	boot := filepath.Join(dir, "systemd-bootx64.efi")
	if code, _, e := runOurs("sign", f.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), "-o", boot, "--key", key, "--cert", cert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	args := []string{"measure", efi, "--explain", "--bank", "sha256", "--loader", boot, "--pk", cert, "--db", cert,
		"--owner-guid", "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55", "--mok", cert}
	code, out, e := runOurs(append(args, "--pcrs", "7")...)
	if code != 1 || !strings.Contains(e, "no loader is shim") {
		t.Errorf("--pcrs 7 --mok without shim: exit %d, want 1 and a refusal:\n%s%s", code, out, e)
	}
	code, out, e = runOurs(append(args, "--pcrs", "4")...)
	if code != 0 || !strings.Contains(out+e, "neither PCR 7 nor PCR 14 is predicted") {
		t.Errorf("--pcrs 4 --mok: exit %d, want 0 and a note:\n%s%s", code, out, e)
	}
}
