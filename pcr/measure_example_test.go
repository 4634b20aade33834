package pcr_test

import (
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/pcr"
)

// Predict PCR 11 for a UKI built from a systemd-stub 262.1, in the SHA-256
// bank, for the stub stage and for the initrd, and print it as
// "systemd-measure calculate --json=short" does. The printed values are
// systemd-measure 262.1's for the same files (TestExamplesMatchSystemdMeasure
// runs it).
func ExamplePredict() {
	order, err := pcr.OrderFor("262.1") // or pcr.StubVersion of the stub
	if err != nil {
		panic(err)
	}
	sections := []pcr.Section{
		{Name: ".linux", Content: pcr.Bytes([]byte("kernel image"))},
		{Name: ".osrel", Content: pcr.Bytes([]byte("ID=debian\n"))},
		{Name: ".cmdline", Content: pcr.Bytes([]byte("root=/dev/vda1"))},
		{Name: ".pcrsig", Content: pcr.Bytes([]byte("{}"))}, // never measured
	}
	preds, err := pcr.Predict(order, sections, []pcr.Bank{pcr.SHA256}, []string{":", "enter-initrd"})
	if err != nil {
		panic(err)
	}
	for _, p := range preds {
		v, _ := p.Value(pcr.SHA256)
		fmt.Printf("%s %x\n", p.Phase, v)
	}
	if err := pcr.FormatCalculate(os.Stdout, nil, preds, pcr.MeasureJSONShort); err != nil {
		panic(err)
	}
	// Output:
	// : da190fdfa964a40cdfa4b7843f375cad76a1c53b495f43dcd52deb6030a47347
	// enter-initrd 37c4fb19fa58140efac310d0b0edad6a34f82cfd73377dab539ef1b64cd4ef00
	// {"sha256":[{"pcr":11,"hash":"da190fdfa964a40cdfa4b7843f375cad76a1c53b495f43dcd52deb6030a47347"},{"phase":"enter-initrd","pcr":11,"hash":"37c4fb19fa58140efac310d0b0edad6a34f82cfd73377dab539ef1b64cd4ef00"}]}
}
