package uki

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzHWIDFile: any bytes in a --hwids description file give a device or
// an error, never a panic, and encoding a parsed device does not panic.
func FuzzHWIDFile(f *testing.F) {
	for _, s := range []string{
		`{"type": "devicetree", "name": "Board A", "compatible": "test,board-a", "hwids": ["45d37dbe-40fb-57bd-a257-55f422d4dc0a"]}`,
		`{"type": "uefi-fw", "name": "FW", "fwid": "test-fw", "hwids": ["{e12521bf-0ed8-5406-af87-adad812c57c5}"]}`,
		`{"type": "devicetree", "name": "x", "compatible": "a\u0000b", "hwids": []}`, `[]`, `{"hwids": [1]}`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "device.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := readHWIDFile(p)
		if err != nil {
			return
		}
		_, _ = EncodeHWIDs([]HWIDDevice{d}) // an error is fine; a panic is not
	})
}
