package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ukibuild/ukibuild/internal/keypass"
	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/sign/pkcs11"
)

type signCmd struct {
	Input        string   `arg:"" name:"in" help:"PE image to sign." type:"existingfile"`
	Output       string   `short:"o" help:"Output file; default: sign in place." placeholder:"FILE"`
	Key          string   `help:"Private key: a PEM file or a pkcs11: URI (or sign offline: --export-attributes, --attach-signature)." placeholder:"FILE|URI"`
	Export       string   `name:"export-attributes" help:"Offline signing, step 1: write the DER bytes to sign (the authenticated attributes) to FILE and print the digest algorithm; needs --cert, writes no image." placeholder:"FILE"`
	Attach       string   `name:"attach-signature" help:"Offline signing, step 2: attach the raw RSA PKCS#1 v1.5 signature in FILE of the exported bytes; needs --cert and the same options as step 1." placeholder:"FILE"`
	SignedData   string   `name:"signed-data" help:"With --attach-signature: the file step 1 wrote (--export-attributes, or systemd-sbsign's --prepare-offline-signing with --profile systemd-sbsign); its signing time is used, so SOURCE_DATE_EPOCH need not be repeated." placeholder:"FILE"`
	Cert         string   `help:"Signing certificate (PEM); default: the token's certificate for a pkcs11: key." placeholder:"FILE"`
	Chain        []string `help:"Intermediate certificates to embed; repeatable." sep:"none" placeholder:"FILE"`
	Hash         string   `enum:"sha256,sha384,sha512" default:"sha256" help:"Digest algorithm: sha256, sha384 or sha512."`
	Replace      bool     `help:"Drop existing signatures instead of adding another one."`
	Profile      string   `enum:"default,sbsign,osslsigncode,systemd-sbsign" default:"default" help:"Attribute set: default (reproducible), sbsign, osslsigncode or systemd-sbsign (as those tools write them)."`
	PKCS11Module string   `name:"pkcs11-module" help:"PKCS#11 module for a pkcs11: key without module-path (else $UKIBUILD_PKCS11_MODULE)." placeholder:"PATH"`
}

// loadSigner opens a PEM key or a pkcs11: URI and its certificate, from
// certPath or, for a token key, from the token (pkcs11.OpenSigningKey);
// the caller closes it. What is odd about the certificate but accepted by
// firmware (an expired one) is a warning.
func loadSigner(e *env, keyArg, certPath, module string) (*pkcs11.SigningKey, error) {
	k, err := pkcs11.OpenSigningKey(keyArg, certPath, pkcs11.EnvOptions(module), keypass.Passphrase, time.Now())
	keyName := "--key " + pkcs11.Redact(keyArg)
	certName := "the token's certificate"
	if certPath != "" {
		certName = "--cert " + certPath
	}
	var ke *pkcs11.SigningKeyError
	switch {
	case errors.Is(err, pkcs11.ErrCertificateNeeded):
		return nil, fmt.Errorf("no signing certificate: give --cert")
	case !errors.As(err, &ke):
	case ke.Defect == pkcs11.DefectTokenCertificate:
		return nil, fmt.Errorf("%w (give --cert)", ke.Err)
	case ke.Defect == pkcs11.DefectKey:
		return nil, fmt.Errorf("%s: %w", keyName, ke.Err)
	case ke.Defect == pkcs11.DefectCertificate:
		return nil, fmt.Errorf("%s: %w", certName, ke.Err)
	case ke.Defect == pkcs11.DefectMismatch:
		return nil, fmt.Errorf("%s does not match %s: %w", keyName, certName, ke.Err)
	}
	if err != nil {
		return nil, err
	}
	for _, w := range k.Warnings {
		e.warnf("%s: %s", certName, w)
	}
	return k, nil
}

// openKey opens a private key, a PEM file or a pkcs11: URI, for the Secure
// Boot and the PCR policy keys alike. A token's module is the URI's
// module-path, else module, else $UKIBUILD_PKCS11_MODULE; its PIN the URI's
// pin-source (or pin-value), else $UKIBUILD_PKCS11_PIN, else a prompt on
// the terminal: no option takes a PIN. closeFn releases a token key.
func openKey(keyArg, module string) (s crypto.Signer, closeFn func(), err error) {
	return pkcs11.OpenSigner(keyArg, pkcs11.EnvOptions(module), keypass.Passphrase)
}

// signOptions are the signature options of the sign verb and of build's
// Secure Boot signing, with the signing time of sign.Profile.SigningTime.
func signOptions(cert *x509.Certificate, chain []string, hash, profile string) (sign.Options, error) {
	p, err := sign.ParseProfile(profile)
	if err != nil {
		return sign.Options{}, err
	}
	opts := sign.Options{Certificate: cert, Profile: p}
	if opts.Hash, err = sign.ParseHash(hash); err != nil {
		return sign.Options{}, err
	}
	if opts.Chain, err = keys.Certificates(chain...); err != nil {
		return sign.Options{}, fmt.Errorf("certificate chain: %w", err)
	}
	if opts.SigningTime, err = p.SigningTime(os.Getenv("SOURCE_DATE_EPOCH"), time.Now()); err != nil {
		return sign.Options{}, err
	}
	return opts, nil
}

