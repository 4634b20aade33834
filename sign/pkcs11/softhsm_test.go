//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ukibuild/ukibuild/internal/softhsmtest"
)

// The SoftHSM2 fixture (internal/softhsmtest): two tokens in a private
// token directory, set up once for the test binary.
const (
	testPIN   = softhsmtest.PIN
	testToken = softhsmtest.Token
	otherTok  = softhsmtest.OtherToken
)

var fx *softhsmtest.Fixture

// softhsm sets up the fixture once and fails the test (never skips it)
// when SoftHSM2 is not installed.
func softhsm(t testing.TB) {
	t.Helper()
	fx = softhsmtest.Shared(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.RemoveShared()
	os.Exit(code)
}

// uri builds a pkcs11: URI for the fixture's module.
func uri(path, query string) string {
	return fx.URI(path, query)
}

func open(t testing.TB, u string, opts Options) *Key {
	t.Helper()
	return openWith(t, u, opts, false)
}

func openWith(t testing.TB, u string, opts Options, forceRawRSA bool) *Key {
	t.Helper()
	k, err := openKey(u, opts, forceRawRSA)
	if err != nil {
		t.Fatalf("Open(%s): %v", Redact(u), err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return k
}

func signVerify(t *testing.T, k *Key, h crypto.Hash) []byte {
	t.Helper()
	hh := h.New()
	hh.Write([]byte("ukibuild PKCS #11 test message"))
	digest := hh.Sum(nil)
	sig, err := k.Sign(rand.Reader, digest, h)
	if err != nil {
		t.Fatalf("Sign(%v): %v", h, err)
	}
	pub, ok := k.Public().(*rsa.PublicKey)
	if !ok {
		t.Fatalf("Public() is %T", k.Public())
	}
	if len(sig) != pub.Size() {
		t.Errorf("signature is %d bytes, want %d", len(sig), pub.Size())
	}
	if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
		t.Errorf("signature (%v) does not verify with the token's public key: %v", h, err)
	}
	return sig
}

func TestSignVerify(t *testing.T) {
	softhsm(t)
	k := open(t, uri("token="+testToken+";object=signer;type=private", "pin-value="+testPIN), Options{})
	var _ crypto.Signer = k
	if got := k.Mechanism(); got != MechanismPKCS1 {
		t.Errorf("Mechanism() = %s, want %s", got, MechanismPKCS1)
	}
	if pub := k.Public().(*rsa.PublicKey); pub.N.BitLen() != 2048 {
		t.Errorf("key has %d bits, want 2048", pub.N.BitLen())
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		signVerify(t, k, h)
	}
	if tok := k.Token(); tok.Label != testToken || tok.Serial == "" {
		t.Errorf("Token() = %+v", tok)
	}
	if s := k.String(); !strings.Contains(s, `object="signer"`) || !strings.Contains(s, testToken) {
		t.Errorf("String() = %q", s)
	}
	if strings.Contains(k.URI(), testPIN) || !strings.Contains(k.URI(), "pin-value=REDACTED") {
		t.Errorf("URI() = %q, want the pin-value redacted", k.URI())
	}

	// The certificate made on the token verifies with the key's public key.
	cert, err := k.Certificate()
	if err != nil {
		t.Fatalf("Certificate: %v", err)
	}
	if cert.Subject.CommonName != softhsmtest.CertCN {
		t.Errorf("certificate subject %q", cert.Subject)
	}
	if !cert.Equal(fx.Cert) {
		t.Error("the token's certificate is not the one the fixture wrote to its PEM file")
	}
	if !cert.PublicKey.(*rsa.PublicKey).Equal(k.Public()) {
		t.Error("certificate's public key is not the key's")
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("self-signed certificate does not verify: %v", err)
	}
	digest := sha256.Sum256([]byte("verified through the certificate"))
	sig, err := k.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature does not verify with the certificate: %v", err)
	}
}

// A token offering only raw RSA is handled by building the PKCS #1 v1.5
// encoding here; PKCS #1 v1.5 is deterministic, so the result must equal
// the token's own CKM_RSA_PKCS signature byte for byte.
func TestRawRSAEqualsPKCS1(t *testing.T) {
	softhsm(t)
	u := uri("token="+testToken+";id=%01", "pin-value="+testPIN)
	pkcs1 := open(t, u, Options{})
	raw := openWith(t, u, Options{}, true)
	if got := raw.Mechanism(); got != MechanismRawRSA {
		t.Fatalf("Mechanism() = %s, want %s", got, MechanismRawRSA)
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		a, b := signVerify(t, pkcs1, h), signVerify(t, raw, h)
		if string(a) != string(b) {
			t.Errorf("%v: %s and %s signatures differ", h, MechanismPKCS1, MechanismRawRSA)
		}
	}
}

func TestPINSource(t *testing.T) {
	softhsm(t)
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(testPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"file:" + pinFile, "file://" + pinFile, pinFile} {
		t.Run(src, func(t *testing.T) {
			k := open(t, uri("token="+testToken+";object=signer", "pin-source="+src), Options{
				PIN: func(TokenInfo) (string, error) { t.Error("PIN callback called despite pin-source"); return "", nil },
			})
			signVerify(t, k, crypto.SHA256)
		})
	}

	_, err := Open(uri("token="+testToken+";object=signer", "pin-source=file:"+filepath.Join(dir, "missing")), Options{})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing PIN file: err = %v", err)
	}
}

