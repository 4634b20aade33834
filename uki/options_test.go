package uki_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukibuild/ukibuild/pcrsig"
	"github.com/ukibuild/ukibuild/uki"
)

// pcrKeyFiles writes a PCR key pair and returns the file names.
func pcrKeyFiles(t testing.TB, dir string) (priv, pub string) {
	privPEM, pubPEM, err := pcrsig.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, "pcr.key"), filepath.Join(dir, "pcr.pub")
	if err := os.WriteFile(priv, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func contentBytes(t *testing.T, c uki.Content) []byte {
	t.Helper()
	r, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPCRKeyOptionsRefusals: ukify's refusals are *uki.OptionError values
// naming the option.
func TestPCRKeyOptionsRefusals(t *testing.T) {
	priv, pub := pcrKeyFiles(t, t.TempDir())
	for _, c := range []struct {
		opts   uki.PCRKeyOptions
		option string
	}{
		{uki.PCRKeyOptions{PrivateKeys: []string{priv}, PublicKeys: []string{pub}, Certificates: []string{pub}}, "--pcr-public-key"},
		{uki.PCRKeyOptions{PrivateKeys: []string{priv, priv}, PublicKeys: []string{pub}}, "--pcr-public-key"},
		{uki.PCRKeyOptions{PrivateKeys: []string{priv}, Phases: []string{"a", "b"}}, "--phases"},
		{uki.PCRKeyOptions{PrivateKeys: []string{priv}, Phases: []string{"enter-initrd:boot"}}, "--phases"},
		{uki.PCRKeyOptions{PrivateKeys: []string{priv}, PolicyRefs: []string{"a", "b"}}, "--policyref"},
		{uki.PCRKeyOptions{SignInitrdPCRs: true}, "--sign-initrd-pcrs"},
		{uki.PCRKeyOptions{PolicyDigest: true}, "--policy-digest"},
		{uki.PCRKeyOptions{PrivateKeys: []string{priv}, PolicyDigest: true}, "--pcr-private-key"},
		{uki.PCRKeyOptions{PrivateKeys: []string{filepath.Join(t.TempDir(), "missing")}}, "--pcr-private-key"},
		{uki.PCRKeyOptions{Banks: "sha256 md5"}, "--pcr-banks"},
	} {
		var cfg uki.Config
		err := c.opts.Apply(&cfg)
		var oe *uki.OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("%+v: error %v, want an *OptionError for %s", c.opts, err, c.option)
		}
	}
	var cfg uki.Config
	err := uki.PCRKeyOptions{PrivateKeys: []string{priv}, Phases: []string{"enter-initrd:boot"}}.Apply(&cfg)
	var pe *uki.PhaseError
	if !errors.As(err, &pe) || pe.Phase != "boot" || pe.Path != "enter-initrd:boot" {
		t.Errorf("error %v, want a *PhaseError for boot", err)
	}
}

// TestPCRKeyOptionsDefaults: --sign-initrd-pcrs adds the first group's key
// for enter-initrd with policy reference "initrd" and embeds the single
// group's key; --policy-digest embeds the --pcr-public-key file as it is.
func TestPCRKeyOptionsDefaults(t *testing.T) {
	priv, pub := pcrKeyFiles(t, t.TempDir())
	pubPEM, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	var cfg uki.Config
	if err := (uki.PCRKeyOptions{PrivateKeys: []string{priv}, Phases: []string{"sysinit,ready"}, SignInitrdPCRs: true}).Apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.PCRKeys) != 2 || !slices.Equal(cfg.PCRKeys[0].Phases, []string{"sysinit", "ready"}) ||
		!slices.Equal(cfg.PCRKeys[1].Phases, []string{"enter-initrd"}) || cfg.PCRKeys[1].PolicyRef != "initrd" ||
		cfg.PCRKeys[1].Signer != cfg.PCRKeys[0].Signer {
		t.Fatalf("key groups %+v", cfg.PCRKeys)
	}
	// The private key's public half, in PEM as the pub file holds it.
	if got := contentBytes(t, cfg.PCRPKey); !bytes.Equal(got, pubPEM) {
		t.Errorf(".pcrpkey %q, want %q", got, pubPEM)
	}

	cfg = uki.Config{}
	if err := (uki.PCRKeyOptions{PublicKeys: []string{pub}, PolicyDigest: true, SignInitrdPCRs: true, Banks: "sha1, sha256"}).Apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.PolicyDigestKey == nil || !cfg.PolicyDigestInitrd || len(cfg.PCRKeys) != 0 || len(cfg.PCRBanks) != 2 {
		t.Fatalf("config %+v", cfg)
	}
	if got := contentBytes(t, cfg.PCRPKey); !bytes.Equal(got, pubPEM) {
		t.Errorf(".pcrpkey %q, want the --pcr-public-key file", got)
	}
}

