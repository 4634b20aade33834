package secureboot_test

import (
	"bytes"
	"testing"

	"github.com/ukibuild/ukibuild/secureboot"
)

// FuzzParse: malformed lists and .auth files give errors, never a panic,
// and what parses gives back its bytes.
func FuzzParse(f *testing.F) {
	l, _ := secureboot.HashList(owner, make([]byte, 32))
	f.Add(l.Bytes())
	f.Add(append(make([]byte, 16), 0x2c, 0, 0, 0, 0, 2, 0xf1, 0x0e))
	f.Fuzz(func(t *testing.T, data []byte) {
		if d, err := secureboot.ParseSignatureLists(data); err == nil && !bytes.Equal(d.Bytes(), data) {
			t.Errorf("parsed lists give other bytes")
		}
		_, _ = secureboot.ParseAuth(data)
	})
}
