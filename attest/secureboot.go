package attest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/shim"
)

// authorities are the db entries that authorized the images of a boot
// (secureboot.Result.Authorities as EFI_SIGNATURE_DATA); nil (no Secure
// Boot) has none.
type authorities struct {
	loaders [][][]byte
	// ukiEntries is nil when the firmware refuses the UKI (and so the
	// add-ons never load).
	ukiEntries [][]byte
	addons     [][][]byte
	// shimEvents are shim's PCR 7 events for the images it verified, by
	// their position in the chain (loaders, then the UKI); shimRefusal is
	// its refusal of one (nothing after it is verified).
	shimEvents  map[int][]eventlog.Event
	shimRefusal error
}

func (a *authorities) shimVerified(i int) []eventlog.Event {
	if a == nil {
		return nil
	}
	return a.shimEvents[i]
}

func (a *authorities) loader(i int) [][]byte {
	if a == nil {
		return nil
	}
	return a.loaders[i]
}

func (a *authorities) uki() [][]byte {
	if a == nil {
		return nil
	}
	return a.ukiEntries
}

func (a *authorities) addon(i int) [][]byte {
	if a == nil || a.ukiEntries == nil {
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

// notAuthorized is findAuthorities' error for an image the firmware
// verifies: a *NotAuthorizedError when the firmware refuses it (a
// *secureboot.Refusal), else the error as it is (the image could not be
// read, or the context stopped the read), which says nothing of db.
func notAuthorized(what, path string, err error) error {
	var r *secureboot.Refusal
	if !errors.As(err, &r) {
		return err
	}
	return &NotAuthorizedError{What: what, Path: path, Err: err}
}

// findAuthorities decides, as EDK2 does with db and dbx
// (secureboot.Authorize), whether the firmware runs each image it
// verifies: the loaders, the UKI, then the add-ons the stub loads through
// the firmware; and which db entries it logs for each. A loader or an
// add-on the firmware refuses is an error; a refused UKI is noted (nothing
// of it runs, so neither do its add-ons).
func (p *predictor) findAuthorities(ctx context.Context, addons []eventlog.Addon) (*authorities, error) {
	db, err := secureboot.ParseSignatureLists(p.m.SecureBoot.DB)
	if err != nil {
		return nil, fmt.Errorf("the Secure Boot db variable: %w", err)
	}
	dbx, err := secureboot.ParseSignatureLists(p.m.SecureBoot.DBX)
	if err != nil {
		return nil, fmt.Errorf("the Secure Boot dbx variable: %w", err)
	}
	authorize := func(path string) ([][]byte, error) {
		res, err := secureboot.AuthorizeFile(ctx, path, db, dbx)
		if err != nil {
			return nil, err
		}
		out := make([][]byte, len(res.Authorities))
		for i, e := range res.Authorities {
			out[i] = e.SignatureData()
		}
		return out, nil
	}
	a := &authorities{shimEvents: map[int][]eventlog.Event{}}
	// byShim verifies image i of the chain (a loader after shim, or the
	// UKI) as shim does: shim, not the firmware, verifies the image it
	// loads itself (the next one) and, when it hooks LoadImage
	// (shim.Boot.HooksLoadImage), the ones loaded after that; the
	// firmware verifies the others.
	byShim := func(i int, path string) (bool, error) {
		if p.shim == nil || i <= p.shimIndex || (i > p.shimIndex+1 && !p.shim.HooksLoadImage()) {
			return false, nil
		}
		_, evs, err := p.shim.VerifyFile(ctx, path)
		if errors.Is(err, shim.ErrRefused) {
			a.shimRefusal = err
			return true, nil
		}
		if err != nil {
			return true, err
		}
		a.shimEvents[i] = evs
		return true, nil
	}
	for i, l := range p.m.Loaders {
		if done, err := byShim(i, l); done || err != nil {
			if err != nil || a.shimRefusal != nil {
				return a, err
			}
			a.loaders = append(a.loaders, nil)
			continue
		}
		e, err := authorize(l)
		if err != nil {
			return nil, notAuthorized("boot loader", l, err)
		}
		a.loaders = append(a.loaders, e)
	}
	if done, err := byShim(len(p.m.Loaders), p.path); done || err != nil {
		return a, err
	}
	if a.ukiEntries, err = authorize(p.path); err != nil {
		var r *secureboot.Refusal
		if !errors.As(err, &r) {
			return nil, err
		}
		p.note("PCR 7: the firmware refuses the UKI under Secure Boot (%v), so nothing of it runs: no authority event is predicted for it or its add-ons", err)
		return a, nil
	}
	for _, ad := range addons {
		e, err := authorize(ad.Path)
		if err != nil {
			return nil, notAuthorized("add-on", ad.Path, err)
		}
		a.addons = append(a.addons, e)
	}
	return a, nil
}

// pcr7Stream hands out the firmware's PCR 7 events in the order it
// measures them: the Secure Boot configuration (the variables and the
// separator), then, as each image is verified, the db entry that
// authorized it unless that entry was measured before
// (eventlog.PCR7Events; DxeImageVerificationLib logs each entry once).
type pcr7Stream struct {
	p      *predictor
	vars   eventlog.SecureBootVariables
	config []eventlog.Event
	seen   [][]byte
}

func (p *predictor) newPCR7() *pcr7Stream {
	sb := p.m.SecureBoot
	vars := eventlog.SecureBootVariables{SecureBoot: !sb.Disabled, PK: sb.PK, KEK: sb.KEK, DB: sb.DB, DBX: sb.DBX}
	return &pcr7Stream{p: p, vars: vars, config: eventlog.PCR7Events(vars, nil, p.banks)}
}

// authority returns the authority events of an image authorized by
// entries: those not measured before.
func (s *pcr7Stream) authority(entries [][]byte) []eventlog.Event {
	var evs []eventlog.Event
	for _, entry := range entries {
		if slices.ContainsFunc(s.seen, func(e []byte) bool { return bytes.Equal(e, entry) }) {
			continue
		}
		s.seen = append(s.seen, entry)
		all := eventlog.PCR7Events(s.vars, [][]byte{entry}, s.p.banks)
		evs = append(evs, all[len(s.config):]...)
	}
	return evs
}
