package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/sign/pkcs11"
)

// genkeyCmd is ukify's genkey: the key options of build name the files to
// create.
type genkeyCmd struct {
	SBKey      string   `name:"secureboot-private-key" help:"Secure Boot private key to create (with --secureboot-certificate)." placeholder:"FILE"`
	SBCert     string   `name:"secureboot-certificate" help:"Self-signed Secure Boot certificate to create." placeholder:"FILE"`
	CommonName *string  `name:"secureboot-certificate-common-name" help:"Common name of the certificate; default 'SecureBoot signing key on host HOSTNAME'." placeholder:"CN"`
	Validity   int      `name:"secureboot-certificate-validity" default:"3650" help:"Validity of the certificate in days." placeholder:"DAYS"`
	PCRPrivate []string `name:"pcr-private-key" help:"PCR signing key to create; repeatable." sep:"none" placeholder:"FILE"`
	PCRPublic  []string `name:"pcr-public-key" help:"Public key of the matching --pcr-private-key to create." sep:"none" placeholder:"FILE"`
}

func (g *genkeyCmd) Run(e *env) error {
	type file struct {
		path string
		perm fs.FileMode
		data []byte
		what string
	}
	var files []file
	switch {
	case (g.SBKey == "") != (g.SBCert == ""):
		return fmt.Errorf("--secureboot-private-key and --secureboot-certificate must be given together")
	case len(g.PCRPublic) > len(g.PCRPrivate):
		return fmt.Errorf("--pcr-public-key specifications must match --pcr-private-key")
	}
	// A pkcs11: URI names a key on a token, which genkey does not make
	// (ukify 262.1 writes a PEM file named like the URI).
	for _, k := range append([]string{g.SBKey, g.SBCert}, g.PCRPrivate...) {
		if strings.HasPrefix(k, "pkcs11:") {
			return fmt.Errorf("%s: genkey writes key files; a key on a PKCS #11 token is made with the token's own tools (pkcs11-tool --keypairgen, softhsm2-util), then used by its URI", pkcs11.Redact(k))
		}
	}
	if g.SBKey != "" {
		cn := ""
		if g.CommonName != nil {
			cn = *g.CommonName
			if cn == "" {
				return fmt.Errorf("--secureboot-certificate-common-name must not be empty")
			}
			if len(cn) > sign.CommonNameMaxLen {
				return fmt.Errorf("--secureboot-certificate-common-name is longer than %d bytes: %q", sign.CommonNameMaxLen, cn)
			}
		} else {
			host, err := os.Hostname()
			if err != nil {
				host = "localhost"
			}
			if cn = "SecureBoot signing key on host " + host; len(cn) > sign.CommonNameMaxLen {
				cn = cn[:sign.CommonNameMaxLen-3] + "..."
			}
		}
		key, cert, err := sign.GenerateKeyCertificate(nil, cn, g.Validity, time.Now())
		if err != nil {
			return err
		}
		files = append(files, file{g.SBKey, 0o600, key, "SecureBoot private key"}, file{g.SBCert, 0o644, cert, "SecureBoot certificate"})
	}
	for i, p := range g.PCRPrivate {
		priv, pub, err := pcr.GenerateKey(nil)
		if err != nil {
			return err
		}
		files = append(files, file{p, 0o600, priv, "private key for PCR signing"})
		if i < len(g.PCRPublic) && g.PCRPublic[i] != "" {
			files = append(files, file{g.PCRPublic[i], 0o644, pub, "public key for PCR signing"})
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("genkey: --secureboot-private-key/--secureboot-certificate or --pcr-private-key/--pcr-public-key must be given")
	}
	// Nothing is written when any file exists (ukify's rule), so that a
	// key in use is never replaced.
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return fmt.Errorf("%s exists; genkey never replaces a key or certificate", f.path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, f := range files {
		fmt.Fprintf(e.stderr, "Writing %s to %s\n", f.what, f.path)
		if err := atomicfile.Write(f.path, f.perm, func(w *os.File) error {
			_, err := w.Write(f.data)
			return err
		}); err != nil {
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return nil
}