// ExamplePCRKeyOptions_Apply: ukify's --pcr-private-key, --phases and
// --sign-initrd-pcrs become key groups; the printed groups restate the
// options (the last one is the group --sign-initrd-pcrs adds).
func ExamplePCRKeyOptions_Apply() {
	dir, _ := os.MkdirTemp("", "pcrkeys")
	defer os.RemoveAll(dir)
	priv, _, _ := pcrsig.GenerateKey(nil)
	os.WriteFile(filepath.Join(dir, "pcr.key"), priv, 0o600)

	var cfg uki.Config
	err := uki.PCRKeyOptions{
		PrivateKeys:    []string{filepath.Join(dir, "pcr.key")},
		Phases:         []string{"enter-initrd:leave-initrd:sysinit:ready"},
		SignInitrdPCRs: true,
	}.Apply(&cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range cfg.PCRKeys {
		fmt.Printf("phases %q, policy reference %q\n", g.Phases, g.PolicyRef)
	}
	fmt.Println(".pcrpkey embedded:", cfg.PCRPKey != nil)

	err = uki.PCRKeyOptions{PrivateKeys: []string{"a.key"}, Phases: []string{"sysinit", "ready"}}.Apply(&cfg)
	fmt.Println(err)
	// Output:
	// phases ["enter-initrd:leave-initrd:sysinit:ready"], policy reference ""
	// phases ["enter-initrd"], policy reference "initrd"
	// .pcrpkey embedded: true
	// --phases specifications must match --pcr-private-key
}

// TestSecureBootOptions: ukify's refusals as *OptionError values, and the
// plan: the certificate to load and the signature profile.
func TestSecureBootOptions(t *testing.T) {
	yes := true
	for _, c := range []struct {
		o      uki.SecureBootOptions
		option string
	}{
		{uki.SecureBootOptions{Key: "k", Certificate: "c", CertificateName: "n"}, "--secureboot-certificate-name"},
		{uki.SecureBootOptions{Key: "k", Certificate: "c", Signtool: "pesign"}, "--signtool"},
		{uki.SecureBootOptions{Key: "k", Certificate: "c", Signtool: "osslsigncode"}, "--signtool"},
		{uki.SecureBootOptions{Certificate: "c"}, "--secureboot-certificate"},
		{uki.SecureBootOptions{Key: "k"}, "--secureboot-certificate"},
		{uki.SecureBootOptions{SignKernel: &yes}, "--sign-kernel"},
		{uki.SecureBootOptions{Key: "k", Certificate: "c", CertificateProvider: "pkcs11"}, "--certificate-provider"},
		{uki.SecureBootOptions{Key: "k", Certificate: "c", SigningEngine: "pkcs11"}, "--signing-engine"},
		{uki.SecureBootOptions{Key: "k", Certificate: "c", SigningProvider: "tpm2"}, "--signing-provider"},
		{uki.SecureBootOptions{Key: "pkcs11:object=a", Certificate: "pkcs11:object=b", Signtool: "systemd-sbsign", CertificateProvider: "pkcs11",
			CheckCertificateURI: func(k, c string) error { return errors.New("not the key's") }}, "--certificate-provider=pkcs11"},
	} {
		_, err := c.o.Check()
		var oe *uki.OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("%+v: error %v, want an *OptionError for %s", c.o, err, c.option)
		}
	}
	if p, err := (uki.SecureBootOptions{}).Check(); p != nil || err != nil {
		t.Errorf("no signing: %+v, %v", p, err)
	}
	p, err := uki.SecureBootOptions{Key: "k", Certificate: "c", Signtool: "systemd-sbsign"}.Check()
	if err != nil || p.Certificate != "c" || p.Profile != "systemd-sbsign" {
		t.Errorf("systemd-sbsign: %+v, %v", p, err)
	}
	p, err = uki.SecureBootOptions{Key: "pkcs11:object=a", Certificate: "pkcs11:object=a;type=cert", Signtool: "systemd-sbsign",
		CertificateProvider: "pkcs11", SignatureProfile: "sbsign", SigningEngine: "pkcs11"}.Check()
	if err != nil || p.Certificate != "" || p.Profile != "sbsign" {
		t.Errorf("certificate provider: %+v, %v", p, err)
	}
}
