package sbat

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var (
	hdr = Record{"sbat", 1, "SBAT Version", "sbat", "1", "https://github.com/rhboot/shim/blob/main/SBAT.md"}
	uki = Record{"uki", 1, "UKI", "uki", "1", "https://uapi-group.org/specifications/specs/unified_kernel_image/"}
)

const ukiLine = "uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/"

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Record
	}{
		{"default UKI text", DefaultUKI, []Record{hdr, uki}},
		{"no final newline", Header + "\n" + ukiLine, []Record{hdr, uki}},
		{"header only", Header, []Record{hdr}},
		{"CRLF line ends", Header + "\r\n" + ukiLine + "\r\n", []Record{hdr, uki}},
		{"lone CR separates records", Header + "\r" + ukiLine + "\r", []Record{hdr, uki}},
		{"empty lines are ignored", "\n\r\n" + Header + "\n\n\r\r\n" + ukiLine + "\n\n", []Record{hdr, uki}},
		{"NUL padding", DefaultUKI + "\x00\x00\x00", []Record{hdr, uki}},
		{"NUL right after the last record", Header + "\n" + ukiLine + "\x00", []Record{hdr, uki}},
		{"spaces are kept verbatim", Header + "\n x ,1, a b , c, d ,e \n",
			[]Record{hdr, {" x ", 1, " a b ", " c", " d ", "e "}}},
		{"other sbat header values", "sbat,2,Other,sbat,9,x\n", []Record{{"sbat", 2, "Other", "sbat", "9", "x"}}},
		{"generation 65535", Header + "\nx,65535,a,b,c,d", []Record{hdr, {"x", 65535, "a", "b", "c", "d"}}},
		{"leading zeros in generation", Header + "\nx,007,a,b,c,d\ny,00065535,a,b,c,d",
			[]Record{hdr, {"x", 7, "a", "b", "c", "d"}, {"y", 65535, "a", "b", "c", "d"}}},
		{"duplicate non-sbat components", Header + "\nx,1,a,b,c,d\nx,2,a,b,c,d",
			[]Record{hdr, {"x", 1, "a", "b", "c", "d"}, {"x", 2, "a", "b", "c", "d"}}},
		{"all printable ASCII", Header + "\n!~\"#$%&'()*+-./:;<=>?@[\\]^_`{|},1,a,b,c,d",
			[]Record{hdr, {"!~\"#$%&'()*+-./:;<=>?@[\\]^_`{|}", 1, "a", "b", "c", "d"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) =\n%#v\nwant\n%#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	const fields = "(component_name,component_generation,vendor_name,vendor_package_name,vendor_version,vendor_url)"
	tests := []struct {
		name string
		in   string
		line int
		want string // the full error message
	}{
		{"empty", "", 0, `no records: the first record must be the sbat record ("` + Header + `")`},
		{"only empty lines", "\r\n\n\r", 0, `no records: the first record must be the sbat record ("` + Header + `")`},
		{"only NULs", "\x00\x00", 0, `no records: the first record must be the sbat record ("` + Header + `")`},
		{"garbage after NUL", DefaultUKI + "\x00\x00x\x00", 0,
			"trailing garbage after the first NUL byte (offset 158): byte 0x78 at offset 160, only NUL padding may follow"},
		{"record after NUL", Header + "\n\x00" + ukiLine, 0,
			"trailing garbage after the first NUL byte (offset 76): byte 0x75 at offset 77, only NUL padding may follow"},
		{"non-ASCII", Header + "\nx,1,Vend\xc3\xb6r,b,c,d\n", 2,
			`line 2 "x,1,Vend\u00f6r,b,c,d": non-ASCII byte 0xc3 at column 9: SBAT data must be ASCII`},
		{"UTF-8 BOM", "\xef\xbb\xbf" + DefaultUKI, 1,
			`line 1 "\ufeff` + Header + `": non-ASCII byte 0xef at column 1: SBAT data must be ASCII`},
		{"tab", Header + "\nx,1,a\tb,b,c,d\n", 2,
			`line 2 "x,1,a\tb,b,c,d": control character 0x09 at column 6: SBAT fields must be printable ASCII`},
		{"vertical tab", Header + "\nx,1,a,b,c,d\v\n", 2,
			`line 2 "x,1,a,b,c,d\v": control character 0x0b at column 12: SBAT fields must be printable ASCII`},
		{"DEL", Header + "\nx,1,a,b,c,d\x7f", 2,
			`line 2 "x,1,a,b,c,d\x7f": control character 0x7f at column 12: SBAT fields must be printable ASCII`},
		{"five fields", Header + "\nx,1,a,b,c\n", 2,
			`line 2 "x,1,a,b,c": has 5 fields, want 6 ` + fields},
		{"seven fields", Header + "\nx,1,a,b,c,d,e\n", 2,
			`line 2 "x,1,a,b,c,d,e": has 7 fields, want 6 ` + fields},
		{"trailing comma", Header + "\nx,1,a,b,c,d,\n", 2,
			`line 2 "x,1,a,b,c,d,": has 7 fields, want 6 ` + fields},
		{"one field", "sbat\n", 1, `line 1 "sbat": has 1 fields, want 6 ` + fields},
		{"empty component", Header + "\n,1,a,b,c,d", 2, `line 2 ",1,a,b,c,d": field 1 (component_name) is empty`},
		{"empty generation", Header + "\nx,,a,b,c,d", 2, `line 2 "x,,a,b,c,d": field 2 (component_generation) is empty`},
		{"empty vendor_name", Header + "\nx,1,,b,c,d", 2, `line 2 "x,1,,b,c,d": field 3 (vendor_name) is empty`},
		{"empty vendor_package_name", Header + "\nx,1,a,,c,d", 2, `line 2 "x,1,a,,c,d": field 4 (vendor_package_name) is empty`},
		{"empty vendor_version", Header + "\nx,1,a,b,,d", 2, `line 2 "x,1,a,b,,d": field 5 (vendor_version) is empty`},
		{"empty vendor_url", Header + "\nx,1,a,b,c,", 2, `line 2 "x,1,a,b,c,": field 6 (vendor_url) is empty`},
		{"generation not a number", Header + "\nfoo,x,a,b,c,d", 2, `line 2 "foo,x,a,b,c,d": generation "x" is not an integer in 1..65535`},
		{"generation 0", Header + "\nfoo,0,a,b,c,d", 2, `line 2 "foo,0,a,b,c,d": generation "0" is not an integer in 1..65535`},
		{"generation 000", Header + "\nfoo,000,a,b,c,d", 2, `line 2 "foo,000,a,b,c,d": generation "000" is not an integer in 1..65535`},
		{"generation 65536", Header + "\nfoo,65536,a,b,c,d", 2, `line 2 "foo,65536,a,b,c,d": generation "65536" is not an integer in 1..65535`},
		{"generation huge", Header + "\nfoo,99999999999999999999999,a,b,c,d", 2,
			`line 2 "foo,99999999999999999999999,a,b,c,d": generation "99999999999999999999999" is not an integer in 1..65535`},
		{"generation +1", Header + "\nfoo,+1,a,b,c,d", 2, `line 2 "foo,+1,a,b,c,d": generation "+1" is not an integer in 1..65535`},
		{"generation -1", Header + "\nfoo,-1,a,b,c,d", 2, `line 2 "foo,-1,a,b,c,d": generation "-1" is not an integer in 1..65535`},
		{"generation with space", Header + "\nfoo, 1,a,b,c,d", 2, `line 2 "foo, 1,a,b,c,d": generation " 1" is not an integer in 1..65535`},
		{"generation hex", Header + "\nfoo,0x1,a,b,c,d", 2, `line 2 "foo,0x1,a,b,c,d": generation "0x1" is not an integer in 1..65535`},
		{"generation 1.0", Header + "\nfoo,1.0,a,b,c,d", 2, `line 2 "foo,1.0,a,b,c,d": generation "1.0" is not an integer in 1..65535`},
		{"no sbat record", ukiLine + "\n", 1,
			`line 1 "` + ukiLine + `": the first record must be the sbat record ("` + Header + `"), got component_name "uki"`},
		{"sbat record second", ukiLine + "\n" + Header + "\n", 1,
			`line 1 "` + ukiLine + `": the first record must be the sbat record ("` + Header + `"), got component_name "uki"`},
		{"component SBAT is not sbat", "SBAT,1,a,b,c,d", 1,
			`line 1 "SBAT,1,a,b,c,d": the first record must be the sbat record ("` + Header + `"), got component_name "SBAT"`},
		{"second sbat record", Header + "\r\n\r\n" + Header + "\n", 3,
			`line 3 "` + Header + `": only the first record may have component_name "sbat"`},
		{"line numbers count CRLF once, CR and LF each", Header + "\r\n\r\r\n\nx\n", 5,
			`line 5 "x": has 1 fields, want 6 ` + fields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want error", tt.in, got)
			}
			if got != nil {
				t.Errorf("Parse returned records with an error: %#v", got)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, not *SyntaxError", err, err)
			}
			if se.Line != tt.line {
				t.Errorf("Line = %d, want %d", se.Line, tt.line)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %s\nwant    %s", err, tt.want)
			}
		})
	}
}

