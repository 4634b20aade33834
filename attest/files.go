package attest

import (
	"fmt"
	"os"
	"strconv"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/uefi"
)

// SecureBootFiles names the files that hold a machine's Secure Boot
// variables, each in any form secureboot.ReadFile reads: certificates as
// PEM or DER (one EFI_SIGNATURE_LIST each, owned by Owner, as virt-fw-vars
// and efi-updatevar enroll them), EFI signature lists (.esl) or a signed
// update (.auth, whose signature is not checked).
type SecureBootFiles struct {
	// PK is the platform key's file ("": the variable does not exist).
	PK string
	// KEK, DB and DBX are the files of each variable, in enrolment order:
	// their contents are concatenated.
	KEK, DB, DBX []string
	// Owner is the owner GUID of the certificates; nil refuses a
	// certificate (secureboot.ErrNoOwner).
	Owner *uefi.GUID
	// Disabled: the SecureBoot variable is 0 (SecureBoot.Disabled).
	Disabled bool
}

// VariableFileError is a file of a variable that could not be read: Err
// (matchable with errors.Is, e.g. secureboot.ErrNoOwner) names File.
type VariableFileError struct {
	// Variable is "PK", "KEK", "db" or "dbx".
	Variable string
	// File is the file given for it.
	File string
	Err  error
}

func (e *VariableFileError) Error() string { return e.Variable + ": " + e.Err.Error() }

func (e *VariableFileError) Unwrap() error { return e.Err }

// ReadSecureBoot reads the variables' files into a SecureBoot (for
// Machine.SecureBoot); an error is a *VariableFileError.
func ReadSecureBoot(f SecureBootFiles) (*SecureBoot, error) {
	sb := &SecureBoot{Disabled: f.Disabled}
	var pk []string
	if f.PK != "" {
		pk = []string{f.PK}
	}
	for _, v := range []struct {
		name  string
		files []string
		dst   *[]byte
	}{{"PK", pk, &sb.PK}, {"KEK", f.KEK, &sb.KEK}, {"db", f.DB, &sb.DB}, {"dbx", f.DBX, &sb.DBX}} {
		for _, file := range v.files {
			d, err := secureboot.ReadFile(file, f.Owner)
			if err != nil {
				return nil, &VariableFileError{Variable: v.name, File: file, Err: err}
			}
			*v.dst = append(*v.dst, d.Bytes()...)
		}
	}
	return sb, nil
}

// PickError is a .dtbauto or .efifw pick that is neither an index nor
// "none" (ParsePick).
type PickError struct{ Value string }

func (e *PickError) Error() string { return fmt.Sprintf("%q is not an index or 'none'", e.Value) }

// ParsePick parses the pick of a .dtbauto or .efifw section
// (Machine.DTBAuto, Machine.EFIFW): nil for "" (not known), -1 for
// "none", else the index (0 is the profile's first); anything else is a
// *PickError.
func ParsePick(s string) (*int, error) {
	if s == "" {
		return nil, nil
	}
	i := -1
	if s != "none" {
		var err error
		if i, err = strconv.Atoi(s); err != nil || i < 0 {
			return nil, &PickError{Value: s}
		}
	}
	return &i, nil
}

// ReferenceFiles are the files Reference.WriteFiles writes; "" leaves
// one out.
type ReferenceFiles struct {
	// PCRLock is a systemd-pcrlock component of the reference's PCRs
	// (Reference.PCRLock).
	PCRLock string
	// Keylime is Keylime's tpm_policy (Reference.KeylimePolicy) of bank
	// KeylimeBank.
	Keylime     string
	KeylimeBank pcr.Bank
}

// ReferenceFileError is a file of ReferenceFiles whose contents could not
// be made from the reference (no file was written then).
type ReferenceFileError struct {
	Field ReferenceFile // PCRLockFile or KeylimeFile
	Err   error
}

// ReferenceFile names a file of ReferenceFiles.
type ReferenceFile string

// The files of a ReferenceFileError.
const (
	PCRLockFile ReferenceFile = "PCRLock" // ReferenceFiles.PCRLock
	KeylimeFile ReferenceFile = "Keylime" // ReferenceFiles.Keylime
)

func (e *ReferenceFileError) Error() string { return string(e.Field) + ": " + e.Err.Error() }

func (e *ReferenceFileError) Unwrap() error { return e.Err }

// WriteFiles writes the files of f, each replaced atomically (a failure
// leaves the old file, if any, in place). All contents are made before
// any file is written, so that a reference that cannot be expressed in one
// of the forms (a *ReferenceFileError) writes none.
func (r *Reference) WriteFiles(f ReferenceFiles) error {
	var lock, keylime []byte
	var err error
	if f.PCRLock != "" {
		if lock, err = r.PCRLock(nil); err != nil {
			return &ReferenceFileError{Field: PCRLockFile, Err: err}
		}
	}
	if f.Keylime != "" {
		if keylime, err = r.KeylimePolicy(f.KeylimeBank); err != nil {
			return &ReferenceFileError{Field: KeylimeFile, Err: err}
		}
	}
	for _, o := range []struct {
		path string
		data []byte
	}{{f.PCRLock, lock}, {f.Keylime, keylime}} {
		if o.path == "" {
			continue
		}
		if err := atomicfile.Write(o.path, 0o644, func(out *os.File) error {
			_, err := out.Write(o.data)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
