package uki

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/internal/fanout"
	"github.com/ukibuild/ukibuild/sign"
)

// SecureBoot signs a build for UEFI Secure Boot: the output image and, by
// ukify's rule, the kernel inside it (ukify 262's --secureboot-private-key,
// --secureboot-certificate and --sign-kernel/--no-sign-kernel).
type SecureBoot struct {
	// Signer is the db key (RSA; a PEM key or a PKCS#11 token key).
	Signer crypto.Signer
	// Options are the signature options; Options.Certificate is required.
	// The same options sign the kernel.
	Options sign.Options
	// SignKernel decides whether the kernel is signed before it is
	// measured and embedded: nil signs it when it has no certificate table
	// yet (ukify asks "sbverify --list" the same question); a pointer to
	// true signs it anyway (adding a signature), to false never.
	SignKernel *bool
}

func (sb *SecureBoot) check() error {
	if sb.Signer == nil {
		return errors.New("no Secure Boot signing key")
	}
	if sb.Options.Certificate == nil {
		return errors.New("no Secure Boot signing certificate")
	}
	return nil
}

// signKernel applies the SignKernel rule to the kernel: it returns the
// signed kernel (in a temporary file, whose path is returned too), or nil
// when the kernel stays as it is.
func (sb *SecureBoot) signKernel(linux Content, tempDir string) (Content, string, error) {
	path, ok := Path(linux)
	if !ok {
		return nil, "", fmt.Errorf("kernel %s: not a file", linux)
	}
	in, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("kernel: %w", err)
	}
	defer in.Close()
	want := sb.SignKernel != nil && *sb.SignKernel
	if sb.SignKernel == nil {
		signed, err := sign.Signed(in, linux.Size())
		if err != nil {
			return nil, "", fmt.Errorf("kernel %s: %w", linux, err)
		}
		want = !signed
	}
	if !want {
		return nil, "", nil
	}
	tmp, err := atomicfile.Scratch(tempDir, "linux-signed")
	if err != nil {
		return nil, "", fmt.Errorf("kernel %s: %w", linux, err)
	}
	name := tmp.Name()
	_, err = sign.Sign(tmp, in, linux.Size(), sb.Signer, sb.Options)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, name, fmt.Errorf("signing the kernel %s: %w", linux, err)
	}
	c, err := File(name)
	if err != nil {
		return nil, name, err
	}
	return &namedContent{Content: c, name: linux.String() + " (signed)"}, name, nil
}

// WriteFile composes the image and writes it to path atomically: on any
// error no output file is created and an existing one is left untouched.
// With SecureBoot set the image is signed: the unsigned image goes to a
// temporary file next to path, is signed into path and removed. New files
// get mode 0644.
func (p *Plan) WriteFile(path string) error {
	img, err := p.Compose()
	if err != nil {
		return err
	}
	if p.SecureBoot == nil {
		return WriteFile(path, img)
	}
	stream, err := sign.NewStream(img.head, img.Size(), p.SecureBoot.Options)
	switch {
	case err == nil:
		return writeSigned(path, img, stream, p.SecureBoot.Signer)
	case !errors.Is(err, sign.ErrNotStreamable):
		return fmt.Errorf("signing %s: %w", path, err)
	}
	// An unusual stub (sections out of file order): write, then sign.
	tmp, err := atomicfile.Scratch(filepath.Dir(path), filepath.Base(path)+".unsigned")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer atomicfile.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := img.WriteTo(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	req, err := sign.NewRequest(tmp, img.Size(), p.SecureBoot.Options)
	if err != nil {
		return fmt.Errorf("signing %s: %w", path, err)
	}
	p7, err := req.Sign(p.SecureBoot.Signer)
	if err != nil {
		return fmt.Errorf("signing %s: %w", path, err)
	}
	err = atomicfile.Write(path, 0o644, func(f *os.File) error {
		_, err := req.Write(f, p7)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeSigned writes img to path atomically while the Authenticode digest
// is computed from the same bytes, on another core, then appends the
// signature: every byte is produced once.
func writeSigned(path string, img *Image, stream *sign.Stream, signer crypto.Signer) error {
	err := atomicfile.Write(path, 0o644, func(f *os.File) error {
		pr, pw := io.Pipe()
		go func() {
			_, err := img.WriteTo(pw)
			pw.CloseWithError(err)
		}()
		_, err := fanout.Copy(pr, f, stream)
		pr.CloseWithError(io.ErrClosedPipe) // unblock the writer after a failure
		if err != nil {
			return err
		}
		_, err = stream.Finish(f, signer)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing signed %s: %w", path, err)
	}
	return nil
}
