package uki

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/pcr"
)

// maxPCRSig bounds the .pcrsig section JoinPCRSig reads into memory; one
// policy of each bank for each phase takes a few KiB.
const maxPCRSig = 16 << 20

// JoinPCRSig puts offline-made signatures into a UKI built with
// Config.PolicyDigestKey, as ukify 262's --join-pcrsig=UKI --pcrsig=JSON
// does: the .pcrsig JSON gets each matching policy's "sig" (matched by
// "tbs", else by "pol" and "ref"), is written back in place (it must fit the
// space the padding left) and the image is written to output atomically.
// The UKI is streamed, not loaded.
func JoinPCRSig(ukiPath string, signatures *pyjson.Object, output string) error {
	img, err := OpenImage(ukiPath)
	if err != nil {
		return err
	}
	defer img.Close()
	f, hdr := img.f, img.hdr
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
		obj, err := pyjson.UnmarshalObject(bytes.TrimRight(raw, "\x00"))
		if err != nil {
			return fmt.Errorf("%s: .pcrsig is not a JSON object: %w", ukiPath, err)
		}
		if err := pcr.ApplySignatures(obj, signatures); err != nil {
			return fmt.Errorf("%s: %w", ukiPath, err)
		}
		enc, err := pcr.PCRSigText(obj)
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

	return atomicfile.Write(output, 0o644, func(out *os.File) error {
		if _, err := io.Copy(out, io.NewSectionReader(f, 0, hdr.Size)); err != nil {
			return err
		}
		for _, p := range patches {
			if _, err := out.WriteAt(p.data, p.off); err != nil {
				return err
			}
		}
		return nil
	})
}