func TestSyntaxErrorWrapping(t *testing.T) {
	_, err := Parse([]byte(Header + "\nfoo,x,a,b,c,d\n"))
	wrapped := fmt.Errorf("my.sbat: %w", err)
	if got, want := wrapped.Error(), `my.sbat: line 2 "foo,x,a,b,c,d": generation "x" is not an integer in 1..65535`; got != want {
		t.Errorf("wrapped error = %q, want %q", got, want)
	}
	var se *SyntaxError
	if !errors.As(wrapped, &se) || se.Record != "foo,x,a,b,c,d" || se.Line != 2 {
		t.Errorf("errors.As: %#v", se)
	}
}

func TestFormat(t *testing.T) {
	recs := []Record{hdr, {"x", 7, "A B", "b", "c-1.0", "mailto:x@example.com"}}
	want := Header + "\nx,7,A B,b,c-1.0,mailto:x@example.com\n"
	if got := string(Format(recs)); got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
	if got := Format(nil); got == nil || len(got) != 0 {
		t.Errorf("Format(nil) = %#v, want empty non-nil", got)
	}
	if got, want := uki.String(), ukiLine; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	inputs := []string{
		DefaultUKI,
		DefaultAddon,
		Header + "\r\n\r\nx,0001,a,b,c,d\ry,65535, , , , \x00\x00",
	}
	for _, in := range inputs {
		recs, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		out := Format(recs)
		recs2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) = %v", in, err)
		}
		if !reflect.DeepEqual(recs, recs2) {
			t.Errorf("round trip of %q: %#v != %#v", in, recs2, recs)
		}
		if again := Format(recs2); string(again) != string(out) {
			t.Errorf("Format not stable: %q != %q", again, out)
		}
	}
	// Canonical text round-trips byte for byte.
	if got := string(Format(mustParse(t, DefaultUKI))); got != DefaultUKI {
		t.Errorf("Format(Parse(DefaultUKI)) = %q", got)
	}
	if got := string(Format(mustParse(t, DefaultAddon))); got != DefaultAddon {
		t.Errorf("Format(Parse(DefaultAddon)) = %q", got)
	}
}

