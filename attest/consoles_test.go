package attest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// TestConsoleAlternatives: a stub 262 UKI whose .cmdline has no console=
// gets PCR 9's command line event for each outcome of the stub's console
// rule when the machine's consoles are unknown (one for known consoles, and
// none to choose from when .cmdline has a console=); a log with the
// "serial COM1" command line matches and says so; a log with another
// command line differs at that event; the alternatives survive JSON.
func TestConsoleAlternatives(t *testing.T) {
	tools := reftools.Locate(t)
	build := func(cmdline string) string {
		out := filepath.Join(t.TempDir(), "uki.efi")
		none := ""
		if err := uki.Build(context.Background(), uki.Config{Stub: tools.Path(t, "UKIBUILD_STUB_262"), Linux: tools.Path(t, "UKIBUILD_KERNEL"),
			Cmdline: uki.Text("cmdline", cmdline), Uname: &none}, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	banks := []pcr.Bank{pcr.SHA256}
	quiet := build("quiet")
	ref, err := Predict(context.Background(), quiet, Machine{PCRs: []int{9}, Banks: banks})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ref.Alternatives(0)); n != 18 || len(ref.Notes) != 1 {
		t.Fatalf("%d alternatives, notes %q; want 18 and a note", n, ref.Notes)
	}
	com1 := eventlog.Consoles{Serial: 1}
	known, err := Predict(context.Background(), quiet, Machine{PCRs: []int{9}, Banks: banks, Consoles: &com1})
	if err != nil {
		t.Fatal(err)
	}
	if len(known.Alternatives(0)) != 0 || !strings.Contains(known.Events()[0].Description, `"quiet console=uart,io,0x3f8"`) {
		t.Errorf("known consoles: %q, %d alternatives", known.Events()[0].Description, len(known.Alternatives(0)))
	}
	// The log Linux writes for the serial COM1 machine: its PCR 9 events.
	seen := known.Events()
	res := ref.compare(9, seen)
	if res.Status != Match || len(res.Chosen) != 1 || !strings.Contains(res.Chosen[0], "serial COM1") {
		t.Errorf("COM1 log: %+v", res)
	}
	other := eventlog.LoadOptionsLinuxEvent("quiet console=ttyS0", banks)
	res = ref.compare(9, append([]eventlog.Event{other}, seen[1:]...))
	if res.Status != Differs || res.Index != 0 {
		t.Errorf("another command line: %+v", res)
	}
	if vs, err := ref.Values(9, pcr.SHA256); err != nil || len(vs) != 19 {
		t.Errorf("PCR 9 values: %d, %v", len(vs), err)
	}
	if _, err := ref.Value(9, pcr.SHA256); err == nil {
		t.Error("Value of an ambiguous PCR: no error")
	}
	if _, err := ref.PCRLock(nil); err == nil {
		t.Error("PCRLock with alternatives: no error")
	}
	data, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	var back Reference
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if res := back.compare(9, seen); res.Status != Match || len(back.Alternatives(0)) != 18 {
		t.Errorf("after JSON: %+v", res)
	}
	ttyS0, err := Predict(context.Background(), build("console=ttyS0 quiet"), Machine{PCRs: []int{9}, Banks: banks})
	if err != nil || len(ttyS0.Alternatives(0)) != 0 || len(ttyS0.Notes) != 0 {
		t.Errorf("a command line with console=: %v, notes %q", err, ttyS0.Notes)
	}
}
