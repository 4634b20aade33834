package attest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
)

// TestEntryNeedsSystemdBoot262: a Type #1 entry is predicted only when the
// last loader is systemd-boot 262 (Debian's, whose .sdmagic the strings of
// the binary show); a stub, and Debian's systemd-boot 257 (shipped next
// to the 257 stub), are refused, naming the file and what it is.
func TestEntryNeedsSystemdBoot262(t *testing.T) {
	tools := reftools.Locate(t)
	u := buildUKI(t, "262")
	boot257 := filepath.Join(filepath.Dir(tools.Path(t, "UKIBUILD_STUB_257")), "systemd-bootx64.efi")
	if _, err := os.Stat(boot257); err != nil {
		t.Fatalf("systemd-boot 257 of the reference tools: %v", err)
	}
	predict := func(loader string) error {
		_, err := attest.Predict(context.Background(), u, attest.Machine{PCRs: []int{4}, Banks: []pcr.Bank{pcr.SHA256},
			Loaders: []string{loader}, Entry: &attest.Entry{UKI: "/EFI/Linux/a.efi"}})
		return err
	}
	if err := predict(tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262")); err != nil {
		t.Errorf("systemd-boot 262: %v", err)
	}
	stub := tools.Path(t, "UKIBUILD_STUB_262")
	if err := predict(stub); err == nil || !strings.Contains(err.Error(), stub) || !strings.Contains(err.Error(), "systemd-stub") {
		t.Errorf("a stub as the loader: %v; want an error naming %s, a systemd-stub", err, stub)
	}
	if err := predict(boot257); err == nil || !strings.Contains(err.Error(), boot257) || !strings.Contains(err.Error(), "systemd-boot 257") {
		t.Errorf("systemd-boot 257: %v; want an error naming %s and its version", err, boot257)
	}
}
