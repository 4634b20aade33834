package pcr_test

import (
	"fmt"
	"io"

	"github.com/ukibuild/ukibuild/pcr"
)

// Which sections systemd-stub measures into PCR 11 when it boots a UKI
// with two .dtbauto and two .efifw sections and picks, by the machine's
// hardware IDs, no devicetree and the second firmware. The candidates not
// picked are left out; pcr.Measure puts .efifw after .hwids, as the stub
// measures it. Stubs before 261.1 never pick a .efifw section.
func ExampleLocated_With() {
	sec := func(name, data string) pcr.Section { return pcr.Section{Name: name, Content: pcr.Bytes([]byte(data))} }
	uki := []pcr.Section{
		sec(".linux", "kernel"), sec(".dtbauto", "board-a.dtb"), sec(".dtbauto", "board-b.dtb"),
		sec(".hwids", "table"), sec(".efifw", "fw-a"), sec(".efifw", "fw-b"),
	}
	loc, err := pcr.LocateProfile(uki, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(loc.DTBAuto), "devicetrees,", len(loc.EFIFW), "firmwares to pick from")
	measured, err := loc.With(-1, 1)
	if err != nil {
		panic(err)
	}
	for _, s := range measured {
		r, err := s.Content.Open()
		if err != nil {
			panic(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			panic(err)
		}
		fmt.Println(s.Name, string(data))
	}
	for _, v := range []string{"261", "261.1", "262.1"} {
		picks, err := pcr.SelectsEFIFW(v)
		if err != nil {
			panic(err)
		}
		fmt.Printf("systemd-stub %s picks firmware: %v\n", v, picks)
	}
	// Output:
	// 2 devicetrees, 2 firmwares to pick from
	// .linux kernel
	// .hwids table
	// .efifw fw-b
	// systemd-stub 261 picks firmware: false
	// systemd-stub 261.1 picks firmware: true
	// systemd-stub 262.1 picks firmware: true
}
