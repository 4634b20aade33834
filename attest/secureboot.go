package attest

import (
	"bytes"
	"slices"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
)

// dbCert is an X.509 entry of db: the certificate and the
// EFI_SIGNATURE_DATA (owner GUID and DER) the firmware measures when it
// authorizes an image with it.
type dbCert struct {
	cert *x509.Certificate
	data []byte
}

// authorities are the db entries that authorized the images of a boot;
// nil (no Secure Boot) has none.
type authorities struct {
	loaders [][]byte
	// ukiEntry is nil when db does not authorize the UKI: the firmware
	// refuses it (and so the add-ons never load).
	ukiEntry []byte
	addons   [][]byte
}

func (a *authorities) loader(i int) []byte {
	if a == nil {
		return nil
	}
	return a.loaders[i]
}

func (a *authorities) uki() []byte {
	if a == nil {
		return nil
	}
	return a.ukiEntry
}

func (a *authorities) addon(i int) []byte {
	if a == nil || a.ukiEntry == nil {
		return nil
	}
	return a.addons[i]
}

// NotAuthorizedError says that db does not authorize an image the
// firmware would have to start: under Secure Boot it refuses it, and what
// is measured then is not predicted.
type NotAuthorizedError struct {
	// What names the image: "boot loader", "add-on".
	What, Path string
	Err        error
}

func (e *NotAuthorizedError) Error() string {
	return fmt.Sprintf("%s %s is not authorized by db: under Secure Boot the firmware refuses it, and what is measured then is not predicted: %v", e.What, e.Path, e.Err)
}

func (e *NotAuthorizedError) Unwrap() error { return e.Err }

// findAuthorities finds the db entry that authorizes each image the
// firmware verifies: the loaders, the UKI, then the add-ons the stub loads
// through the firmware (DxeImageVerificationLib). A loader or an add-on
// that db does not authorize is an error; a UKI that db does not authorize
// is noted (the firmware refuses it: nothing of it runs, so neither do
// its add-ons).
func (p *predictor) findAuthorities(addons []pcr.Addon) (*authorities, error) {
	db, err := dbCerts(p.m.SecureBoot.DB)
	if err != nil {
		return nil, fmt.Errorf("the Secure Boot db variable: %w", err)
	}
	a := &authorities{}
	for _, l := range p.m.Loaders {
		e, err := authority(l, db)
		if err != nil {
			return nil, &NotAuthorizedError{What: "boot loader", Path: l, Err: err}
		}
		a.loaders = append(a.loaders, e)
	}
	e, err := authority(p.path, db)
	if err != nil {
		p.note("PCR 7: the UKI is not authorized by db (the firmware would refuse it), so no authority event is predicted for it: %v", err)
		return a, nil
	}
	a.ukiEntry = e
	for _, ad := range addons {
		e, err := authority(ad.Path, db)
		if err != nil {
			return nil, &NotAuthorizedError{What: "add-on", Path: ad.Path, Err: err}
		}
		a.addons = append(a.addons, e)
	}
	return a, nil
}

// pcr7Stream hands out the firmware's PCR 7 events in the order it
// measures them: the Secure Boot configuration (the variables and the
// separator), then, as each image is verified, the db entry that
// authorized it unless that entry was measured before
// (pcr.PCR7Events; DxeImageVerificationLib logs each entry once).
type pcr7Stream struct {
	p      *predictor
	vars   pcr.SecureBootVariables
	config []pcr.Event
	seen   [][]byte
}

func (p *predictor) newPCR7(a *authorities) *pcr7Stream {
	sb := p.m.SecureBoot
	vars := pcr.SecureBootVariables{SecureBoot: !sb.Disabled, PK: sb.PK, KEK: sb.KEK, DB: sb.DB, DBX: sb.DBX}
	return &pcr7Stream{p: p, vars: vars, config: pcr.PCR7Events(vars, nil, p.banks)}
}

// authority returns the authority event of an image authorized by entry
// (none when entry is nil or was measured before).
func (s *pcr7Stream) authority(entry []byte) []pcr.Event {
	if entry == nil || slices.ContainsFunc(s.seen, func(e []byte) bool { return bytes.Equal(e, entry) }) {
		return nil
	}
	s.seen = append(s.seen, entry)
	evs := pcr.PCR7Events(s.vars, [][]byte{entry}, s.p.banks)
	return evs[len(s.config):]
}

// authority returns the db entry of the certificate that the first valid
// signature of the PE file at path chains to, as the firmware picks it.
func authority(path string, db []dbCert) ([]byte, error) {
	certs := make([]*x509.Certificate, len(db))
	for i, c := range db {
		certs[i] = c.cert
	}
	rep, err := sign.VerifyFile(path, sign.VerifyOptions{DB: certs})
	if err != nil {
		return nil, err
	}
	for _, s := range rep.Signatures {
		if s.OK() && s.TrustedBy != nil {
			// The firmware stops at the first signature that verifies.
			for _, c := range db {
				if c.cert.Equal(s.TrustedBy) {
					return c.data, nil
				}
			}
		}
	}
	return nil, errNoDBSignature
}

var errNoDBSignature = errors.New("no signature chains to a db certificate")
