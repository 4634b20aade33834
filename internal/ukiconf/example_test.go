package ukiconf_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/internal/ukiconf"
)

func ExampleParse() {
	f, err := ukiconf.Parse("uki.conf", []byte(`[UKI]
Cmdline = root=/dev/vda1 quiet  # an inline comment
SBAT = sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md
  distro,1,Distro,distro,1,https://distro.example/
[PCRSignature:initrd]
Phases=enter-initrd
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range f.Sections {
		for _, e := range s.Entries {
			fmt.Printf("[%s] %s (line %d): %q\n", s.Name, e.Key, e.Line, e.Value)
		}
	}
	_, err = ukiconf.Parse("bad.conf", []byte("[UKI]\nno delimiter\n"))
	fmt.Println(err)
	// Output:
	// [UKI] Cmdline (line 2): "root=/dev/vda1 quiet"
	// [UKI] SBAT (line 3): "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\ndistro,1,Distro,distro,1,https://distro.example/"
	// [PCRSignature:initrd] Phases (line 6): "enter-initrd"
	// bad.conf:2: cannot parse "no delimiter": want KEY=VALUE, [SECTION] or a # comment
}
