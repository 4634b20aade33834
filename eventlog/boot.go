package eventlog

import (
	"context"
	"crypto"
	"fmt"
	"io"

	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
)

// BootApplication is a PE image the firmware loads and starts from a boot
// option: a UKI, or the first images of a chain (shim, systemd-boot).
type BootApplication struct {
	// Name describes the image ("uki.efi").
	Name string
	// Digests is its Authenticode digest in each bank.
	Digests []pcr.Value
}

// ImageApplication computes the Authenticode digest of the PE image r
// (size bytes) in each bank, as EDK2 does when it measures an image it
// starts (sign.MeasuredImageDigests: one read of the image for all banks).
// r is read through ctx: once ctx is done, ImageApplication stops before
// the next read and returns an error matching ctx.Err() (errors.Is).
func ImageApplication(ctx context.Context, name string, r io.ReaderAt, size int64, banks []pcr.Bank) (BootApplication, error) {
	app := BootApplication{Name: name}
	if len(banks) == 0 {
		return app, nil
	}
	hs := make([]crypto.Hash, len(banks))
	for i, b := range banks {
		hs[i] = b.Hash
	}
	ds, err := sign.MeasuredImageDigests(ctxio.ReaderAt(ctx, r), size, hs...)
	if err != nil {
		return app, fmt.Errorf("%s: Authenticode digests: %w", name, err)
	}
	for i, b := range banks {
		app.Digests = append(app.Digests, pcr.Value{Bank: b, Digest: ds[i]})
	}
	return app, nil
}

// The EV_EFI_ACTION strings EDK2 measures into PCR 4 when its boot manager
// signals ReadyToBoot (MdePkg/Include/IndustryStandard/UefiTcgPlatform.h,
// EFI_CALLING_EFI_APPLICATION and EFI_RETURNING_FROM_EFI_APPLICATION). The
// digest is H(the string without its NUL).
const (
	CallingEFIApplication     = "Calling EFI Application from Boot Option"
	ReturningEFIApplication   = "Returning from EFI Application from Boot Option"
	separatorDescription      = "separator"
	firmwareBootAttemptsUsage = "boot attempts must be at least 1"
)

// FirmwareBoot is how the firmware came to start the boot chain.
type FirmwareBoot struct {
	// BootAttempts is the number of boot options the boot manager tried,
	// up to and including the one that started Chain[0]; each signals
	// ReadyToBoot. 0 means 1. OVMF in ukibuild's boot tests (one virtio
	// disk, no network) tries two: its event logs have one
	// "Returning from EFI Application" before the UKI.
	BootAttempts int
	// Chain are the images the firmware measured, in the order they were
	// started: the first from the boot option, each next one loaded by the
	// one before (shim loading systemd-boot through the firmware's
	// LoadImage, systemd-boot the UKI).
	Chain []BootApplication
}

// PCR4Events returns what the firmware measures into PCR 4 up to the start
// of the last image of fb.Chain, as EDK2 (OVMF) does:
//
//   - at the first ReadyToBoot, EV_EFI_ACTION "Calling EFI Application
//     from Boot Option", then EV_SEPARATOR (digest H(00000000)) into PCR 0
//     to 7, of which this returns PCR 4's (SecurityPkg/Tcg/Tcg2Dxe/Tcg2Dxe.c,
//     OnReadyToBoot; TCG PC Client Platform Firmware Profile, PCR[4]);
//   - at each later ReadyToBoot (another boot option tried),
//     EV_EFI_ACTION "Returning from EFI Application from Boot Option" and
//     "Calling EFI Application from Boot Option" again (same function);
//   - for each image started, EV_EFI_BOOT_SERVICES_APPLICATION whose
//     digest is the image's Authenticode digest
//     (SecurityPkg/Library/DxeTpm2MeasureBootLib, Tcg2MeasurePeImage, and
//     Tcg2Dxe's PE/COFF image hash).
//
// systemd-stub adds nothing to PCR 4 when it starts the kernel in the UKI:
// 252 jumps to the kernel's EFI handover entry point without LoadImage,
// and 262 calls LoadImage on the .linux section with its own security
// override installed, which answers for the firmware's Security2 protocol,
// so no measuring handler runs (the event logs of ukibuild's boot tests, for
// stubs 252, 254, 257 and 262.1 under OVMF, have the UKI as the last PCR 4
// event).
func PCR4Events(fb FirmwareBoot, banks []pcr.Bank) ([]Event, error) {
	attempts := fb.BootAttempts
	if attempts == 0 {
		attempts = 1
	}
	if attempts < 0 {
		return nil, fmt.Errorf("PCR 4: %s, not %d", firmwareBootAttemptsUsage, attempts)
	}
	evs := []Event{
		hashEvent(4, EvEFIAction, CallingEFIApplication, []byte(CallingEFIApplication), banks),
		hashEvent(4, EvSeparator, separatorDescription, []byte{0, 0, 0, 0}, banks),
	}
	for i := 1; i < attempts; i++ {
		evs = append(evs,
			hashEvent(4, EvEFIAction, ReturningEFIApplication, []byte(ReturningEFIApplication), banks),
			hashEvent(4, EvEFIAction, CallingEFIApplication, []byte(CallingEFIApplication), banks))
	}
	for _, app := range fb.Chain {
		ev := Event{PCR: 4, Type: EvEFIBootServicesApplication, Description: app.Name + " (Authenticode digest)"}
		for _, b := range banks {
			var d []byte
			for _, v := range app.Digests {
				if v.Bank.Name == b.Name {
					d = v.Digest
				}
			}
			if d == nil {
				return nil, fmt.Errorf("PCR 4: %s has no %s digest", app.Name, b.Name)
			}
			ev.Digests = append(ev.Digests, pcr.Value{Bank: b, Digest: d})
		}
		evs = append(evs, ev)
	}
	return evs, nil
}
