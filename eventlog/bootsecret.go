package eventlog

import (
	"fmt"

	"github.com/ukibuild/ukibuild/pcr"
)

// AddsBootSecret reports whether systemd-stub of the given version may add
// a boot secret to the initrd it hands Linux: an archive with
// /.extra/boot-secret (32 bytes, mode 0400), which Linux measures into PCR 9
// with the rest of the initrd, so that PCR 9's initrd event is then
// machine-specific: the secret is derived from the LoaderBootSecret EFI
// variable (boot-services only: the OS never sees it), the
// \loader\boot-secret-mixin file on the ESP and the UKI's IMAGE_ID= or ID=,
// and nothing offline knows the first two.
//
// Stubs from 261 on do (systemd commit dcad61c74d, "stub: introduce "boot
// secret" stored in an EFI variable inaccessible to the OS", first in tag
// v261; src/boot/boot-secret.c, prepare_boot_secret, and src/boot/stub.c,
// generate_boot_secret_initrd). The stub makes the secret whenever a Linux
// random seed configuration table (LINUX_EFI_RANDOM_SEED_TABLE, at least
// 32 bytes) exists when it runs and the ESP it was loaded from is writable
// (or already has the mixin file); what installs that table is
// src/boot/random-seed.c's process_random_seed, run by systemd-boot before
// it starts a Linux or UKI entry, and by the stub itself when systemd-boot
// did not (LoaderFeatures lacks the random-seed bit) and it was loaded from
// a GPT partition of the ESP type. process_random_seed installs it unless
// the volume or \loader\random-seed is read-only, or the firmware offers no
// EFI_RNG_PROTOCOL, has no earlier seed table and Secure Boot is on (then
// it gives up), or, without Secure Boot, neither RNG nor a
// LoaderSystemToken variable of 32 bytes or more is there. On most real
// machines with systemd-boot or a 261+ stub on the ESP, and an EFI RNG
// (RDRAND-backed, or virtio-rng under QEMU), there is a boot secret. The
// boot tests show it (case 12: systemd-boot 262.1, and the 262.1 stub
// alone on a GPT ESP, with QEMU's virtio-rng-pci; none without the RNG, or
// with the stub alone on an MBR disk).
//
// Stubs before 261 have no such code (false). 261 and 262 were examined
// (true); a newer version is refused rather than guessed: what its stub
// does with the secret is not known.
func AddsBootSecret(version string) (bool, error) {
	major, err := pcr.MajorVersion(version)
	if err != nil {
		return false, err
	}
	switch {
	case major < bootSecretSince:
		return false, nil
	case major <= bootSecretExamined:
		return true, nil
	}
	return false, fmt.Errorf("whether systemd-stub %s adds a boot secret to the initrd is not known (%d to %d were examined)", version, bootSecretSince, bootSecretExamined)
}

// The first stub with a boot secret, and the newest examined.
const bootSecretSince, bootSecretExamined = 261, 262
