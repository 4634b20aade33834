package uki

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pyjson"

	"github.com/ukibuild/ukibuild/pcrsig"
	"github.com/ukibuild/ukibuild/sign"
)

// maxPCRSig bounds the .pcrsig section JoinPCRSig reads into memory; one
// policy of each bank for each phase takes a few KiB.
const maxPCRSig = 16 << 20

// ExistingSignature says what JoinPCRSig does with a UKI that is already
// signed for Secure Boot: putting signatures into .pcrsig changes the
// image, so its Authenticode signatures no longer verify.
type ExistingSignature int

const (
	// RefuseSigned refuses a signed UKI (a *SignedError).
	RefuseSigned ExistingSignature = iota
	// DropSignature removes the signatures: the output is unsigned, or
	// signed anew when JoinOptions.SecureBoot is set.
	DropSignature
)

// JoinOptions are JoinPCRSig's options.
type JoinOptions struct {
	// SecureBoot, when set, signs the joined UKI for Secure Boot (with
	// DropSignature, a signed input's old signatures are replaced).
	// SignKernel is ignored: the kernel inside is not touched.
	SecureBoot *SecureBoot
	// Existing is what is done with a signed input (RefuseSigned by
	// default).
	Existing ExistingSignature
}

// SignedError is a signed UKI given to JoinPCRSig without DropSignature.
type SignedError struct{ Path string }

func (e *SignedError) Error() string {
	return fmt.Sprintf("%s is signed for Secure Boot: joining PCR signatures changes it, so its signatures would no longer verify; drop them (and sign again)", e.Path)
}

// JoinPCRSig puts offline-made signatures into a UKI built with
// Config.PolicyDigestKey, as ukify 262's --join-pcrsig=UKI --pcrsig=JSON
// does: the .pcrsig JSON gets each matching policy's "sig" (matched by
// "tbs", else by "pol" and "ref") from signatures (the JSON object of
// signed policies), is written back in place (it must fit the space the
// padding left) and the image is written to output atomically, signed for
// Secure Boot when opts.SecureBoot is set. A signed input is refused
// unless opts.Existing drops its signatures (ukify keeps them, although
// they no longer verify). The UKI is streamed, not loaded, and read once.
// When ctx is cancelled the copy stops and output is left as it was.
func JoinPCRSig(ctx context.Context, ukiPath string, signatures []byte, output string, opts JoinOptions) error {
	if _, err := pyjson.UnmarshalObject(signatures); err != nil {
		return fmt.Errorf("signed policies: not a JSON object: %w", err)
	}
	if opts.SecureBoot != nil {
		if err := opts.SecureBoot.check(); err != nil {
			return err
		}
	}
	img, err := OpenImage(ukiPath)
	if err != nil {
		return err
	}
	defer img.Close()
	f, hdr := img.f, img.hdr
	size := hdr.Size
	if dir, _ := hdr.Security(); dir.Size != 0 {
		if opts.Existing != DropSignature {
			return &SignedError{Path: ukiPath}
		}
		// The certificate table is the file's tail, after every
		// section (pe.CheckLayout); the image without it is unsigned
		// once the directory entry is cleared.
		end := int64(hdr.SizeOfHeaders)
		for _, sec := range hdr.Sections {
			end = max(end, int64(sec.PointerToRawData)+int64(sec.SizeOfRawData))
		}
		if int64(dir.VirtualAddress) > size || int64(dir.VirtualAddress) < end {
			return fmt.Errorf("%s: the certificate table at %d is not the file's tail", ukiPath, dir.VirtualAddress)
		}
		size = int64(dir.VirtualAddress)
	}
	type patch struct {
		off  int64
		data []byte
	}
	var patches []patch
	found := false
	for i := range hdr.Sections {
		s := &hdr.Sections[i]
		if s.NameString() != ".pcrsig" {
			continue
		}
		found = true
		if s.SizeOfRawData > maxPCRSig {
			return fmt.Errorf("%s: the .pcrsig section is %d bytes, more than the %d a PCR signature section can need", ukiPath, s.SizeOfRawData, maxPCRSig)
		}
		raw := make([]byte, s.SizeOfRawData)
		if _, err := f.ReadAt(raw, int64(s.PointerToRawData)); err != nil {
			return fmt.Errorf("%s: reading .pcrsig: %w", ukiPath, err)
		}
		enc, err := pcrsig.ApplySignatures(bytes.TrimRight(raw, "\x00"), signatures)
		if err != nil {
			return fmt.Errorf("%s: %w", ukiPath, err)
		}
		if len(enc) > len(raw) {
			return fmt.Errorf("%s: not enough space in the existing .pcrsig section (%d bytes) for the signed policies (%d bytes)", ukiPath, len(raw), len(enc))
		}
		copy(raw, enc)
		clear(raw[len(enc):])
		s.VirtualSize = uint32(len(enc))
		patches = append(patches, patch{int64(s.PointerToRawData), raw})
		patches = append(patches, patch{hdr.SectionHeaderOffset(i), s.Marshal()})
	}
	if !found {
		return fmt.Errorf("%s: no .pcrsig section to put signatures in (build it with a policy digest key)", ukiPath)
	}
	last := &hdr.Sections[len(hdr.Sections)-1]
	sizeOfImage := uint32(pe.RoundUp(uint64(last.VirtualAddress)+uint64(last.VirtualSize), uint64(hdr.SectionAlignment)))
	var le [8]byte
	binary.LittleEndian.PutUint32(le[0:], 0)
	binary.LittleEndian.PutUint32(le[4:], sizeOfImage)
	patches = append(patches,
		patch{hdr.OptionalOffset + pe.OptCheckSum, le[0:4]},
		patch{hdr.OptionalOffset + pe.OptSizeOfImage, le[4:8]})
	if off, ok := hdr.SecurityDirOffset(); ok && size != hdr.Size {
		patches = append(patches, patch{off, make([]byte, 8)})
	}
	joined := &patchedReader{base: f, size: size}
	for _, p := range patches {
		joined.patches = append(joined.patches, filePatch(p))
	}
	return atomicfile.Write(output, 0o644, func(out *os.File) error {
		if sb := opts.SecureBoot; sb != nil {
			_, err := sign.Sign(ctx, out, joined, size, sb.Signer, sb.Options)
			return err
		}
		_, err := io.Copy(out, io.NewSectionReader(ctxio.ReaderAt(ctx, joined), 0, size))
		return err
	})
}

// filePatch replaces bytes at off with data.
type filePatch struct {
	off  int64
	data []byte
}

// patchedReader reads the first size bytes of base with patches applied:
// the joined image, read once by the copy or the signer.
type patchedReader struct {
	base    io.ReaderAt
	size    int64
	patches []filePatch
}

func (r *patchedReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := r.size - off; int64(want) > rest {
		p = p[:rest]
	}
	n, err := r.base.ReadAt(p, off)
	if n < len(p) {
		return n, err
	}
	for _, pt := range r.patches {
		lo, hi := max(pt.off, off), min(pt.off+int64(len(pt.data)), off+int64(n))
		if lo < hi {
			copy(p[lo-off:hi-off], pt.data[lo-pt.off:hi-pt.off])
		}
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}
