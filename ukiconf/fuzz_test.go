package ukiconf

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: any bytes parse without a panic; every syntax error is an
// *Error naming the file and a line of it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[UKI]\nLinux=/boot/vmlinuz\nCmdline=quiet # comment\n  continued\n",
		"# c\r\n[UKI]\r\nInitrd = a\r\n\tb\r\n[PCRSignature:x]\r\nPCRPrivateKey=k\r\n",
		"[DEFAULT]\nA=1\n[UKI]\nA=2\nA=3\n", "no section\n", "[UKI\n", "[UKI]\n=value\n", "\n\n[]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.conf", data)
		if err != nil {
			lines := strings.Count(string(data), "\n") + strings.Count(string(data), "\r") + 1
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Path != "fuzz.conf" || e.Line < 1 || e.Line > lines {
				t.Fatalf("error %v names line %d of a %d-line input", err, e.Line, lines)
			}
			return
		}
		if file == nil {
			t.Fatal("no file and no error")
		}
	})
}
