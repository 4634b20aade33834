package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ukibuild/ukibuild/internal/keypass"
	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
)

// Offsets in the images petest.Stub builds.
const (
	peLfanew  = 0x80
	peCoff    = peLfanew + 4
	peOpt     = peCoff + 20
	peSecTab  = peOpt + 240
	peSecSize = 40
)

const malformedSBAT = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"

// malformedStub is a sound synthetic stub: four sections, room for eleven
// more headers.
func malformedStub() []byte {
	magic := []byte("#### LoaderInfo: systemd-stub 262 ####")
	return petest.Stub(0x400, []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, petest.Fill(0x150, 1)),
		petest.Sec(".data", 0x2000, 0x80, 0x600, 0x200, petest.Fill(0x80, 2)),
		petest.Sec(".sbat", 0x3000, uint32(len(malformedSBAT)), 0x800, 0x200, []byte(malformedSBAT)),
		petest.Sec(".sdmagic", 0x4000, uint32(len(magic)), 0xa00, 0x200, magic),
	}, 0, nil)
}

// malformedKernel is a tiny PE "kernel".
func malformedKernel() []byte {
	return petest.Stub(0x400, []petest.Section{
		petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, petest.Fill(0x100, 7)),
	}, 0, nil)
}

// with returns a copy of b with the little-endian value v (uint16 or
// uint32) at off.
func with(b []byte, off int, v any) []byte {
	b = bytes.Clone(b)
	switch x := v.(type) {
	case uint16:
		binary.LittleEndian.PutUint16(b[off:], x)
	case uint32:
		binary.LittleEndian.PutUint32(b[off:], x)
	default:
		panic("with: want uint16 or uint32")
	}
	return b
}

// secField is the offset of a field of section header i (field offsets: 8
// VirtualSize, 12 VirtualAddress, 16 SizeOfRawData, 20 PointerToRawData).
func secField(i, field int) int { return peSecTab + i*peSecSize + field }

