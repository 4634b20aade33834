// Package eventlog models the TCG event log of a measured boot: it reads a
// TPM's log, predicts the events each boot component logs, and compares the
// two event by event.
//
// # Events
//
// An Event is one measurement: its PCR, its type (EventType), its digest in
// each bank and a description. Replay gives the value a PCR has after a list
// of events, Select and PCRs pick the events of some PCRs, and
// CompareEvents reports, per PCR, a match or the first diverging event
// (PCRResult). Parse reads a TCG2 event log (with go-attestation) into the
// same events; ParsePCRList reads a list of PCR numbers.
//
// # Predicted events
//
// A prediction can be had as the list of events behind it, so that a value
// can be explained and compared with a TPM's event log event by event:
// SectionEvents are systemd-stub's PCR 11 events (pcr.Measure is their
// Replay), PCR4Events what EDK2 firmware measures into PCR 4 when it starts
// a UKI (with ImageApplication's Authenticode digests), PCR7Events its
// Secure Boot measurements (SecureBootVariables, SignatureList and the
// other EFI signature list helpers), LinuxEvents what Linux's EFI stub
// measures into PCR 9 (with StubInitrd, the initrd systemd-stub hands over,
// and AppendConsoles, the consoles stub 262 adds to a command line without
// console=), ExtrasEvents systemd-stub's PCR 12 and 13 measurements of
// credentials and system and configuration extensions, the UKI's own and
// the ESP's global ones (FindExtras sorts them as the stub's version does;
// StubCPIO packs them), EntryExtrasEvents systemd-boot's of a Type #1
// entry's extras, and StubBoot.KernelConfigEvents all of the stub's PCR 12
// and 13 events: a profile (ProfileEvent), a command line passed in the
// load options (LoadOptionsEvent), PE add-ons (*.addon.efi: their command
// lines, .ucode and .initrd; SelectAddons), then the extras. Add-ons and
// profiles are modelled for stub 262, load options for 262 and 252 (252 has
// neither add-ons nor profiles); not predicted: add-ons with .dtb or
// .dtbauto (measured only where the machine's devicetree support takes
// them), the SMBIOS io.systemd.stub.kernel-cmdline-extra string and
// confidential VMs. The large inputs of these predictions, the UKI's
// sections and the files on the ESP (StubInitrd's sections,
// ExtraFile.Content), are pcr.Sized contents, read as streams and hashed in
// all banks at once, never held whole in memory (add-ons' sections are,
// and StubCPIO returns bytes). The event logs of ukibuild's boot tests
// (testvectors/eventlog) are the golden values.
//
// # When the predictions hold
//
// Each PCR's prediction holds under these conditions; package attest
// combines them for a whole boot, and says in its Reference's notes what
// it assumed.
//
//   - PCR 4: firmware that measures as EDK2 (OVMF 2022.11 and 2025.02 in the
//     boot tests): one "Calling EFI Application" action per boot attempt
//     (FirmwareBoot.BootAttempts must be the machine's), the Authenticode
//     digest of each image it starts. Firmware that measures more (option
//     ROMs, a vendor's own applications) or boot loaders that measure
//     their own events are not modelled.
//   - PCR 7: the Secure Boot variables given byte for byte as the machine
//     holds them (EFI signature lists; dbt and dbr are not modelled), and
//     the authority EDK2 picks (package secureboot).
//   - PCR 9: Linux's EFI stub of 5.19 or later (it measures the command
//     line and the initrd; the boot tests check Debian 12's 6.1, Debian 13's
//     6.12 and sid's newest),
//     the stub versions 252, 254, 257 and 262, and, for stub 262 and a
//     command line without console=, the machine's consoles
//     (AppendConsoles). Not predictable offline: a boot secret the stub adds
//     from the machine's random seed (/.extra/boot-secret, stub 261 and
//     later when a random seed table exists: systemd-boot with an EFI RNG,
//     AddsBootSecret), which changes the initrd (the attest package marks
//     that event machine-specific and reports such a PCR 9 unverifiable).
//   - PCR 11: the stub version's section order (pcr.OrderFor), and for a UKI
//     with .dtbauto or .efifw sections the one the machine picks.
//   - PCR 12 and 13: the files on the ESP as the machine has them, and the
//     stub version's rules for them (FindExtras, StubBoot); the SMBIOS
//     kernel-cmdline-extra string and confidential VMs are not modelled.
//
// Everything here follows the TCG PC Client Platform Firmware Profile, EDK2,
// Linux's EFI stub (drivers/firmware/efi/libstub) and systemd's sources
// (src/boot/stub.c, src/boot/measure.c); comments cite the file and version
// each fact comes from.
package eventlog
