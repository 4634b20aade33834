package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSwtpmLogReplay checks swtpmPCRs, which gives the arm64 boots their
// PCR values, against the TPM itself: tpm2-tools extend PCR 11 in both
// banks (TPM2_PCR_Extend) and PCR 12 with data (TPM2_PCR_Event) on a
// swtpm that logs its commands, then tpm2_pcrread reads them; replaying
// the log must give the same values. No QEMU.
func TestSwtpmLogReplay(t *testing.T) {
	need(t, "swtpm", "swtpm_setup", "tpm2_pcrextend", "tpm2_pcrevent", "tpm2_pcrread")
	dir, err := os.MkdirTemp("", "swtpmlog") // short: a socket lives here
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	state := newTPMState(t, dir)
	sock, log := filepath.Join(dir, "s"), filepath.Join(dir, "swtpm.log")
	sw := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state, "--server", "type=unixio,path="+sock,
		"--ctrl", "type=unixio,path="+sock+".ctrl", "--flags", "startup-clear", "--log", "file="+log+",level=20")
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sw.Process.Kill(); sw.Wait() }()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	tool := func(args ...string) string {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:path="+sock)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("ukibuild e2e PCR_Event data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tool("tpm2_pcrextend", "11:sha256="+strings.Repeat("ab", 32)+",sha1="+strings.Repeat("cd", 20))
	tool("tpm2_pcrextend", "11:sha256="+strings.Repeat("01", 32))
	tool("tpm2_pcrevent", "12", "data")
	read := tool("tpm2_pcrread", "sha1:11,12+sha256:11,12")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	pcrs, err := swtpmPCRs(b)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, bank := range []string{"sha1", "sha256"} {
		fmt.Fprintf(&want, "  %s:\n", bank)
		for _, i := range []int{11, 12} {
			fmt.Fprintf(&want, "    %d: 0x%X\n", i, pcrs[bank][i])
		}
	}
	if strings.TrimSpace(read) != strings.TrimSpace(want.String()) {
		t.Errorf("tpm2_pcrread:\n%s\nthe replay of swtpm's log:\n%s", read, want.String())
	}
}
