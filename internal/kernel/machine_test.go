package kernel

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestMachineDebianKernels: Machine on Debian's amd64, arm64 and riscv64
// kernels, as they are and gzip-compressed, equals the COFF machine that
// pefile (sid's python3-pefile) reads from the uncompressed image; with the
// PE header's MZ signature removed, the arm64 and riscv64 Image headers
// give the same machine.
func TestMachineDebianKernels(t *testing.T) {
	tools := reftools.Locate(t)
	paths := map[string]string{}
	for _, k := range []string{"UKIBUILD_KERNEL", "UKIBUILD_KERNEL_AA64", "UKIBUILD_KERNEL_RISCV64"} {
		paths[k] = tools.Path(t, k)
	}
	in, _ := json.Marshal(paths)
	out := tools.UkifyPython(t, `import pefile
paths = json.load(sys.stdin)
json.dump({k: pefile.PE(p, fast_load=True).FILE_HEADER.Machine for k, p in paths.items()}, sys.stdout)
`, in)
	var want map[string]uint16
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("pefile's output %q: %v", out, err)
	}
	for key, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, b []byte, want uint16) {
			t.Helper()
			m, ok, err := Machine(bytes.NewReader(b), int64(len(b)))
			if err != nil || !ok || m != want {
				t.Errorf("%s %s: Machine = %#x, %v, %v; want %#x", key, what, m, ok, err, want)
			}
		}
		check("as it is", data, want[key])
		gz, err := exec.Command("gzip", "-c", "-1", path).Output()
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		check("gzip'd", gz, want[key])
		if key != "UKIBUILD_KERNEL" {
			head := bytes.Clone(data[:8192])
			head[0], head[1] = 0, 0
			check("without MZ", head, want[key])
		}
	}
}

// TestMachineUnknown: content that is no kernel is not told, without an
// error; corrupt compressed data is an error.
func TestMachineUnknown(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("MZ"), bytes.Repeat([]byte{0x55}, 5000)} {
		if m, ok, err := Machine(bytes.NewReader(b), int64(len(b))); ok || err != nil {
			t.Errorf("%.8q: %#x, %v, %v", b, m, ok, err)
		}
	}
	corrupt := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, bytes.Repeat([]byte{0xff}, 100)...)
	if _, ok, err := Machine(bytes.NewReader(corrupt), int64(len(corrupt))); ok || err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("corrupt gzip: %v, %v", ok, err)
	}
}
