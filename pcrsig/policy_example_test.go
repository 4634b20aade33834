package pcrsig_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
)

// The PolicyPCR digest systemd-measure signs for PCR 11 of the SHA-256 bank
// after a measurement of "enter-initrd" into an otherwise empty PCR
// (`systemd-measure policy-digest --linux=EMPTYFILE --bank=sha256
// --phase=enter-initrd` prints it as "pol"; TestExamplesMatchSystemdMeasure
// runs it).
func ExamplePolicyPCRDigest() {
	word := sha256.Sum256([]byte("enter-initrd"))
	value := pcr.SHA256.Extend(pcr.SHA256.Zero(), word[:])

	pol, err := pcrsig.PolicyPCRDigest(pcr.SHA256, pcrsig.SignedPCR, value)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", pol)
	// Output:
	// 7c8486f61cc1d88a28d6ab87850bee07c467ce6311340219e43a7a6e6521e543
}
