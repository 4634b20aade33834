package attest_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
)

// cancelledAfterEntry is a context whose first Err (Predict's check on
// entry) is nil and every later one context.Canceled: a Predict that passes
// its context on stops in the first image it reads, naming it, rather than
// at one of its own later checks (which return the bare error).
type cancelledAfterEntry struct {
	context.Context // a cancellable one: its Done is not nil
	checks          atomic.Int32
}

func (c *cancelledAfterEntry) Err() error {
	if c.checks.Add(1) == 1 {
		return nil
	}
	return context.Canceled
}

// TestPredictCancelledInImages: the context Predict takes reaches the reads
// of the loaders for PCR 4 (eventlog.ImageApplication) and for PCR 7
// (secureboot.AuthorizeFile: a stopped read is an error, not the
// firmware's refusal).
func TestPredictCancelledInImages(t *testing.T) {
	tools := reftools.Locate(t)
	u := buildUKI(t, "262")
	loader := tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262")
	for _, c := range []struct {
		name string
		m    attest.Machine
	}{
		{"PCR 4", attest.Machine{PCRs: []int{4}}},
		{"PCR 7", attest.Machine{PCRs: []int{7}, SecureBoot: &attest.SecureBoot{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx := &cancelledAfterEntry{Context: base}
			c.m.Banks = []pcr.Bank{pcr.SHA256}
			c.m.Loaders = []string{loader}
			_, err := attest.Predict(ctx, u, c.m)
			var na *attest.NotAuthorizedError
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), loader) || errors.As(err, &na) {
				t.Errorf("Predict cancelled after its first check: %v; want context.Canceled while reading %s", err, loader)
			}
		})
	}
}
