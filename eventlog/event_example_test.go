package eventlog_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// Predict the events of PCR 4 and PCR 11 for a UKI booted by EDK2 firmware
// (its Authenticode digest would come from eventlog.ImageApplication), replay
// them to PCR values, and compare them with the events of a boot (here the
// prediction itself with the UKI's digest changed, as eventlog.Parse
// would return them from a TCG event log). The values printed are not ours
// taken on faith: TestCompareEventsExampleValues checks PCR 11 against
// systemd-measure 262.1 and replays PCR 4 by hand.
func ExampleCompareEvents() {
	banks := []pcr.Bank{pcr.SHA256}
	digest := sha256.Sum256([]byte("stand-in for the UKI's Authenticode digest"))
	uki := eventlog.BootApplication{Name: "uki.efi", Digests: []pcr.Value{{Bank: pcr.SHA256, Digest: digest[:]}}}
	events, err := eventlog.PCR4Events(eventlog.FirmwareBoot{Chain: []eventlog.BootApplication{uki}}, banks)
	if err != nil {
		panic(err)
	}
	order, err := pcr.OrderFor("262")
	if err != nil {
		panic(err)
	}
	stub, err := eventlog.SectionEvents(order, []pcr.Section{
		{Name: ".linux", Content: pcr.Bytes([]byte("kernel image"))},
		{Name: ".cmdline", Content: pcr.Bytes([]byte("root=/dev/vda1"))},
	}, banks)
	if err != nil {
		panic(err)
	}
	events = append(events, stub...)
	for _, ev := range events {
		fmt.Printf("PCR %d %s %s\n", ev.PCR, ev.Type, ev.Description)
	}
	for _, i := range []int{4, 11} {
		v, _ := eventlog.Replay(events, i, pcr.SHA256)
		fmt.Printf("PCR %d = %x\n", i, v)
	}

	seen := append([]eventlog.Event(nil), events...)
	other := sha256.Sum256([]byte("another UKI"))
	seen[2].Digests = []pcr.Value{{Bank: pcr.SHA256, Digest: other[:]}}
	for _, r := range eventlog.CompareEvents(events, seen, []int{4, 11}) {
		fmt.Println(r)
	}
	// Output:
	// PCR 4 EV_EFI_ACTION Calling EFI Application from Boot Option
	// PCR 4 EV_SEPARATOR separator
	// PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION uki.efi (Authenticode digest)
	// PCR 11 EV_IPL section .linux (name)
	// PCR 11 EV_IPL section .linux (data, 12 bytes)
	// PCR 11 EV_IPL section .cmdline (name)
	// PCR 11 EV_IPL section .cmdline (data, 14 bytes)
	// PCR 4 = 087168b967379438290a808979b7a0318858cd2d971d0fa4782af11cb1ae5608
	// PCR 11 = 930fee4d6257bc242cbb20dc624cd229ff6e1d3262836fa88ee703a76c3d4e9e
	// PCR 4: event 2 differs (sha256 digest):
	//   expected EV_EFI_BOOT_SERVICES_APPLICATION sha256:0cceadd508484097a1fbebb5432aa633464f8743fc9d9c36ec72f45d4f225546 "uki.efi (Authenticode digest)"
	//   seen     EV_EFI_BOOT_SERVICES_APPLICATION sha256:ced1bda74c8557d708a379405cefd4449adba6d48b255e335509db644a343108 "uki.efi (Authenticode digest)"
	// PCR 11: match (4 events)
}
