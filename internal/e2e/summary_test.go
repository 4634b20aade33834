package e2e

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// The boot tests' cases (numbered as in the issue that asked for them).
// Every one of them records at least one row; the summary table printed
// after the run names any that recorded none (a test that stopped early,
// or one left out by -run), so a missing case is visible, never silent.
var cases = []string{
	"1 signed UKI, stub 262",
	"1 signed UKI, stub 257",
	"1 signed UKI, stub 254",
	"1 signed UKI, stub 252",
	"2 unseal in initrd",
	"3 unsigned UKI",
	"3 UKI signed, key not in db",
	"4 UKI signed on PKCS#11 token",
	"5 event log, stub 262",
	"5 event log, stub 257",
	"5 event log, stub 254",
	"5 event log, stub 252",
	"6 systemd-boot 262 starts the UKI",
	"7 console appended, serial and display",
	"7 console appended, serial only",
	"7 console appended, VirtIO console only",
	"8 PCR 9 with trixie's 6.12 kernel",
	"8 PCR 9 with sid's kernel",
	"9 offline credential in the initrd",
	"10 keys enrolled from EFI signature lists",
	"10 UKI's hash in dbx",
	"11 UKI signed with systemd-sbsign's attributes",
	"12 boot secret",
	"13 .efifw picked by CHID",
	"14 shim 16.1 starts the UKI",
	"14 shim 16.1, UKI signed by an enrolled MOK",
	"14 shim 16.1 starts systemd-boot 262, which starts the UKI",
	"14 shim 16.1 refuses a wrong-key UKI",
	"15 systemd-boot 262 Type #1 entry: uki, extra, profile, options",
	"16 arm64 signed UKI, stub 262",
	"16 arm64 signed UKI, stub 257",
	"16 arm64 signed UKI, stub 252",
	"17 arm64 unsigned UKI",
	"17 arm64 UKI signed, key not in db",
	"18 arm64 .dtbauto picked by .hwids",
	"19 systemd 262.1 initrd from Debian packages",
	"19 systemd 262.1 initrd through systemd-boot 262.1",
	"20 arm64 shim 16.1 starts the UKI",
	"20 arm64 shim 16.1 refuses a wrong-key UKI",
}

type row struct {
	name, check, expected, seen string
	ok                          bool
}

var summary struct {
	sync.Mutex
	rows  []row
	start time.Time
}

// record adds a row to the summary table; name must be one of cases.
func record(t *testing.T, name, check, expected, seen string, ok bool) {
	t.Helper()
	known := false
	for _, c := range cases {
		known = known || c == name
	}
	if !known {
		t.Errorf("record: %q is not one of the boot test cases", name)
	}
	summary.Lock()
	defer summary.Unlock()
	summary.rows = append(summary.rows, row{name, check, expected, seen, ok})
}

// printSummary writes the table: case, check, expected, seen, result.
func printSummary(w io.Writer) {
	summary.Lock()
	defer summary.Unlock()
	fmt.Fprintf(w, "\n=== boot test summary (Secure Boot: OVMF %s, AAVMF %s, our PK/KEK/db) ===\n", ovmfCode, aavmfCode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tCHECK\tEXPECTED\tSEEN\tRESULT")
	fail, missing := 0, 0
	for _, c := range cases {
		n := 0
		for _, r := range summary.rows {
			if r.name != c {
				continue
			}
			n++
			res := "ok"
			if !r.ok {
				res = "FAIL"
				fail++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.name, r.check, oneLine(r.expected), oneLine(r.seen), res)
		}
		if n == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\tno result: the test stopped before this check, or was not run\tMISSING\n", c)
			missing++
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%d checks, %d failed; %d of %d cases without a result; wall time %s\n",
		len(summary.rows), fail, missing, len(cases), time.Since(summary.start).Round(time.Second))
	// The failures once more, last: CI shows only the tail of a long run,
	// and a failed check must be readable there without the whole table.
	for _, r := range summary.rows {
		if !r.ok {
			fmt.Fprintf(w, "FAILED: %s: %s: expected %s; seen %s\n", r.name, r.check, oneLine(r.expected), oneLine(r.seen))
		}
	}
}

func oneLine(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), " ")
}

// TestMain prints the summary table after the tests and removes the run's
// directory (built binaries, keys, varstore, each boot's ESP and serial
// log) only when every test passed; otherwise it says where it is.
func TestMain(m *testing.M) {
	summary.start = time.Now()
	code := m.Run()
	printSummary(os.Stdout)
	if envVal != nil {
		if envVal.sb != nil && envVal.sb.hsm != nil {
			_ = envVal.sb.hsm.Close()
		}
		if code == 0 {
			_ = os.RemoveAll(envVal.dir)
		} else {
			fmt.Printf("boot test artefacts (keys, varstore, ESPs, serial logs) kept in %s\n", envVal.dir)
		}
	}
	os.Exit(code)
}