func TestPINCallback(t *testing.T) {
	softhsm(t)
	var asked []TokenInfo
	k := open(t, uri("object=signer;token="+testToken, ""), Options{PIN: func(tok TokenInfo) (string, error) {
		asked = append(asked, tok)
		return testPIN, nil
	}})
	signVerify(t, k, crypto.SHA256)
	if len(asked) != 1 || asked[0].Label != testToken {
		t.Errorf("PIN callback asked for %+v, want once for %s", asked, testToken)
	}

	t.Setenv(EnvPIN, testPIN)
	k2 := open(t, uri("object=signer;token="+testToken, ""), Options{PIN: PINFromEnv(nil)})
	signVerify(t, k2, crypto.SHA256)

	_, err := Open(uri("object=signer;token="+testToken, ""), Options{})
	if !errors.Is(err, ErrNoPIN) || !strings.Contains(err.Error(), testToken) {
		t.Errorf("no PIN anywhere: err = %v, want ErrNoPIN naming the token", err)
	}
}

func TestWrongPIN(t *testing.T) {
	softhsm(t)
	const wrong = "wrong-pin-5150"
	for name, opts := range map[string]struct {
		uri  string
		opts Options
	}{
		"pin-value": {uri("token="+testToken+";object=signer", "pin-value="+wrong), Options{}},
		"callback":  {uri("token="+testToken+";object=signer", ""), Options{PIN: func(TokenInfo) (string, error) { return wrong, nil }}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(opts.uri, opts.opts)
			if !errors.Is(err, ErrPINIncorrect) {
				t.Fatalf("err = %v, want ErrPINIncorrect", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "PIN incorrect") || !strings.Contains(msg, testToken) {
				t.Errorf("message %q does not say the PIN is incorrect for token %s", msg, testToken)
			}
			if strings.Contains(msg, wrong) {
				t.Errorf("message %q contains the PIN", msg)
			}
		})
	}
	// The token still works with the right PIN afterwards.
	k := open(t, uri("token="+testToken+";object=signer", "pin-value="+testPIN), Options{})
	signVerify(t, k, crypto.SHA256)
}

func TestNoMatchingKey(t *testing.T) {
	softhsm(t)
	for _, tc := range []struct{ path, want string }{
		{"token=" + testToken + ";object=no-such-key", "object=no-such-key"},
		{"token=" + testToken + ";id=%7f", "id=%7f"},
		{"token=" + testToken + ";object=signer;id=%02", "object=signer;id=%02"},
	} {
		_, err := Open(uri(tc.path, "pin-value="+testPIN), Options{})
		if !errors.Is(err, ErrKeyNotFound) {
			t.Errorf("%s: err = %v, want ErrKeyNotFound", tc.path, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "pin-value=REDACTED") || strings.Contains(msg, testPIN) {
			t.Errorf("%s: message %q should name the URI with the PIN redacted", tc.path, msg)
		}
	}

	_, err := Open(uri("token="+testToken+";object=ec-key", "pin-value="+testPIN), Options{})
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), "RSA") {
		t.Errorf("EC key: err = %v, want ErrKeyNotFound saying only RSA is supported", err)
	}

	_, err = Open(uri("token="+testToken, "pin-value="+testPIN), Options{})
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), `"signer"`) || !strings.Contains(err.Error(), `"nocert"`) {
		t.Errorf("two RSA keys: err = %v, want ErrKeyNotFound listing both", err)
	}

	_, err = Open(uri("token="+testToken+";object=signer;type=cert", "pin-value="+testPIN), Options{})
	if err == nil || !strings.Contains(err.Error(), "type=private") {
		t.Errorf("type=cert: err = %v", err)
	}
}

func TestTokenSelection(t *testing.T) {
	softhsm(t)
	_, err := Open(uri("token=no-such-token;object=signer", "pin-value="+testPIN), Options{})
	if !errors.Is(err, ErrTokenNotFound) || !strings.Contains(err.Error(), "token=no-such-token") ||
		!strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testPIN) {
		t.Errorf("unknown token: err = %v, want ErrTokenNotFound listing the tokens, PIN redacted", err)
	}

	_, err = Open(uri("object=signer", "pin-value="+testPIN), Options{})
	if !errors.Is(err, ErrTokenNotFound) || !strings.Contains(err.Error(), "2 tokens") {
		t.Errorf("two tokens: err = %v, want ErrTokenNotFound saying 2 match", err)
	}

	// Select by serial and manufacturer instead of label; without id or
	// object the one key pair on the token is taken.
	first := open(t, uri("token="+otherTok, "pin-value="+testPIN), Options{})
	serial := first.Token().Serial
	k := open(t, uri("serial="+serial+";manufacturer=SoftHSM%20project", "pin-value="+testPIN), Options{})
	if k.Token().Label != otherTok || !strings.Contains(k.String(), `"other"`) {
		t.Errorf("selected %s, want the key on %s", k, otherTok)
	}
	signVerify(t, k, crypto.SHA256)

	_, err = Open(uri("token="+otherTok+";library-manufacturer=Nobody", "pin-value="+testPIN), Options{})
	if !errors.Is(err, ErrTokenNotFound) || !strings.Contains(err.Error(), "SoftHSM") {
		t.Errorf("library mismatch: err = %v", err)
	}
}

