package attest_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// TestBootSecretMachineSpecific: with Machine.BootSecret a stub 262 UKI's
// PCR 9 initrd event is machine-specific: it has a reason, the PCR has no
// value (Values, KeylimePolicy and PCRLock refuse with
// *MachineSpecificError or a message), and the JSON form keeps the mark
// through a round trip, lists no values for PCR 9, and a document that
// lists some is refused; a UKI without an initrd is refused (the secret
// would be the whole initrd). A 257 stub makes no secret: nothing is marked.
// (case 12 of the boot tests checks Verify on real logs with and without a
// boot secret.)
func TestBootSecretMachineSpecific(t *testing.T) {
	none, err := eventlog.ParseConsoles("none")
	if err != nil {
		t.Fatal(err)
	}
	tools := reftools.Locate(t)
	predict := func(version string) *attest.Reference {
		out := filepath.Join(t.TempDir(), "uki.efi")
		empty := ""
		err := uki.Build(context.Background(), uki.Config{Stub: tools.Path(t, "UKIBUILD_STUB_"+version), Linux: tools.Path(t, "UKIBUILD_KERNEL"),
			Initrds: []uki.Content{uki.Text("initrd", "an initrd")}, Cmdline: uki.Text("cmdline", "console=ttyS0"), Uname: &empty}, out)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := attest.Predict(context.Background(), out, attest.Machine{PCRs: []int{9, 11},
			Banks: []pcr.Bank{pcr.SHA256}, BootSecret: true, Consoles: &none})
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	ref := predict("262")
	var marked []int
	for i := range ref.Events() {
		if why, ok := ref.MachineSpecific(i); ok {
			marked = append(marked, i)
			if !strings.Contains(why, "boot-secret") {
				t.Errorf("reason %q does not name the boot secret", why)
			}
		}
	}
	evs := ref.Events()
	if len(marked) != 1 || evs[marked[0]].PCR != 9 || !strings.Contains(evs[marked[0]].Description, "Linux initrd") {
		t.Fatalf("machine-specific events %v of %v; want PCR 9's initrd event", marked, evs)
	}
	var ms *attest.MachineSpecificError
	if _, err := ref.Values(9, pcr.SHA256); !errors.As(err, &ms) || ms.PCR != 9 {
		t.Errorf("Values(9): %v; want a *MachineSpecificError for PCR 9", err)
	}
	if _, err := ref.Values(11, pcr.SHA256); err != nil {
		t.Errorf("Values(11): %v", err)
	}
	if _, err := ref.KeylimePolicy(pcr.SHA256); !errors.As(err, &ms) {
		t.Errorf("KeylimePolicy: %v; want a *MachineSpecificError", err)
	}
	if _, err := ref.PCRLock([]int{9}); err == nil || !strings.Contains(err.Error(), "machine-specific") {
		t.Errorf("PCRLock: %v; want a refusal naming the machine-specific event", err)
	}
	b, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if v := doc["pcrs"].(map[string]any)["9"].(map[string]any); len(v) != 0 {
		t.Errorf(`"pcrs" lists values for PCR 9: %v`, v)
	}
	var back attest.Reference
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("reading the JSON form back: %v", err)
	}
	if why, ok := back.MachineSpecific(marked[0]); !ok || why == "" {
		t.Errorf("the JSON round trip lost the mark of event %d", marked[0])
	}
	bad := strings.Replace(string(b), `"9":{}`, `"9":{"sha256":["`+strings.Repeat("00", 32)+`"]}`, 1)
	var re *attest.ReferenceError
	if err := json.Unmarshal([]byte(bad), &back); !errors.As(err, &re) {
		t.Errorf("a document listing PCR 9 values: %v; want a *ReferenceError", err)
	}
	if _, err := attest.Predict(context.Background(), buildUKI(t, "262"), attest.Machine{PCRs: []int{9}, BootSecret: true, Consoles: &none}); err == nil || !strings.Contains(err.Error(), "no initrd") {
		t.Errorf("a UKI without an initrd: %v; want an error (the boot secret's archive would be the whole initrd)", err)
	}
	// A stub newer than those examined is refused, not guessed.
	if _, err := attest.Predict(context.Background(), buildUKI(t, "262"), attest.Machine{PCRs: []int{9}, StubVersion: "263", BootSecret: true, Consoles: &none}); err == nil {
		t.Errorf("stub 263 with a boot secret: %v; want a refusal (263 was not examined)", err)
	}
	old := predict("257")
	for i := range old.Events() {
		if _, ok := old.MachineSpecific(i); ok {
			t.Errorf("stub 257: event %d marked machine-specific; stubs before 261 make no boot secret", i)
		}
	}
	if !strings.Contains(strings.Join(old.Notes, "\n"), "makes no boot secret") {
		t.Errorf("stub 257: notes %q do not say that no boot secret is made", old.Notes)
	}
}
