package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/keys/genkey"
	"github.com/ukibuild/ukibuild/sign/pkcs11"
)

// genkeyCmd is ukify's genkey: the key options of build name the files to
// create (package keys/genkey).
type genkeyCmd struct {
	SBKey      string   `name:"secureboot-private-key" help:"Secure Boot private key to create (with --secureboot-certificate)." placeholder:"FILE"`
	SBCert     string   `name:"secureboot-certificate" help:"Self-signed Secure Boot certificate to create." placeholder:"FILE"`
	CommonName *string  `name:"secureboot-certificate-common-name" help:"Common name of the certificate; default 'SecureBoot signing key on host HOSTNAME'." placeholder:"CN"`
	Validity   int      `name:"secureboot-certificate-validity" default:"3650" help:"Validity of the certificate in days." placeholder:"DAYS"`
	PCRPrivate []string `name:"pcr-private-key" help:"PCR signing key to create; repeatable." sep:"none" placeholder:"FILE"`
	PCRPublic  []string `name:"pcr-public-key" help:"Public key of the matching --pcr-private-key to create." sep:"none" placeholder:"FILE"`
}

func (g *genkeyCmd) Run(e *env) error {
	files, err := genkey.Make(genkey.Options{SecureBootKey: g.SBKey, SecureBootCertificate: g.SBCert, CommonName: g.CommonName,
		ValidityDays: g.Validity, PCRPrivateKeys: g.PCRPrivate, PCRPublicKeys: g.PCRPublic})
	var te *genkey.TokenURIError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: %s", pkcs11.Redact(te.URI), te.Reason())
	}
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(e.stderr, "Writing %s to %s\n", f.What, f.Path)
		if err := atomicfile.Write(f.Path, f.Perm, func(w *os.File) error {
			_, err := w.Write(f.Data)
			return err
		}); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	return nil
}
