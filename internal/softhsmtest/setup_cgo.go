//go:build cgo

package softhsmtest

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ThalesGroup/crypto11"
)

// Setup creates a new fixture (see the package documentation) in a new
// temporary directory and sets SOFTHSM2_CONF to its configuration. The
// caller removes it with Close.
func Setup() (*Fixture, error) {
	module := DefaultModule
	if v := os.Getenv("UKIBUILD_TEST_SOFTHSM_MODULE"); v != "" {
		module = v
	}
	if _, err := os.Stat(module); err != nil {
		return nil, fmt.Errorf("SoftHSM2 module %s is missing (apt-get install softhsm2): %w", module, err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, fmt.Errorf("softhsm2-util is missing (apt-get install softhsm2): %w", err)
	}
	dir, err := os.MkdirTemp("", "ukibuild-softhsm-")
	if err != nil {
		return nil, err
	}
	f := &Fixture{Dir: dir, Module: module, Conf: filepath.Join(dir, "softhsm2.conf"), CertPEM: filepath.Join(dir, "signer-cert.pem")}
	if err := f.populate(util); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

func (f *Fixture) populate(util string) error {
	tokens := filepath.Join(f.Dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return err
	}
	cfg := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(f.Conf, []byte(cfg), 0o600); err != nil {
		return err
	}
	// SoftHSM reads its configuration at C_Initialize, in this process and
	// in softhsm2-util alike.
	if err := os.Setenv("SOFTHSM2_CONF", f.Conf); err != nil {
		return err
	}
	for _, label := range []string{Token, OtherToken} {
		out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", "so-"+PIN).CombinedOutput()
		if err != nil {
			return fmt.Errorf("softhsm2-util --init-token %s: %v\n%s", label, err, out)
		}
	}

	ctx, err := crypto11.Configure(&crypto11.Config{Path: f.Module, TokenLabel: Token, Pin: PIN})
	if err != nil {
		return fmt.Errorf("crypto11 on %s: %w", Token, err)
	}
	if err := f.populateTest(ctx); err != nil {
		_ = ctx.Close()
		return err
	}
	if err := ctx.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", Token, err)
	}

	ctx, err = crypto11.Configure(&crypto11.Config{Path: f.Module, TokenLabel: OtherToken, Pin: PIN})
	if err != nil {
		return fmt.Errorf("crypto11 on %s: %w", OtherToken, err)
	}
	if _, err := ctx.GenerateRSAKeyPairWithLabel([]byte{1}, []byte("other"), 2048); err != nil {
		_ = ctx.Close()
		return fmt.Errorf("generating %s/other: %w", OtherToken, err)
	}
	return ctx.Close()
}

// populateTest makes the keys and the certificate on the ukibuild-test token.
func (f *Fixture) populateTest(ctx *crypto11.Context) error {
	signer, err := ctx.GenerateRSAKeyPairWithLabel([]byte{1}, []byte("signer"), 2048)
	if err != nil {
		return fmt.Errorf("generating %s/signer: %w", Token, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: CertCN},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return fmt.Errorf("self-signing on the token: %w", err)
	}
	if f.Cert, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	if err := os.WriteFile(f.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	if err := ctx.ImportCertificateWithLabel([]byte{1}, []byte("signer-cert"), f.Cert); err != nil {
		return fmt.Errorf("importing the certificate: %w", err)
	}
	if _, err := ctx.GenerateRSAKeyPairWithLabel([]byte{2}, []byte("nocert"), 2048); err != nil {
		return fmt.Errorf("generating %s/nocert: %w", Token, err)
	}
	if _, err := ctx.GenerateECDSAKeyPairWithLabel([]byte{3}, []byte("ec-key"), elliptic.P256()); err != nil {
		return fmt.Errorf("generating %s/ec-key: %w", Token, err)
	}
	return nil
}