func mustParse(t *testing.T, s string) []Record {
	t.Helper()
	r, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"", DefaultUKI, DefaultAddon, Header, Header + "\r\nx,01,a,b,c,d\r\x00\x00",
		Header + "\nx,1,a,b,c,d,e", Header + "\x00x", "\xef\xbb\xbf" + Header, Header + "\nx,65536,a,b,c,d",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Parse(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, not *SyntaxError", err, err)
			}
			if recs != nil {
				t.Fatalf("records returned with an error")
			}
			return
		}
		out := Format(recs)
		recs2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) failed: %v\nformatted: %q", data, err, out)
		}
		if !reflect.DeepEqual(recs, recs2) {
			t.Fatalf("round trip of %q changed records: %#v != %#v", data, recs2, recs)
		}
		// MergeTexts must accept any text Parse accepts, unless it has
		// empty lines before the sbat record or (trailing) NUL bytes.
		text := string(data)
		if !strings.ContainsRune(text, 0) && strings.HasPrefix(text, "sbat,") {
			if _, err := MergeTexts(nil, []string{text}, nil); err != nil {
				t.Fatalf("MergeTexts rejects Parse-valid %q: %v", text, err)
			}
		}
	})
}

func ExampleParse() {
	records, err := Parse([]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n" +
		"grub,3,Free Software Foundation,grub,2.12,https://www.gnu.org/software/grub/\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range records {
		fmt.Printf("%s generation %d (%s %s)\n", r.Component, r.Generation, r.VendorPackage, r.VendorVersion)
	}

	_, err = Parse([]byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n" +
		"grub,three,Free Software Foundation,grub,2.12,https://www.gnu.org/software/grub/\n"))
	fmt.Println(err)
	// Output:
	// sbat generation 1 (sbat 1)
	// grub generation 3 (grub 2.12)
	// line 2 "grub,three,Free Software Foundation,grub,2.12,https://www.gnu.org/software/grub/": generation "three" is not an integer in 1..65535
}
