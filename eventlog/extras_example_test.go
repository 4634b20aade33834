package eventlog_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// Sort the files next to a UKI (<uki>.efi.extra.d/) and in the ESP's
// /loader/credentials/ and /loader/extensions/ as systemd-stub 262 and 254
// take them, and list the PCR 12 and 13 events each stub logs for them.
// Large files would be given as ExtraFile.Content (a uki.File, say) and
// read as a stream.
func ExampleFindExtras() {
	local := []eventlog.ExtraFile{
		{Name: "db.cred", Data: []byte("secret")},
		{Name: "tools.raw", Data: []byte("sysext image")},
		{Name: "etc.confext.raw", Data: []byte("confext image")},
	}
	extensions := []eventlog.ExtraFile{{Name: "debug.raw", Data: []byte("global sysext image")}}
	for _, major := range []int{262, 254} {
		x, err := eventlog.FindExtras(major, local, nil, extensions)
		if err != nil {
			panic(err)
		}
		events, err := eventlog.ExtrasEvents(x, []pcr.Bank{pcr.SHA256})
		if err != nil {
			panic(err)
		}
		fmt.Printf("stub %d:\n", major)
		for _, ev := range events {
			fmt.Printf("  PCR %d %s\n", ev.PCR, ev.Description)
		}
	}
	// Output:
	// stub 262:
	//   PCR 12 Credentials initrd (db.cred)
	//   PCR 13 System extension initrd (tools.raw)
	//   PCR 13 Global system extension initrd (debug.raw)
	//   PCR 12 Configuration extension initrd (etc.confext.raw)
	// stub 254:
	//   PCR 12 Credentials initrd (db.cred)
	//   PCR 13 System extension initrd (etc.confext.raw tools.raw)
}
