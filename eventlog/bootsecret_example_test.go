package eventlog_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/eventlog"
)

// Stubs from systemd 261 on may add a boot secret to the initrd (the
// commit that introduced it is first in tag v261), so for them PCR 9's
// initrd event may be machine-specific; versions newer than those examined
// are refused.
func ExampleAddsBootSecret() {
	for _, v := range []string{"257.9", "260.1", "261", "262.1-1", "263"} {
		adds, err := eventlog.AddsBootSecret(v)
		fmt.Println(v, adds, err)
	}
	// Output:
	// 257.9 false <nil>
	// 260.1 false <nil>
	// 261 true <nil>
	// 262.1-1 true <nil>
	// 263 false whether systemd-stub 263 adds a boot secret to the initrd is not known (261 to 262 were examined)
}
