package uki

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
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
func (sb *SecureBoot) signKernel(ctx context.Context, linux Content, tempDir string) (Content, string, error) {
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
	_, err = sign.Sign(ctx, tmp, in, linux.Size(), sb.Signer, sb.Options)
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
// Each input byte is read once: the PCR bank digests of the .pcrsig
// policies and, with SecureBoot set, the Authenticode digest are computed
// from the bytes as they are written, on several cores (images whose
// Authenticode ranges are not in file order are written to a temporary file
// next to path first, then signed). New files get mode 0644.
func (p *Plan) WriteFile(ctx context.Context, path string) error {
	err := p.writeFile(ctx, path)
	if errors.Is(err, errNotStreamed) {
		// The .pcrsig size laid out in advance was not the final one:
		// compute the policies first, then write.
		if err := p.resolvePCRSigs(ctx); err != nil {
			return err
		}
		err = p.writeFile(ctx, path)
	}
	return err
}

func (p *Plan) writeFile(ctx context.Context, path string) error {
	img, err := Compose(p.Stub, p.Sections)
	if err != nil {
		return err
	}
	if p.SecureBoot == nil {
		err := atomicfile.Write(path, 0o644, func(f *os.File) error { return p.writeImage(ctx, img, f) })
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return nil
	}
	stream, err := sign.NewStream(img.head, img.Size(), p.SecureBoot.Options)
	switch {
	case err == nil:
		err := atomicfile.Write(path, 0o644, func(f *os.File) error {
			if err := p.writeImage(ctx, img, f, stream); err != nil {
				return err
			}
			_, err := stream.Finish(f, p.SecureBoot.Signer)
			return err
		})
		if err != nil {
			return fmt.Errorf("writing signed %s: %w", path, err)
		}
		return nil
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
	if err := p.writeImage(ctx, img, tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	req, err := sign.NewRequest(ctx, tmp, img.Size(), p.SecureBoot.Options)
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
