package sign

import (
	"context"
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
)

// OfflineFile names the files AttachFile takes besides the image.
type OfflineFile string

// The files of an OfflineFileError.
const (
	// SignedDataFile is step 1's signed attributes (ExportFile's output).
	SignedDataFile OfflineFile = "SignedData"
	// SignatureFile is the signature made over them.
	SignatureFile OfflineFile = "Signature"
)

// OfflineFileError is a file given to AttachFile that is not what it
// should be: step 1's signed attributes (SignedDataFile: not this image's
// and options') or the signature (SignatureFile: not one of those bytes by
// the certificate's key).
type OfflineFileError struct {
	Field OfflineFile // SignedDataFile or SignatureFile
	File  string
	Err   error
}

func (e *OfflineFileError) Error() string { return e.File + ": " + e.Err.Error() }

func (e *OfflineFileError) Unwrap() error { return e.Err }

// openRequest opens the image at path for a Request; the caller closes
// the file once the request is written.
func openRequest(ctx context.Context, path string, opts Options) (*Request, *os.File, os.FileMode, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := in.Stat()
	if err != nil {
		in.Close()
		return nil, nil, 0, err
	}
	req, err := NewRequest(ctx, in, st.Size(), opts)
	if err != nil {
		in.Close()
		return nil, nil, 0, fmt.Errorf("signing %s: %w", path, err)
	}
	return req, in, st.Mode().Perm(), nil
}

// ExportFile is the first step of signing the image at inPath with a key
// that only signs elsewhere (an HSM service, a smart card on another
// machine): it writes to exportPath, atomically, the DER bytes to sign
// (Request.SignedAttributes; with ProfileSystemdSbsign, what
// "systemd-sbsign sign --prepare-offline-signing" writes). AttachFile is
// the second step. See NewRequest for ctx.
func ExportFile(ctx context.Context, inPath, exportPath string, opts Options) error {
	req, in, _, err := openRequest(ctx, inPath, opts)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := atomicfile.Write(exportPath, 0o644, func(f *os.File) error {
		_, err := f.Write(req.SignedAttributes())
		return err
	}); err != nil {
		return fmt.Errorf("writing %s: %w", exportPath, err)
	}
	return nil
}

// AttachFile is the second step of offline signing (ExportFile): it
// attaches the raw RSA PKCS #1 v1.5 signature in sigPath of the exported
// bytes and writes the signed image to outPath atomically (outPath may be
// inPath; a new file gets inPath's mode). opts must be step 1's, signing
// time included, unless signedDataPath names step 1's file: its signing
// time is then taken (Request.AdoptSignedAttributes). A file that does not
// fit is an *OfflineFileError. See NewRequest for ctx.
func AttachFile(ctx context.Context, inPath, outPath, sigPath, signedDataPath string, opts Options) error {
	req, in, perm, err := openRequest(ctx, inPath, opts)
	if err != nil {
		return err
	}
	defer in.Close()
	if signedDataPath != "" {
		attrs, err := os.ReadFile(signedDataPath)
		if err != nil {
			return err
		}
		if err := req.AdoptSignedAttributes(attrs); err != nil {
			return &OfflineFileError{Field: SignedDataFile, File: signedDataPath, Err: err}
		}
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return err
	}
	p7, err := req.Attach(sig)
	if err != nil {
		return &OfflineFileError{Field: SignatureFile, File: sigPath, Err: err}
	}
	return req.WriteFile(outPath, perm, p7)
}