func (c *signCmd) Run(e *env) error {
	modes := 0
	for _, v := range []string{c.Key, c.Export, c.Attach} {
		if v != "" {
			modes++
		}
	}
	if modes != 1 {
		return fmt.Errorf("give exactly one of --key, --export-attributes and --attach-signature")
	}
	if c.SignedData != "" && c.Attach == "" {
		return fmt.Errorf("--signed-data goes with --attach-signature")
	}
	if c.Key == "" {
		return c.offline(e)
	}
	k, err := loadSigner(e, c.Key, c.Cert, c.PKCS11Module)
	if err != nil {
		return err
	}
	defer k.Close()
	opts, err := signOptions(k.Certificate, c.Chain, c.Hash, c.Profile)
	if err != nil {
		return err
	}
	opts.Replace = c.Replace
	out := c.Output
	if out == "" {
		out = c.Input
	}
	return sign.SignFile(context.Background(), c.Input, out, k.Signer, opts)
}

// offline is the two-step signing for keys that only sign a digest
// elsewhere (an HSM service, a smart card on another machine). Both steps
// must use the same signing time: SOURCE_DATE_EPOCH's in both, or (the
// sbsign, osslsigncode and systemd-sbsign profiles take the current time
// without it, as those tools do) the one in step 1's file, given to step 2
// as --signed-data. With --profile systemd-sbsign the files are those of
// systemd-sbsign's --prepare-offline-signing and --signed-data.
func (c *signCmd) offline(e *env) error {
	if c.Cert == "" {
		return fmt.Errorf("offline signing needs --cert")
	}
	if c.Attach != "" && c.SignedData == "" && c.Profile != "default" && os.Getenv("SOURCE_DATE_EPOCH") == "" {
		return fmt.Errorf("--attach-signature with the %s profile needs the signing time of step 1: give --signed-data (the file step 1 wrote) or the SOURCE_DATE_EPOCH step 1 ran with", c.Profile)
	}
	cert, err := keys.Certificate(c.Cert)
	if err != nil {
		return err
	}
	opts, err := signOptions(cert, c.Chain, c.Hash, c.Profile)
	if err != nil {
		return err
	}
	opts.Replace = c.Replace
	if c.Export != "" {
		if err := sign.ExportFile(context.Background(), c.Input, c.Export, opts); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", c.Hash)
		return nil
	}
	out := c.Output
	if out == "" {
		out = c.Input
	}
	err = sign.AttachFile(context.Background(), c.Input, out, c.Attach, c.SignedData, opts)
	var fe *sign.OfflineFileError
	if errors.As(err, &fe) {
		flag := "attach-signature"
		if fe.Field == sign.SignedDataFile {
			flag = "signed-data"
		}
		return fmt.Errorf("--%s %s: %w", flag, fe.File, fe.Err)
	}
	return err
}

type verifyCmd struct {
	File    string   `arg:"" help:"Signed PE image." type:"existingfile"`
	Cert    []string `help:"Trusted (db) certificate; repeatable. Without any, only the signatures' integrity is checked." sep:"none" placeholder:"FILE"`
	DBXCert []string `name:"dbx-cert" help:"Forbidden (dbx) certificate; repeatable." sep:"none" placeholder:"FILE"`
	DBXHash []string `name:"dbx-hash" help:"Forbidden image digest (hex); repeatable." sep:"none" placeholder:"HEX"`
	JSON    bool     `name:"json" help:"Print the report as JSON."`
}

func (c *verifyCmd) Run(e *env) error {
	var opts sign.VerifyOptions
	var err error
	if opts.DB, err = keys.Certificates(c.Cert...); err != nil {
		return err
	}
	if opts.DBX.Certificates, err = keys.Certificates(c.DBXCert...); err != nil {
		return err
	}
	for _, h := range c.DBXHash {
		d, err := hex.DecodeString(h)
		if err != nil {
			return fmt.Errorf("--dbx-hash %q: %w", h, err)
		}
		opts.DBX.ImageDigests = append(opts.DBX.ImageDigests, d)
	}
	report, verr := sign.VerifyFile(context.Background(), c.File, opts)
	if report != nil && c.JSON {
		b, _ := json.MarshalIndent(map[string]any{"file": c.File, "ok": verr == nil, "signatures": report.Summary()}, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else if report != nil {
		if err := report.WriteText(e.stdout); err != nil {
			return err
		}
	}
	if verr != nil {
		return verr // VerifyFile's errors name the file
	}
	fmt.Fprintf(e.stdout, "%s: verification succeeded\n", c.File)
	return nil
}