func writeMode(t *testing.T, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func keyPEM(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func certPEM(t *testing.T, k crypto.Signer, tmpl x509.Certificate) []byte {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(7)
	tmpl.Subject = pkix.Name{CommonName: "malformed test"}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Unix(0, 0), time.Unix(4e9, 0)
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// malformedInputs are the files the cases use.
type malformedInputs struct {
	dir                  string
	stub, kernel, uki    string
	signed               []byte // a signed UKI
	key, cert            string // a matching RSA key and certificate
	unsigned             []byte
	securityDir, hdrSize int // the signed UKI's certificate table entry offset and SizeOfHeaders
}

// file writes data into the input directory.
func (in *malformedInputs) file(t *testing.T, name string, data []byte) string {
	return writeMode(t, in.dir, name, data, 0o600)
}

func newMalformedInputs(t *testing.T) *malformedInputs {
	dir := t.TempDir()
	in := &malformedInputs{dir: dir}
	in.stub = in.file(t, "good.stub", malformedStub())
	in.kernel = in.file(t, "good-kernel", malformedKernel())
	in.uki = filepath.Join(dir, "good.efi")
	if code, _, e := runOurs("build", "--stub", in.stub, "--linux", in.kernel, "--uname", "6.1.0", "--os-release", "ID=test",
		"--cmdline", "quiet", "--output", in.uki); code != 0 {
		t.Fatalf("building the good UKI: %s", e)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	in.key = in.file(t, "db.key", keyPEM(t, k))
	in.cert = in.file(t, "db.crt", certPEM(t, k, x509.Certificate{}))
	signed := filepath.Join(dir, "signed.efi")
	if code, _, e := runOurs("sign", in.uki, "-o", signed, "--key", in.key, "--cert", in.cert); code != 0 {
		t.Fatalf("signing the good UKI: %s", e)
	}
	in.signed, _ = os.ReadFile(signed)
	in.unsigned, _ = os.ReadFile(in.uki)
	f, err := pe.Parse(bytes.NewReader(in.signed), int64(len(in.signed)))
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := f.SecurityDirOffset()
	in.securityDir, in.hdrSize = int(sd), int(f.SizeOfHeaders)
	return in
}

// table returns the signed UKI's certificate table offset and size.
func (in *malformedInputs) table() (va, size int) {
	return int(binary.LittleEndian.Uint32(in.signed[in.securityDir:])), int(binary.LittleEndian.Uint32(in.signed[in.securityDir+4:]))
}

// malformedCase is one bad input: the command run on it must fail with one
// error line naming file and the defect (or, when warn is set, succeed
// with a warning that does), never panic, and leave no output and no
// temporary file.
type malformedCase struct {
	name string
	// args returns the command line; OUT stands for the output file,
	// file is what the message must name.
	args func(t *testing.T, in *malformedInputs) (args []string, file string)
	want []string // substrings of the message: the defect
	warn bool     // a documented warning: the command succeeds
	env  map[string]string
	// alsoWarn is a warning that must come with the error.
	alsoWarn string
}

// buildWithStub builds with a stub holding data.
func buildWithStub(name string, data func(in *malformedInputs) []byte) func(*testing.T, *malformedInputs) ([]string, string) {
	return func(t *testing.T, in *malformedInputs) ([]string, string) {
		p := in.file(t, name, data(in))
		return []string{"build", "--stub", p, "--linux", in.kernel, "--uname", "6.1.0", "--os-release", "ID=test", "--output", "OUT"}, p
	}
}

// buildWithKernel builds with a kernel holding data.
func buildWithKernel(name string, data func(t *testing.T) []byte) func(*testing.T, *malformedInputs) ([]string, string) {
	return func(t *testing.T, in *malformedInputs) ([]string, string) {
		p := in.file(t, name, data(t))
		return []string{"build", "--stub", in.stub, "--linux", p, "--uname", "6.1.0", "--os-release", "ID=test", "--output", "OUT"}, p
	}
}

// signImage signs an image holding data.
func signImage(name string, data func(in *malformedInputs) []byte) func(*testing.T, *malformedInputs) ([]string, string) {
	return func(t *testing.T, in *malformedInputs) ([]string, string) {
		p := in.file(t, name, data(in))
		return []string{"sign", p, "-o", "OUT", "--key", in.key, "--cert", in.cert}, p
	}
}

// verifyImage verifies an image holding data against the good certificate.
func verifyImage(name string, data func(in *malformedInputs) []byte) func(*testing.T, *malformedInputs) ([]string, string) {
	return func(t *testing.T, in *malformedInputs) ([]string, string) {
		p := in.file(t, name, data(in))
		return []string{"verify", p, "--cert", in.cert}, p
	}
}

// signWithKey signs the good UKI with the key and certificate key returns.
func signWithKey(key func(t *testing.T, in *malformedInputs) (keyPath, certPath, named string)) func(*testing.T, *malformedInputs) ([]string, string) {
	return func(t *testing.T, in *malformedInputs) ([]string, string) {
		k, c, named := key(t, in)
		return []string{"sign", in.uki, "-o", "OUT", "--key", k, "--cert", c}, named
	}
}

func zstdBomb(t *testing.T) []byte {
	w, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(make([]byte, 80<<20), nil)
}

func malformedCases() []malformedCase {
	stub := malformedStub()
	return []malformedCase{
		// The stub's PE headers.
		{name: "stub not PE", args: buildWithStub("script.stub", func(*malformedInputs) []byte {
			return []byte("#!/bin/sh\necho not a PE image\n" + strings.Repeat("#", 100))
		}),
			want: []string{"not a valid PE image", "no MZ signature"}},
		{name: "stub empty", args: buildWithStub("empty.stub", func(*malformedInputs) []byte { return nil }),
			want: []string{"the DOS header (64 bytes at offset 0) lies beyond the end of the file (0 bytes)"}},
		{name: "stub DOS header truncated", args: buildWithStub("mz.stub", func(*malformedInputs) []byte { return stub[:40] }),
			want: []string{"the DOS header", "beyond the end of the file (40 bytes)"}},
		{name: "e_lfanew out of range", args: buildWithStub("lfanew.stub", func(*malformedInputs) []byte { return with(stub, 0x3c, uint32(0xfffffff0)) }),
			want: []string{"e_lfanew", "offset 4294967280", "beyond the end of the file"}},
		{name: "e_lfanew to no PE signature", args: buildWithStub("nosig.stub", func(*malformedInputs) []byte { return with(stub, 0x3c, uint32(0x40)) }),
			want: []string{"no PE signature at e_lfanew offset 64"}},
		{name: "NumberOfSections huge", args: buildWithStub("nsec-huge.stub", func(*malformedInputs) []byte { return with(stub, peCoff+2, uint16(0xffff)) }),
			want: []string{"the section table (NumberOfSections 65535)", "beyond the end of the file"}},
		{name: "NumberOfSections above the PE limit", args: buildWithStub("nsec-200.stub", func(*malformedInputs) []byte {
			b := with(with(stub, peCoff+2, uint16(200)), peOpt+pe.OptSizeOfHeaders, uint32(0x2200))
			return append(b, make([]byte, 0x2200)...)
		}), want: []string{"NumberOfSections 200 is more than the 96"}},
		{name: "NumberOfSections zero", args: buildWithStub("nsec-zero.stub", func(*malformedInputs) []byte { return with(stub, peCoff+2, uint16(0)) }),
			want: []string{"the image has no sections"}},
		{name: "SizeOfHeaders smaller than the section table", args: buildWithStub("soh.stub", func(*malformedInputs) []byte { return with(stub, peOpt+pe.OptSizeOfHeaders, uint32(0x200)) }),
			want: []string{"SizeOfHeaders 512 is smaller than the end of the section table at 552"}},
		{name: "SizeOfHeaders past the end of the file", args: buildWithStub("soh-big.stub", func(*malformedInputs) []byte {
			return with(stub, peOpt+pe.OptSizeOfHeaders, uint32(0x10000))
		}), want: []string{"SizeOfHeaders 65536 lies beyond the end of the file"}},
		{name: "section raw data past EOF", args: buildWithStub("past-eof.stub", func(*malformedInputs) []byte { return stub[:0xb00] }),
			want: []string{`section 3 (".sdmagic"): raw data at 2560+512 lies beyond the end of the file (2816 bytes)`}},
		{name: "sections overlapping", args: buildWithStub("overlap.stub", func(*malformedInputs) []byte { return with(stub, secField(1, 20), uint32(0x500)) }),
			want: []string{`section 1 (".data"): raw data at 1280+512 overlaps or precedes that of section 0 (".text")`}},
		{name: "sections unordered", args: buildWithStub("unordered.stub", func(*malformedInputs) []byte {
			return with(with(stub, secField(2, 20), uint32(0xa00)), secField(3, 20), uint32(0x800))
		}), want: []string{`section 3 (".sdmagic"): raw data at 2048+512 overlaps or precedes that of section 2 (".sbat")`}},
		{name: "sections overlapping in memory", args: buildWithStub("va-overlap.stub", func(*malformedInputs) []byte { return with(stub, secField(0, 8), uint32(0x1800)) }),
			want: []string{`section 1 (".data"): virtual address 0x2000 overlaps or precedes section 0 (".text")`}},
		{name: "section data inside the headers", args: buildWithStub("in-headers.stub", func(*malformedInputs) []byte { return with(stub, secField(0, 20), uint32(0x200)) }),
			want: []string{`section 0 (".text"): raw data at 512 starts inside the headers (SizeOfHeaders 1024)`}},
		{name: "SizeOfOptionalHeader too small for PE32+", args: buildWithStub("opt-small.stub", func(*malformedInputs) []byte { return with(stub, peCoff+16, uint16(0x50)) }),
			want: []string{"SizeOfOptionalHeader is 80, smaller than the 112 bytes of a PE32+ optional header"}},
		{name: "SizeOfOptionalHeader past EOF", args: buildWithStub("opt-huge.stub", func(*malformedInputs) []byte { return with(stub, peCoff+16, uint16(0xf000)) }),
			want: []string{"the optional header (SizeOfOptionalHeader)", "beyond the end of the file"}},
		{name: "SizeOfOptionalHeader too small for the data directories", args: buildWithStub("opt-dirs.stub", func(*malformedInputs) []byte { return with(stub, peCoff+16, uint16(0x80)) }),
			want: []string{"SizeOfOptionalHeader is 128, too small for 16 data directories"}},
		{name: "SizeOfOptionalHeader zero", args: buildWithStub("opt-zero.stub", func(*malformedInputs) []byte { return with(stub, peCoff+16, uint16(0)) }),
			want: []string{"SizeOfOptionalHeader is 0, too small for an image"}},
		{name: "PE32 magic with PE32+ sizes", args: buildWithStub("pe32.stub", func(*malformedInputs) []byte { return with(stub, peOpt, uint16(pe.Magic32)) }),
			want: []string{"the optional header is PE32 (magic 0x10b) but machine type 0x8664 (x86-64) needs PE32+"}},
		{name: "unknown optional header magic", args: buildWithStub("magic.stub", func(*malformedInputs) []byte { return with(stub, peOpt, uint16(0x107)) }),
			want: []string{"unknown optional header magic 0x107"}},
		{name: "NumberOfRvaAndSizes above 16", args: buildWithStub("rva.stub", func(*malformedInputs) []byte { return with(stub, peOpt+108, uint32(17)) }),
			want: []string{"NumberOfRvaAndSizes is 17, more than 16"}},
		{name: "FileAlignment not a power of two", args: buildWithStub("fa.stub", func(*malformedInputs) []byte { return with(stub, peOpt+pe.OptFileAlignment, uint32(0x300)) }),
			want: []string{"FileAlignment 768 is not a power of two"}},
		{name: "FileAlignment above 64 KiB", args: buildWithStub("fa-huge.stub", func(*malformedInputs) []byte {
			return with(with(stub, peOpt+pe.OptFileAlignment, uint32(1<<20)), peOpt+pe.OptSectionAlignment, uint32(1<<20))
		}), want: []string{"FileAlignment 1048576 is larger than the 64 KiB"}},
		{name: "SectionAlignment below FileAlignment", args: buildWithStub("sa.stub", func(*malformedInputs) []byte { return with(stub, peOpt+pe.OptSectionAlignment, uint32(0x100)) }),
			want: []string{"SectionAlignment 256 is smaller than FileAlignment 512"}},
		{name: "signed stub", args: buildWithStub("signed.stub", func(*malformedInputs) []byte {
			b := with(with(stub, peOpt+112+pe.DirSecurity*8, uint32(len(stub))), peOpt+112+pe.DirSecurity*8+4, uint32(8))
			return append(b, 8, 0, 0, 0, 0, 2, 2, 0)
		}), want: []string{"stub is signed"}},
		{name: "symbol table overlapping section data", args: buildWithStub("symtab.stub", func(*malformedInputs) []byte {
			// 40 symbols (720 bytes) and an empty string table (its
			// 4-byte length) ending at the end of the file, from inside
			// .sbat on.
			b := with(with(stub, peCoff+8, uint32(0xc00-724)), peCoff+12, uint32(40))
			return with(b, 0xc00-4, uint32(4))
		}), want: []string{"the COFF symbol table at 2348 overlaps the raw data of section 2"}},
		{name: "stub larger than 64 MiB", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "huge.stub", stub)
			if err := os.Truncate(p, 65<<20); err != nil {
				t.Fatal(err)
			}
			return []string{"build", "--stub", p, "--linux", in.kernel, "--output", "OUT"}, p
		}, want: []string{"too large for a stub"}},
		{name: "stub a directory", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			return []string{"build", "--stub", in.dir, "--linux", in.kernel, "--output", "OUT"}, in.dir
		}, want: []string{"not a regular file"}},

		// The kernel.
		{name: "kernel neither PE nor compressed", args: buildWithKernel("garbage-kernel", func(*testing.T) []byte { return bytes.Repeat([]byte{0x42}, 4096) }),
			want: []string{"not a PE image", "unknown", `b'BBBB'`}},
		{name: "kernel decompression bomb", args: buildWithKernel("bomb-kernel", zstdBomb),
			want: []string{"more than 67108864 bytes", "decompression bomb"}},
		{name: "kernel truncated gzip", args: buildWithKernel("truncated-kernel", func(*testing.T) []byte {
			return []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x4b, 0x4c}
		}), want: []string{"gzip", "truncated"}},
		{name: "kernel LZO", args: buildWithKernel("lzo-kernel", func(*testing.T) []byte { return []byte("\x89LZO\x00\r\n\x1a\n") }),
			want: []string{"lzo decompression is not implemented"}},
		{name: "kernel .sbat over 1 MiB", args: buildWithKernel("sbat-kernel", func(*testing.T) []byte {
			return petest.Stub(0x400, []petest.Section{
				petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, nil),
				petest.Sec(".sbat", 0x2000, 0x100, 0x600, 0x100200, nil),
			}, 0, nil)
		}), want: []string{".sbat section is 1049088 bytes, more than 1 MiB"}},

		{name: "kernel .sbat sections adding up to over 1 MiB", args: buildWithKernel("sbats-kernel", func(*testing.T) []byte {
			// Twenty headers naming the same 64 KiB as .sbat.
			secs := []petest.Section{petest.Sec(".text", 0x1000, 0x100, 0x1000, 0x200, nil)}
			for i := 0; i < 20; i++ {
				secs = append(secs, petest.Sec(".sbat", 0x2000, 0x100, 0x1200, 0x10000, nil))
			}
			return petest.Stub(0x1000, secs, 0, nil)
		}), want: []string{".sbat sections add up to more than 1 MiB"}},
		{name: "stub .sbat over 1 MiB", args: buildWithStub("big-sbat.stub", func(*malformedInputs) []byte {
			return petest.Stub(0x400, []petest.Section{
				petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, nil),
				petest.Sec(".sbat", 0x2000, 0x100, 0x600, 0x100200, []byte(malformedSBAT)),
			}, 0, nil)
		}), want: []string{".sbat sections of more than 1048576 bytes"}},

		// Other build inputs.
		{name: "initrd of 5 GiB", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "huge.initrd", nil)
			if err := os.Truncate(p, 5<<30); err != nil {
				t.Fatal(err)
			}
			return []string{"build", "--stub", in.stub, "--linux", in.kernel, "--uname", "x", "--initrd", p, "--output", "OUT"}, p
		}, want: []string{"section .initrd", "5368709120 bytes", "does not fit: PE offsets and sizes are 32-bit"}},
		{name: "initrd a directory", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			d := filepath.Join(in.dir, "initrd.d")
			os.Mkdir(d, 0o755)
			return []string{"build", "--stub", in.stub, "--linux", in.kernel, "--initrd", d, "--output", "OUT"}, d
		}, want: []string{"--initrd", "not a regular file"}},
		{name: "SBAT file with a bad generation", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "bad-sbat.csv", []byte(malformedSBAT+"foo,-1,Foo,foo,1,https://foo.example/\n"))
			return []string{"build", "--stub", in.stub, "--linux", in.kernel, "--uname", "x", "--sbat", "@" + p, "--output", "OUT"}, p
		}, want: []string{"line 2", `generation "-1"`}},

		// Signing: the image.
		{name: "sign: certificate table past EOF", args: signImage("table-past-eof.efi", func(in *malformedInputs) []byte { return in.signed[:len(in.signed)-8] }),
			want: []string{"the certificate table at", "runs past the end of the file"}},
		{name: "sign: certificate table not at the end", args: signImage("table-not-last.efi", func(in *malformedInputs) []byte { return append(bytes.Clone(in.signed), "trailing"...) }),
			want: []string{"8 bytes of data follow the certificate table", "must be the last thing in the file"}},
		{name: "sign: dwLength below 8", args: signImage("dwlength.efi", func(in *malformedInputs) []byte {
			va, _ := in.table()
			return with(in.signed, va, uint32(4))
		}), want: []string{"existing certificate table is corrupt", "dwLength 4 is too short"}},
		{name: "sign: certificate table inside the headers", args: signImage("table-in-headers.efi", func(in *malformedInputs) []byte {
			return with(with(in.signed, in.securityDir, uint32(0x100)), in.securityDir+4, uint32(len(in.signed)-0x100))
		}), want: []string{"the certificate table at 256 starts inside the headers"}},
		{name: "sign: SizeOfHeaders smaller than the section table", args: signImage("soh.efi", func(in *malformedInputs) []byte {
			return with(in.unsigned, peOpt+pe.OptSizeOfHeaders, uint32(0x200))
		}), want: []string{"SizeOfHeaders 512 is smaller than the end of the section table"}},
		{name: "sign: sections overlapping", args: signImage("overlap.efi", func(in *malformedInputs) []byte {
			return with(in.unsigned, secField(0, 16), uint32(0x400))
		}), want: []string{"overlapping sections", "firmware rejects such an image"}},
		{name: "sign: not a PE image", args: signImage("text.efi", func(*malformedInputs) []byte { return []byte(strings.Repeat("not PE ", 20)) }),
			want: []string{"no MZ signature"}},

		// Signing: keys and certificates.
		{name: "key file holding a certificate", args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			return in.cert, in.cert, in.cert
		}), want: []string{`no private key in the file, only PEM "CERTIFICATE"`}},
		{name: "key file in DER", args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			block, _ := pem.Decode(must(os.ReadFile(in.key)))
			p := in.file(t, "key.der", block.Bytes)
			return p, in.cert, p
		}), want: []string{"no PEM block found"}},
		{name: "certificate file holding a key", args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			return in.key, in.key, in.key
		}), want: []string{`no certificate in the file, only PEM "PRIVATE KEY"`}},
		{name: "ECDSA key", args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			p := in.file(t, "ec.key", keyPEM(t, k))
			return p, in.file(t, "ec.crt", certPEM(t, k, x509.Certificate{})), p
		}), want: []string{"unsupported key for UEFI Secure Boot", "ECDSA"}},
		{name: "RSA key of 1024 bits", args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			k, _ := rsa.GenerateKey(rand.Reader, 1024)
			p := in.file(t, "rsa1024.key", keyPEM(t, k))
			return p, in.file(t, "rsa1024.crt", certPEM(t, k, x509.Certificate{})), p
		}), want: []string{"RSA key of 1024 bits"}},
		{name: "certificate not matching the key", args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			k, _ := rsa.GenerateKey(rand.Reader, 2048)
			c := in.file(t, "other.crt", certPEM(t, k, x509.Certificate{}))
			return in.key, c, c
		}), want: []string{"does not match --cert", "the signing key does not match the public key"}},
		{name: "encrypted key, wrong passphrase", args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			p := filepath.Join(in.dir, "enc.key")
			pass := in.file(t, "pass", []byte("right"))
			out, err := exec.Command("openssl", "pkcs8", "-topk8", "-in", in.key, "-out", p, "-v2", "aes-256-cbc", "-passout", "file:"+pass).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl (Debian package openssl) failed: %v\n%s", err, out)
			}
			return p, in.cert, p
		}), env: map[string]string{keypass.EnvPassphrase: "wrong horse"}, want: []string{"wrong passphrase"}},
		{name: "expired certificate", warn: true, args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			k, _ := rsa.GenerateKey(rand.Reader, 2048)
			c := in.file(t, "expired.crt", certPEM(t, k, x509.Certificate{NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0)}))
			return in.file(t, "expired.key", keyPEM(t, k)), c, c
		}), want: []string{"expired on 2001-09-09", "UEFI firmware does not check this"}},
		{name: "certificate without code signing", warn: true, args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			k, _ := rsa.GenerateKey(rand.Reader, 2048)
			c := in.file(t, "tls.crt", certPEM(t, k, x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}))
			return in.file(t, "tls.key", keyPEM(t, k)), c, c
		}), want: []string{"does not include codeSigning"}},
		{name: "key readable by others", warn: true, args: signWithKey(func(t *testing.T, in *malformedInputs) (string, string, string) {
			p := writeMode(t, in.dir, "open.key", must(os.ReadFile(in.key)), 0o644)
			return p, in.cert, p
		}), want: []string{"readable by its group and all other users (mode 0644)"}},
		{name: "PKCS #11 URI with pin-value", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			return []string{"sign", in.uki, "-o", "OUT", "--key", "pkcs11:token=nope;object=k?pin-value=s3cr3t-1234", "--pkcs11-module", filepath.Join(in.dir, "no-such-module.so")},
				filepath.Join(in.dir, "no-such-module.so")
		}, want: []string{"PKCS #11 module not found"}, alsoWarn: "the PKCS #11 URI carries the PIN in pin-value"},

		// Verification.
		{name: "verify: dwLength below 8", args: verifyImage("v-dwlength.efi", func(in *malformedInputs) []byte {
			va, _ := in.table()
			return with(in.signed, va, uint32(4))
		}), want: []string{"firmware rejects the certificate table", "dwLength 4 is too short"}},
		{name: "verify: truncated PKCS#7", args: verifyImage("v-truncated.efi", func(in *malformedInputs) []byte {
			va, size := in.table()
			b := bytes.Clone(in.signed)
			clear(b[va+size/2 : va+size])
			return b
		}), want: []string{"no signature verifies against db", "signature 0:"}},
		{name: "verify: certificate table past EOF", args: verifyImage("v-past-eof.efi", func(in *malformedInputs) []byte { return in.signed[:len(in.signed)-16] }),
			want: []string{"runs past the end of the file"}},
		{name: "verify: wrong certificate type", args: verifyImage("v-type.efi", func(in *malformedInputs) []byte {
			va, _ := in.table()
			return with(in.signed, va+6, uint16(1))
		}), want: []string{"certificate type 0x0001 is not PKCS_SIGNED_DATA"}},
		{name: "verify: modified after signing", args: verifyImage("v-modified.efi", func(in *malformedInputs) []byte {
			b := bytes.Clone(in.signed)
			b[0x450] ^= 1
			return b
		}), want: []string{"image digest mismatch", "modified after signing"}},
		{name: "verify: not signed", args: verifyImage("v-unsigned.efi", func(in *malformedInputs) []byte { return in.unsigned }),
			want: []string{"the image is not signed"}},

		// Inspection: unreadable headers are errors, unsound layouts warnings.
		{name: "inspect: e_lfanew out of range", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "i-lfanew.efi", with(in.unsigned, 0x3c, uint32(0x7fffffff)))
			return []string{"inspect", p}, p
		}, want: []string{"e_lfanew", "beyond the end of the file"}},
		{name: "inspect: section data past EOF", warn: true, args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "i-short.efi", in.unsigned[:len(in.unsigned)-0x100])
			return []string{"inspect", p}, p
		}, want: []string{"raw data at", "lies beyond the end of the file"}},
		{name: "inspect: sections overlapping", warn: true, args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "i-overlap.efi", with(in.unsigned, secField(1, 20), uint32(0x500)))
			return []string{"inspect", p}, p
		}, want: []string{`section 1 (".data"): raw data at 1280+512 overlaps that of section 0 (".text")`}},

		{name: "inspect: sections naming the same data over and over", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			secs := make([]petest.Section, 2000)
			for i := range secs {
				secs[i] = petest.Sec(".linux", 0x20000, 0x10000, 0x20000, 0x10000, nil)
			}
			p := in.file(t, "i-repeat.efi", petest.Stub(0x20000, secs, 0, nil))
			return []string{"inspect", p}, p
		}, want: []string{"the data of the sections shown adds up to more than", "the sections overlap over and over"}},

		// PCR signatures.
		{name: "join-pcrsig: signatures not JSON", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "sigs.json", []byte("{\"sha256\": [}"))
			return []string{"build", "--join-pcrsig", in.uki, "--pcrsig", "@" + p, "--output", "OUT"}, p
		}, want: []string{"not a JSON object"}},
		{name: "join-pcrsig: UKI without .pcrsig", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			return []string{"build", "--join-pcrsig", in.uki, "--pcrsig", "{}", "--output", "OUT"}, in.uki
		}, want: []string{"no .pcrsig section"}},
		{name: "join-pcrsig: .pcrsig not JSON", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := filepath.Join(in.dir, "bad-pcrsig.efi")
			if code, _, e := runOurs("build", "--stub", in.stub, "--linux", in.kernel, "--uname", "x", "--section", ".pcrsig:{oops", "--output", p); code != 0 {
				t.Fatal(e)
			}
			return []string{"build", "--join-pcrsig", p, "--pcrsig", "{}", "--output", "OUT"}, p
		}, want: []string{".pcrsig is not a JSON object"}},
		{name: "measure sign --append not JSON", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "append.json", []byte("[1, 2"))
			return []string{"measure", "sign", "--linux", in.kernel, "--private-key", in.key, "--append", p}, p
		}, want: []string{"Failed to parse JSON object"}},
		{name: "measure: UKI with section past EOF", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			p := in.file(t, "m-short.efi", in.unsigned[:len(in.unsigned)-0x100])
			return []string{"measure", p}, p
		}, want: []string{"lies beyond the end of the file"}},
		{name: "measure: sections larger than the address space", args: func(t *testing.T, in *malformedInputs) ([]string, string) {
			b := in.unsigned
			for i := 0; i < 3; i++ {
				b = with(b, secField(i, 8), uint32(0x70000000))
			}
			p := in.file(t, "m-huge.efi", b)
			return []string{"measure", p}, p
		}, want: []string{"VirtualSize add up to", "more than the 4 GiB address space"}},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestMalformedInputs runs every command on broken and hostile input: the
