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

// opensslEngine is the OpenSSL 3 engine of Debian's libengine-pkcs11-openssl
// (libp11 0.4.12 in bookworm), installed by .ci/deps.sh. sid's libcrypto
// (3.x, built with engine support) loads it from this, its ENGINESDIR, too.
const opensslEngine = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"

// TestUkifyPCRKeyPKCS11Engine: ukify 262.1 with --signing-engine=pkcs11
// signs the PCR policies with a key on a SoftHSM2 token through
// systemd-measure 262.1 (sid's, run through sid's loader and libcrypto),
// which loads bookworm's OpenSSL pkcs11 engine; ukibuild, given the same
// pkcs11: URI (its module from $UKIBUILD_PKCS11_MODULE, since libp11 0.4.12
// refuses a module-path attribute: "The private key ID is not a valid
// PKCS#11 URI"), writes the same bytes. systemd-measure needs a certificate
// beside an engine key ("When using --private-key-source=, --certificate=
// must be specified."), so --pcr-certificate is given. The engine's module
// is set with an OPENSSL_CONF (MODULE_PATH), so that neither tool depends
// on p11-kit's module registry.
func TestUkifyPCRKeyPKCS11Engine(t *testing.T) {
	f := getFixture(t)
	hsm := softhsmtest.Shared(t)
	if _, err := os.Stat(opensslEngine); err != nil {
		t.Fatalf("the OpenSSL PKCS #11 engine is missing (apt-get install libengine-pkcs11-openssl): %v", err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("softhsm2-util is missing (apt-get install softhsm2): %v", err)
	}
	tools := sidToolsDir(t, f)
	dir := t.TempDir()
	pemKey, _ := rsaKeyPEM(t, dir, "pcr")
	cert := selfSignedCert(t, dir, pemKey)
	label := "engine-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if out, err := exec.Command(util, "--import", pemKey, "--token", softhsmtest.Token, "--label", label, "--id", "a2",
		"--pin", softhsmtest.PIN).CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --import: %v\n%s", err, out)
	}
	conf := writeFile(dir, "openssl.cnf", []byte("openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n"+
		"[engine_section]\npkcs11 = pkcs11_section\n[pkcs11_section]\nengine_id = pkcs11\n"+
		"dynamic_path = "+opensslEngine+"\nMODULE_PATH = "+hsm.Module+"\n"))
	t.Setenv("OPENSSL_CONF", conf)
	t.Setenv("UKIBUILD_PKCS11_MODULE", hsm.Module)
	uri := "pkcs11:token=" + softhsmtest.Token + ";object=" + label + ";type=private?pin-value=" + softhsmtest.PIN

	args := []string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "quiet", "--os-release", "ID=test",
		"--pcr-banks", "sha1,sha256,sha384,sha512", "--signing-engine", "pkcs11", "--pcr-private-key", uri,
		"--pcr-certificate", cert, "--sign-initrd-pcrs"}
	ref, ours, pem := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi"), filepath.Join(dir, "pem.efi")
	if code, _, e := runUkify(t, f.tools, dir, append(args, "--tools", tools, "--output", ref)...); code != 0 {
		t.Fatalf("ukify with the pkcs11 engine: %s", e)
	}
	if code, _, e := runOurs(append(args, "--output", ours)...); code != 0 {
		t.Fatalf("ukibuild: %s", e)
	}
	compareFiles(t, ref, ours)
	// The token signed what the PEM key it was imported from signs.
	pemArgs := []string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "quiet", "--os-release", "ID=test",
		"--pcr-banks", "sha1,sha256,sha384,sha512", "--pcr-private-key", pemKey, "--pcr-certificate", cert, "--sign-initrd-pcrs", "--output", pem}
	if code, _, e := runOurs(pemArgs...); code != 0 {
		t.Fatalf("ukibuild with the PEM key: %s", e)
	}
	compareFiles(t, pem, ours)
	_, out, _ := runUkify(t, f.tools, dir, "inspect", ref, "--section", ".pcrsig:text", "--json=short")
	if n := strings.Count(out, `\"sig\"`); n != 20 {
		t.Errorf("ukify's .pcrsig has %d signatures, want 20 (4 banks × 4 phase paths, and 4 for the initrd): %s", n, out)
	}
}
