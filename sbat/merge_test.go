package sbat

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type mergeCase struct {
	name     string
	sections [][]byte
	texts    []string
	want     string
	warnings int // number of warnings MergeTexts must emit
}

// Go copies of the constants defined in testdata/merge_oracle.py.
const (
	oracleStub   = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nstub-x,1,Example Stub Vendor,stub-x,7,https://stub.example/\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" // STUB in merge_oracle.py
	oracleKernel = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nlinux,1,The Linux Developers,linux,6.1,https://linux.example/\nlinux.acme,2,Acme,linux,6.1-3,mailto:sec@acme.example\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"                                                                                                                                        // KERNEL in merge_oracle.py
	oracleT1     = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\r\nfoo,1,Foo Inc,foo,1.0,https://foo.example/\r\nbar,03,Bar,bar,2,https://bar.example/"                                                                                                                                                                                                                                         // T1 in merge_oracle.py
	oracleT2     = "sbat,2,Other Header,sbat,9,x\n\n\nbaz,65535,Baz,baz,0.1,https://baz.example/\n\n"                                                                                                                                                                                                                                                                                                                           // T2 in merge_oracle.py
)

// Each want value below is repr() of the Python value printed by
//
//	PYTHONPATH=.cache/reftools/sid/usr/lib/python3/dist-packages /usr/bin/python3 sbat/testdata/merge_oracle.py EXPR
//
// for the EXPR in the comment, translated to a Go literal.
var mergeOracleCases = []mergeCase{
	{
		name: "default UKI text only",
		// mod.merge_sbat([], [S])
		sections: [][]byte{},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 0,
	},
	{
		name: "default addon text only",
		// mod.merge_sbat([], [A])
		sections: [][]byte{},
		texts:    []string{DefaultAddon},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki-addon,1,UKI Addon,addon,1,https://www.freedesktop.org/software/systemd/man/latest/systemd-stub.html\n",
		warnings: 0,
	},
	{
		name: "stub and kernel",
		// mod.merge_sbat(pes(STUB, KERNEL), [S])
		sections: [][]byte{[]byte(oracleStub), []byte(oracleKernel)},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nstub-x,1,Example Stub Vendor,stub-x,7,https://stub.example/\nlinux,1,The Linux Developers,linux,6.1,https://linux.example/\nlinux.acme,2,Acme,linux,6.1-3,mailto:sec@acme.example\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 0,
	},
	{
		name: "stub only, two user texts (CRLF, leading zero, blank lines)",
		// mod.merge_sbat(pes(STUB), [T1, T2])
		sections: [][]byte{[]byte(oracleStub)},
		texts:    []string{oracleT1, oracleT2},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nstub-x,1,Example Stub Vendor,stub-x,7,https://stub.example/\nfoo,1,Foo Inc,foo,1.0,https://foo.example/\nbar,03,Bar,bar,2,https://bar.example/\n\n\nbaz,65535,Baz,baz,0.1,https://baz.example/\n\n",
		warnings: 0,
	},
	{
		name: "section without sbat header is skipped",
		// mod.merge_sbat(pes(b'not sbat\nfoo,1,a,b,c,d\n', KERNEL), [S])
		// ukify stderr: 'pe3 does not contain a valid SBAT section, skipping.\n'
		sections: [][]byte{[]byte("not sbat\nfoo,1,a,b,c,d\n"), []byte(oracleKernel)},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nlinux,1,The Linux Developers,linux,6.1,https://linux.example/\nlinux.acme,2,Acme,linux,6.1-3,mailto:sec@acme.example\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 1,
	},
	{
		name: "BOM before the header: skipped",
		// mod.merge_sbat(pes('\ufeffsbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a,b,c,d\n'.encode()), [S])
		// ukify stderr: 'pe5 does not contain a valid SBAT section, skipping.\n'
		sections: [][]byte{[]byte("\xef\xbb\xbfsbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a,b,c,d\n")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 1,
	},
	{
		name: "interior NUL and garbage kept verbatim",
		// mod.merge_sbat(pes(H + b'\nx,1,a,b,c,d\n\0garbage\n\0\0\0'), [S])
		sections: [][]byte{[]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a,b,c,d\n\x00garbage\n\x00\x00\x00")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a,b,c,d\n\x00garbage\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 1,
	},
	{
		name: "non-ASCII vendor field kept verbatim",
		// mod.merge_sbat(pes(H + '\nx,1,Vendor \u00e9,b,c,d\n'.encode()), [S])
		sections: [][]byte{[]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,Vendor \xc3\xa9,b,c,d\n")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,Vendor \u00e9,b,c,d\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 1,
	},
	{
		name: "U+2028 and U+0085 split lines as in Python",
		// mod.merge_sbat(pes(H + '\nx,1,a\u2028b,c,d,e\u0085f\n'.encode()), [S])
		sections: [][]byte{[]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a\xe2\x80\xa8b,c,d,e\xc2\x85f\n")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a\nb,c,d,e\nf\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 1,
	},
	{
		name: "VT, FF and FS split lines as in Python",
		// mod.merge_sbat(pes(H + b'\nx,1,a\x0bb\x0cc\x1cd,e,f\n'), [S])
		sections: [][]byte{[]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a\vb\x0cc\x1cd,e,f\n")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a\nb\nc\nd,e,f\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 1,
	},
	{
		name: "header only, no newline",
		// mod.merge_sbat(pes(H), [S])
		sections: [][]byte{[]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 0,
	},
	{
		name: "malformed sbat line counts as header",
		// mod.merge_sbat(pes(b'sbat,junk\ny,2,a,b,c,d'), [S])
		sections: [][]byte{[]byte("sbat,junk\ny,2,a,b,c,d")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\ny,2,a,b,c,d\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 1,
	},
	{
		name: "CRLF, lone CR and blank lines in a section",
		// mod.merge_sbat(pes(H + b'\r\nx,1,a,b,c,d\r\n\r\ny,1,a,b,c,d\rz,1,a,b,c,d\r\n'), [S])
		sections: [][]byte{[]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\r\nx,1,a,b,c,d\r\n\r\ny,1,a,b,c,d\rz,1,a,b,c,d\r\n")},
		texts:    []string{DefaultUKI},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nx,1,a,b,c,d\n\ny,1,a,b,c,d\nz,1,a,b,c,d\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
		warnings: 0,
	},
	{
		name: "section with only whitespace lines is skipped",
		// mod.merge_sbat(pes(b'\n\n  \n'), [A])
		// ukify stderr: 'pe13 does not contain a valid SBAT section, skipping.\n'
		sections: [][]byte{[]byte("\n\n  \n")},
		texts:    []string{DefaultAddon},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki-addon,1,UKI Addon,addon,1,https://www.freedesktop.org/software/systemd/man/latest/systemd-stub.html\n",
		warnings: 1,
	},
	{
		name: "no sections, no user texts",
		// mod.merge_sbat([], [])
		sections: [][]byte{},
		texts:    []string{},
		want:     "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n",
		warnings: 0,
	},
}

// TestDefaultsMatchUkify pins DefaultUKI and DefaultAddon to ukify's
// constants: repr(mod.STUB_SBAT) and repr(mod.ADDON_SBAT) from
// testdata/merge_oracle.py.
func TestDefaultsMatchUkify(t *testing.T) {
	if want := "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n"; DefaultUKI != want {
		t.Errorf("DefaultUKI = %q, want %q", DefaultUKI, want)
	}
	if want := "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nuki-addon,1,UKI Addon,addon,1,https://www.freedesktop.org/software/systemd/man/latest/systemd-stub.html\n"; DefaultAddon != want {
		t.Errorf("DefaultAddon = %q, want %q", DefaultAddon, want)
	}
	for _, s := range []string{DefaultUKI, DefaultAddon} {
		if _, err := Parse([]byte(s)); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

// warnRecorder collects warnings.
type warnRecorder []string

func (w *warnRecorder) warn(format string, args ...any) {
	*w = append(*w, fmt.Sprintf(format, args...))
}

func peSections(datas [][]byte) []PESection {
	var s []PESection
	for i, d := range datas {
		s = append(s, PESection{Source: fmt.Sprintf("pe%d.efi", i+1), Data: d})
	}
	return s
}

func TestMergeTextsMatchesUkify(t *testing.T) {
	for _, tc := range mergeOracleCases {
		t.Run(tc.name, func(t *testing.T) {
			var w warnRecorder
			got, err := MergeTexts(peSections(tc.sections), tc.texts, w.warn)
			if err != nil {
				t.Fatalf("MergeTexts: %v", err)
			}
			if got != tc.want {
				t.Errorf("MergeTexts =\n%q\nwant\n%q", got, tc.want)
			}
			if len(w) != tc.warnings {
				t.Errorf("got %d warnings %q, want %d", len(w), w, tc.warnings)
			}
			// A nil warn function must give the same result.
			if got2, err := MergeTexts(peSections(tc.sections), tc.texts, nil); err != nil || got2 != got {
				t.Errorf("MergeTexts with nil warn = %q, %v", got2, err)
			}
		})
	}
}

func TestMergeTextsWarnings(t *testing.T) {
	var w warnRecorder
	sections := []PESection{
		{Source: "stub.efi", Data: []byte("not sbat\n")},
		{Source: "vmlinuz", Data: []byte("sbat,1,x,y,1,z\nbad\n")},
		{Data: []byte("\x00\x00")},
	}
	got, err := MergeTexts(sections, []string{DefaultUKI}, w.warn)
	if err != nil {
		t.Fatal(err)
	}
	if want := Header + "\nbad\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n"; got != want {
		t.Errorf("MergeTexts = %q, want %q", got, want)
	}
	want := []string{
		// ukify's own message for this case
		"stub.efi does not contain a valid SBAT section, skipping.",
		`vmlinuz: .sbat section breaks the SBAT rules (merged unchanged): line 2 "bad": has 1 fields, want 6 (component_name,component_generation,vendor_name,vendor_package_name,vendor_version,vendor_url)`,
		// ukify: IndexError (mod.merge_sbat(pes(b'\0\0'), [S]))
		"input PE 3 has an empty SBAT section, skipping.",
	}
	if strings.Join(w, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(want, "\n"))
	}
}

func TestMergeTextsErrors(t *testing.T) {
	tests := []struct {
		name     string
		sections []PESection
		texts    []string
		want     string // the error message
		index    int    // TextError.Index, or -1 for no TextError
	}{
		{
			// ukify: UnicodeDecodeError at position 19 (mod.merge_sbat(pes(b"sbat,1,a,b,1,c\nx,1,\xff,b,c,d\n\0"), [S]))
			name:     "non-UTF-8 section",
			sections: []PESection{{Source: "vmlinuz", Data: []byte("sbat,1,a,b,1,c\nx,1,\xff,b,c,d\n\x00")}},
			texts:    []string{DefaultUKI},
			want:     "sbat: vmlinuz: .sbat section is not valid UTF-8 (at byte offset 19)",
			index:    -1,
		},
		{
			// ukify: IndexError (mod.merge_sbat([], ['']))
			name:  "empty text",
			texts: []string{DefaultUKI, ""},
			want:  `--sbat argument 2: invalid SBAT text: no records: the first record must be the sbat record ("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md")`,
			index: 1,
		},
		{
			// ukify skips it with a message (mod.merge_sbat([], ['uki,1,a,b,c,d\n']))
			name:  "text without sbat record",
			texts: []string{"uki,1,a,b,c,d\n"},
			want:  `--sbat argument 1: invalid SBAT text: line 1 "uki,1,a,b,c,d": the first record must be the sbat record ("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md"), got component_name "uki"`,
			index: 0,
		},
		{
			// ukify skips it with a message (mod.merge_sbat([], ['\n'+S]))
			name:  "blank line before the sbat record",
			texts: []string{"\n" + DefaultUKI},
			want:  `--sbat argument 1: invalid SBAT text: line 1 "": the sbat record must be on the first line (empty lines may not precede it)`,
			index: 0,
		},
		{
			// ukify copies the NUL bytes into the section
			name:  "NUL in text",
			texts: []string{DefaultUKI + "\x00"},
			want:  "--sbat argument 1: invalid SBAT text: NUL byte at offset 158: a SBAT text must not contain NUL bytes",
			index: 0,
		},
		{
			// ukify copies the line unchecked
			name:  "bad generation",
			texts: []string{DefaultUKI, Header + "\nfoo,x,a,b,c,d\n"},
			want:  `--sbat argument 2: invalid SBAT text: line 2 "foo,x,a,b,c,d": generation "x" is not an integer in 1..65535`,
			index: 1,
		},
		{
			name:     "text errors win over section warnings",
			sections: []PESection{{Source: "stub", Data: []byte("garbage")}},
			texts:    []string{"@/path/to/file"},
			want:     `--sbat argument 1: invalid SBAT text: line 1 "@/path/to/file": has 1 fields, want 6 (component_name,component_generation,vendor_name,vendor_package_name,vendor_version,vendor_url)`,
			index:    0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w warnRecorder
			got, err := MergeTexts(tt.sections, tt.texts, w.warn)
			if err == nil {
				t.Fatalf("MergeTexts = %q, want error", got)
			}
			if got != "" {
				t.Errorf("MergeTexts returned %q with an error", got)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err, tt.want)
			}
			var te *TextError
			if errors.As(err, &te) != (tt.index >= 0) || (te != nil && te.Index != tt.index) {
				t.Errorf("TextError = %#v, want index %d", te, tt.index)
			}
			if tt.index >= 0 && len(w) != 0 {
				t.Errorf("warnings emitted before a text error: %q", w)
			}
		})
	}
}

func ExampleMergeTexts() {
	stub := []byte(Header + "\nstub-x,1,Example Stub Vendor,stub-x,7,https://stub.example/\n\x00\x00\x00\x00")
	out, err := MergeTexts([]PESection{{Source: "stub.efi", Data: stub}}, []string{DefaultUKI}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(out)
	// Output:
	// sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md
	// stub-x,1,Example Stub Vendor,stub-x,7,https://stub.example/
	// uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/
}

// FuzzMergeTexts checks that MergeTexts never panics, whatever the section
// bytes and user text, and that any output it returns is well framed.
func FuzzMergeTexts(f *testing.F) {
	f.Add([]byte(oracleStub), []byte(oracleKernel), DefaultUKI)
	f.Add([]byte("sbat,\xff"), []byte{}, "")
	f.Add([]byte("sbat,1\u2028x\x00y"), []byte("\x00"), oracleT2)
	f.Fuzz(func(t *testing.T, stub, kernel []byte, text string) {
		out, err := MergeTexts([]PESection{{Data: stub}, {Data: kernel}}, []string{text}, func(string, ...any) {})
		if err != nil {
			return
		}
		if !strings.HasPrefix(out, Header+"\n") || !strings.HasSuffix(out, "\n") {
			t.Fatalf("MergeTexts = %q: missing header or final newline", out)
		}
	})
}
