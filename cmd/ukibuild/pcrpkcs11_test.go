//go:build cgo

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/softhsmtest"
)

// TestPCRKeyPKCS11: a PCR policy key imported into a SoftHSM2 token and
// named by a pkcs11: URI (in --pcr-private-key, also with ukify's
// --signing-engine=pkcs11, in a configuration file's PCRPrivateKey= and in
// "measure sign --private-key") gives the same bytes
// as the PEM key it was imported from (RSASSA-PKCS1-v1_5 is
// deterministic). The PIN comes from $UKIBUILD_PKCS11_PIN.
func TestPCRKeyPKCS11(t *testing.T) {
	f := getFixture(t)
	hsm := softhsmtest.Shared(t)
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("softhsm2-util is missing (apt-get install softhsm2): %v", err)
	}
	dir := t.TempDir()
	pemKey, _ := rsaKeyPEM(t, dir, "pcr")
	// A label of its own, so that a second run in the same test binary
	// (-count=2) does not find two keys.
	label := "pcr-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if out, err := exec.Command(util, "--import", pemKey, "--token", softhsmtest.Token, "--label", label, "--id", "a1",
		"--pin", softhsmtest.PIN).CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --import: %v\n%s", err, out)
	}
	uri := hsm.URI("token="+softhsmtest.Token+";object="+label+";type=private", "")
	t.Setenv("UKIBUILD_PKCS11_PIN", softhsmtest.PIN)

	build := func(name string, args ...string) string {
		t.Helper()
		out := filepath.Join(dir, name+".efi")
		args = append([]string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "quiet", "--os-release", "ID=test",
			"--pcr-banks", "sha256", "--output", out}, args...)
		if code, _, e := runOurs(args...); code != 0 {
			t.Fatalf("build %s: %s", name, e)
		}
		return out
	}
	pem := build("pem", "--pcr-private-key", pemKey, "--sign-initrd-pcrs")
	compareFiles(t, pem, build("token", "--pcr-private-key", uri, "--sign-initrd-pcrs"))
	// ukify's way of saying the key is on a token.
	compareFiles(t, pem, build("engine", "--signing-engine", "pkcs11", "--pcr-private-key", uri, "--sign-initrd-pcrs"))

	conf := func(key string) string {
		return writeFile(dir, "pcr-"+strconv.Itoa(len(key))+".conf", []byte("[PCRSignature:a]\nPCRPrivateKey="+key+"\nPhases=enter-initrd\n"))
	}
	compareFiles(t, build("conf-pem", "--config", conf(pemKey)), build("conf-token", "--config", conf(uri)))

	measureSign := func(key string) string {
		t.Helper()
		code, out, e := runOurs("measure", "sign", "--linux", f.kernel, "--osrel", filepath.Join(f.dir, "os-release"), "--bank", "sha256", "--private-key", key)
		if code != 0 {
			t.Fatalf("measure sign --private-key %s: %s", key, e)
		}
		return out
	}
	if a, b := measureSign(pemKey), measureSign(uri); a != b || !strings.Contains(a, "sig") {
		t.Errorf("measure sign: the token key's policies differ from the PEM key's:\n%s\n%s", a, b)
	}

	// A URI that matches no key fails, naming it, and writes nothing.
	out := filepath.Join(dir, "absent.efi")
	absent := hsm.URI("token="+softhsmtest.Token+";object=absent;type=private", "")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--pcr-private-key", absent, "--output", out); code == 0 ||
		!strings.Contains(e, "--pcr-private-key") || !strings.Contains(e, "absent") {
		t.Errorf("a URI matching no key: exit %d, %q", code, e)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output file was written")
	}
}
