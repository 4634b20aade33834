package uki

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// stubEFIFWCheck is systemd-stub's efifw_validate_header
// (src/boot/efi-firmware.c, systemd v262), transcribed: it returns the
// firmware ID and the payload the stub would use, or ok == false where the
// stub rejects the blob.
func stubEFIFWCheck(blob []byte) (fwid string, payload []byte, ok bool) {
	const baseSize = 16 // offsetof(EfiFwHeader, chid): magic, header_len, fwid_len, payload_len
	if len(blob) < baseSize {
		return "", nil, false
	}
	le := binary.LittleEndian // the stub reads the uint32 fields natively; EFI is little-endian
	if le.Uint32(blob[0:]) != 0xfeeddead {
		return "", nil, false
	}
	headerLen := uint64(le.Uint32(blob[4:]))
	if headerLen < baseSize {
		return "", nil, false
	}
	fwidLen, payloadLen := uint64(le.Uint32(blob[8:])), uint64(le.Uint32(blob[12:]))
	total := headerLen + fwidLen + payloadLen
	if uint64(len(blob)) < total {
		return "", nil, false
	}
	id := blob[headerLen : headerLen+fwidLen]
	// memchr(fwid, 0, fwid_len) != fwid + fwid_len - 1
	if i := bytes.IndexByte(id, 0); i < 0 || uint64(i) != fwidLen-1 {
		return "", nil, false
	}
	return string(id[:fwidLen-1]), blob[headerLen+fwidLen : total], true
}

// TestEFIFWMatchesUkifyAndStub: the .efifw blob equals ukify 262.1's
// parse_efifw_dir for the same directory (named in several spellings), and
// passes systemd-stub's header check with the firmware ID and payload.
func TestEFIFWMatchesUkifyAndStub(t *testing.T) {
	root := t.TempDir()
	fw := []byte("\x00firmware payload\xff")
	for _, d := range []string{"qcom-x1e", "ünï", "two", "empty", "sub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, b []byte) {
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("qcom-x1e/fw.bin", fw)
	write("ünï/.hidden", fw)
	write("two/a", fw)
	write("two/b", fw)
	write("empty/fw", nil)
	if err := os.MkdirAll(filepath.Join(root, "sub", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dir, fwid string // fwid "" means both must fail
	}{
		{filepath.Join(root, "qcom-x1e"), "qcom-x1e"},
		{filepath.Join(root, "qcom-x1e") + "/", "qcom-x1e"},
		{filepath.Join(root, "qcom-x1e") + "/.", "qcom-x1e"},
		{filepath.Join(root, "ünï"), "ünï"},
		{filepath.Join(root, "two"), ""},
		{filepath.Join(root, "empty"), ""},
		{filepath.Join(root, "sub"), ""},
		{filepath.Join(root, "qcom-x1e", "fw.bin"), ""},
		{filepath.Join(root, "missing"), ""},
	}
	reqs := make([]any, len(cases))
	for i, c := range cases {
		reqs[i] = c.dir
	}
	want := ukifyEval(t, "ukify.parse_efifw_dir(Path(x))", reqs)
	for i, c := range cases {
		content, err := EFIFWFromDir(c.dir)
		if c.fwid == "" {
			if err == nil || want[i] != "ERR" {
				t.Errorf("%s: ours %v, ukify %.20s: want both to fail", c.dir, err, want[i])
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.dir, err)
			continue
		}
		blob := mustRead(t, content)
		if got := hex.EncodeToString(blob); got != want[i] {
			t.Errorf("%s:\nours:  %s\nukify: %s", c.dir, got, want[i])
		}
		id, payload, ok := stubEFIFWCheck(blob)
		if !ok || id != c.fwid || !bytes.Equal(payload, fw) {
			t.Errorf("%s: the stub's check gives %v, %q, %q", c.dir, ok, id, payload)
		}
	}
	// The stub rejects the single-byte magic of earlier ukify versions
	// (struct.pack('<p', ...)): the check works.
	good := mustRead(t, must(EFIFWFromDir(filepath.Join(root, "qcom-x1e"))))
	if _, _, ok := stubEFIFWCheck(append([]byte{0}, good[4:]...)); ok {
		t.Error("the stub check accepts a blob without the 4-byte magic")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
