package ukiconf_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/ukiconf"
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

// ExampleFile_Settings: the values of a ukify.conf that "ukify build" uses,
// with the option each sets. The expected output restates the input file.
func ExampleFile_Settings() {
	f, err := ukiconf.Parse("ukify.conf", []byte(`[UKI]
Initrd = /boot/initrd-a /boot/initrd-b
SecureBootCertificateCommonName = only for genkey
[PCRSignature:initrd]
PCRPrivateKey = /etc/pcr-initrd.key
Phases = enter-initrd
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = f.Settings("build", nil, func(s ukiconf.Setting) error {
		fmt.Printf("--%s %q (group %q, line %d)\n", s.Option, s.Values, s.Group, s.Line)
		return nil
	})
	fmt.Println(err)
	// Output:
	// --initrd ["/boot/initrd-a" "/boot/initrd-b"] (group "", line 2)
	// --pcr-private-key ["/etc/pcr-initrd.key"] (group "initrd", line 5)
	// --phases ["enter-initrd"] (group "initrd", line 6)
	// <nil>
}