func TestModule(t *testing.T) {
	softhsm(t)
	_, err := Open("pkcs11:token=x?module-path=/nonexistent/libnothing.so&pin-value=1", Options{})
	if !errors.Is(err, ErrModuleNotFound) || !strings.Contains(err.Error(), "/nonexistent/libnothing.so") {
		t.Errorf("missing module: err = %v", err)
	}
	notLib := filepath.Join(t.TempDir(), "not-a-module.so")
	if err := os.WriteFile(notLib, []byte("not ELF"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open("pkcs11:token=x?module-path="+notLib, Options{})
	if !errors.Is(err, ErrModuleNotFound) || !strings.Contains(err.Error(), "could not be loaded") {
		t.Errorf("not a module: err = %v", err)
	}
	_, err = Open("pkcs11:token=x;object=y", Options{})
	if !errors.Is(err, ErrNoModule) || !strings.Contains(err.Error(), EnvModule) {
		t.Errorf("no module: err = %v", err)
	}

	// Options.ModulePath is used when the URI has no module-path, and the
	// URI's module-path wins over it.
	k := open(t, "pkcs11:token="+testToken+";object=signer?pin-value="+testPIN, Options{ModulePath: fx.Module})
	signVerify(t, k, crypto.SHA256)
	k2 := open(t, uri("token="+testToken+";object=signer", "pin-value="+testPIN), Options{ModulePath: "/nonexistent.so"})
	signVerify(t, k2, crypto.SHA256)

	// The same module under another name (Debian's path is a symlink)
	// while keys opened through the first name are still open.
	real, err := filepath.EvalSymlinks(fx.Module)
	if err != nil {
		t.Fatal(err)
	}
	k4 := open(t, "pkcs11:token="+testToken+";object=signer?pin-value="+testPIN, Options{ModulePath: real})
	signVerify(t, k4, crypto.SHA256)
	signVerify(t, k, crypto.SHA256)

	t.Setenv(EnvModule, fx.Module)
	t.Setenv(EnvPIN, testPIN)
	k3 := open(t, "pkcs11:token="+testToken+";object=signer", EnvOptions(""))
	signVerify(t, k3, crypto.SHA512)
}

func TestCertificate(t *testing.T) {
	softhsm(t)
	k := open(t, uri("token="+testToken+";object=nocert", "pin-value="+testPIN), Options{})
	if _, err := k.Certificate(); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("key without certificate: err = %v, want ErrNoCertificate", err)
	}
}

func TestSignOptions(t *testing.T) {
	softhsm(t)
	k := open(t, uri("token="+testToken+";object=signer", "pin-value="+testPIN), Options{})
	d256 := sha256.Sum256(nil)
	d512 := sha512.Sum512(nil)
	for name, tc := range map[string]struct {
		digest []byte
		opts   crypto.SignerOpts
		want   string
	}{
		"PSS":       {d256[:], &rsa.PSSOptions{Hash: crypto.SHA256}, "PSS"},
		"SHA-1":     {d256[:20], crypto.SHA1, "not supported"},
		"length":    {d512[:], crypto.SHA256, "64 bytes"},
		"nil opts":  {d256[:], nil, "SignerOpts"},
		"no hash":   {d256[:], crypto.Hash(0), "not supported"},
		"SHA3-256?": {d256[:], crypto.SHA3_256, "not supported"},
	} {
		if _, err := k.Sign(nil, tc.digest, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", name, err, tc.want)
		}
	}
}

// Keys on the same module open at once share it: closing one leaves the
// other working, and Close is idempotent.
func TestConcurrentKeys(t *testing.T) {
	softhsm(t)
	a, err := Open(uri("token="+testToken+";object=signer", "pin-value="+testPIN), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, uri("token="+otherTok, "pin-value="+testPIN), Options{})
	c := openWith(t, uri("token="+testToken+";object=nocert", "pin-value="+testPIN), Options{}, true)

	var wg sync.WaitGroup
	for _, k := range []*Key{a, b, c, a, b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				signVerify(t, k, crypto.SHA256)
			}
		}()
	}
	wg.Wait()

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := a.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Sign after Close: err = %v", err)
	}
	signVerify(t, b, crypto.SHA384)
	signVerify(t, c, crypto.SHA384)
}