// command fails with exactly one error line that names the file and the
// defect (or, for the documented warnings, succeeds with a warning that
// does), never panics, and leaves no output and no temporary file: an
// existing output stays as it was.
func TestMalformedInputs(t *testing.T) {
	in := newMalformedInputs(t)
	cases := malformedCases()
	if len(cases) < 40 {
		t.Errorf("only %d malformed-input cases", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Errorf("duplicate case %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			outDir := t.TempDir()
			out := filepath.Join(outDir, "uki.efi")
			previous := []byte("previous image")
			if err := os.WriteFile(out, previous, 0o644); err != nil {
				t.Fatal(err)
			}
			args, file := c.args(t, in)
			for i := range args {
				if args[i] == "OUT" {
					args[i] = out
				}
			}
			code, stdout, stderr := runOurs(args...)
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("panic: %s", stderr)
			}
			var errs, warns []string
			for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
				switch {
				case strings.HasPrefix(l, "ukibuild: error: "):
					errs = append(errs, l)
				case strings.HasPrefix(l, "ukibuild: warning: "):
					warns = append(warns, l)
				case l == "" || strings.HasPrefix(l, "Wrote unsigned "):
				case measureVerbAt(args) >= 0 && strings.HasPrefix(l, "Failed to "):
					// measure's verbs refuse in systemd-measure's words
					// (TestMeasureRefusalsMatchSystemdMeasure).
					errs = append(errs, l)
				default:
					t.Errorf("stray stderr line %q", l)
				}
			}
			var msg string
			if c.warn {
				if code != 0 || len(errs) != 0 {
					t.Fatalf("exit %d, stderr %q; want success with a warning", code, stderr)
				}
				for _, w := range warns {
					if strings.Contains(w, c.want[0]) {
						msg = w
					}
				}
				if msg == "" {
					t.Fatalf("no warning containing %q in %q", c.want[0], stderr)
				}
			} else {
				if code == 0 {
					t.Fatalf("succeeded (stdout %q, stderr %q); want an error", stdout, stderr)
				}
				if len(errs) != 1 {
					t.Fatalf("want one error line, got %q", stderr)
				}
				msg = errs[0]
				if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, previous) {
					t.Errorf("the previous output was changed or removed (%v)", err)
				}
				if ents, _ := os.ReadDir(outDir); len(ents) != 1 {
					t.Errorf("output directory holds %v; want only the previous output", ents)
				}
			}
			if !strings.Contains(msg, file) {
				t.Errorf("message %q does not name %s", msg, file)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			if c.alsoWarn != "" && !strings.Contains(strings.Join(warns, "\n"), c.alsoWarn) {
				t.Errorf("no warning containing %q in %q", c.alsoWarn, stderr)
			}
			t.Logf("%s", msg)
			if strings.Contains(stderr, "s3cr3t-1234") || strings.Contains(stderr, "wrong horse") {
				t.Errorf("a PIN or passphrase appears in %q", stderr)
			}
		})
	}
}
