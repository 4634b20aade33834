// Package pcr predicts the TPM PCR 11 values a Unified Kernel Image produces
// when it boots (and PCR 4, 7, 9, 12 and 13, as events), as systemd-measure does.
//
// # Measured boot and PCR 11
//
// A TPM's platform configuration registers (PCRs) can only be extended:
// PCR = H(PCR || digest), starting from zeros at reset, in each of the
// TPM's banks (SHA-1, SHA-256, ... see Bank). systemd-stub measures the
// static parts of the UKI it boots into PCR 11: for each section it knows,
// in its fixed canonical order, H(section name with its NUL byte) and then
// H(section data). Which sections it knows and in what order depends on the
// stub's version (Order, OrderFor, StubVersion). .pcrsig, which carries the
// signatures of the expected values, is never measured; empty sections are
// skipped.
//
// # Boot phases
//
// After the stub, systemd-pcrphase extends PCR 11 with one word at each
// milestone of the boot ("enter-initrd", "leave-initrd", "sysinit", "ready",
// ...), so that PCR 11 differs in the initrd, in early boot and in the
// running system, and a secret can be bound to one phase. A Phase is such a
// path of words; DefaultPhases are those systemd-measure computes unless
// told otherwise.
//
// # Prediction
//
// Measure computes PCR 11 after the stub, Measurement.Phase after a phase,
// and Predict does both the way "systemd-measure calculate" does, reading
// every section once and hashing it in all banks in parallel.
// FormatCalculate writes the result in systemd-measure's text or JSON
// format, byte for byte.
//
// # Profiles and devicetrees
//
// A UKI may hold several profiles (boot menu entries sharing a kernel): the
// stub boots the base sections overridden by those of one .profile, and of
// several .dtbauto sections it measures the one matching the machine, and
// (from systemd-stub 261.1 on, see SelectsEFIFW) of several .efifw
// sections the one whose firmware ID the machine's .hwids firmware entry
// names. LocateProfile says which sections the stub uses for a profile, and
// Located.With which are measured for each devicetree and firmware.
//
// # Events and event logs
//
// A prediction can also be had as the list of events behind it (Event: PCR,
// type, digest per bank, description), so that a value can be explained
// and compared with a TPM's event log event by event: SectionEvents are the
// stub's PCR 11 events (Measure is their Replay), PCR4Events what EDK2
// firmware measures into PCR 4 when it starts a UKI (with ImageApplication's
// Authenticode digests), PCR7Events its Secure Boot measurements,
// LinuxEvents what Linux's EFI stub measures into PCR 9 (with StubInitrd,
// the initrd systemd-stub hands over), ExtrasEvents systemd-stub's PCR 12
// and 13 measurements of credentials and system and configuration
// extensions, the UKI's own and the ESP's global ones (FindExtras sorts
// them as the stub's version does; StubCPIO packs them), and
// StubBoot.KernelConfigEvents all of the stub's PCR 12 and 13 events: a
// profile (ProfileEvent), a command line passed in the load options
// (LoadOptionsEvent), PE add-ons (*.addon.efi: their command lines, .ucode
// and .initrd; SelectAddons), then the extras. Add-ons and profiles are
// modelled for stub 262, load options for 262 and 252 (252 has neither
// add-ons nor profiles); not predicted: add-ons with .dtb or .dtbauto
// (measured only where the machine's devicetree support takes them), the
// SMBIOS io.systemd.stub.kernel-cmdline-extra string and confidential VMs.
// The large inputs of these predictions, the UKI's sections and the files
// on the ESP (StubInitrd's sections, ExtraFile.Content), are Sized
// contents, read as streams and hashed in all banks at once, never held
// whole in memory (add-ons' sections are, and StubCPIO returns bytes).
// ParseEventLog reads a TCG2 event log (with
// go-attestation) into the same events, and CompareEvents reports, per PCR,
// a match or the first diverging event. The event logs of ukibuild's boot
// tests (testvectors/eventlog) are the golden values.
//
// # Quotes
//
// Package quote verifies that a TPM signed the PCR values a log replays to.
//
// # Policies and signatures
//
// The TPM2 policies that bind a secret to these values and the signed JSON
// document systemd-stub finds in the .pcrsig section are package pcrsig's.
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
//   - PCR 11: the stub version's section order (OrderFor), and for a UKI
//     with .dtbauto or .efifw sections the one the machine picks.
//   - PCR 12 and 13: the files on the ESP as the machine has them, and the
//     stub version's rules for them (FindExtras, StubBoot); the SMBIOS
//     kernel-cmdline-extra string and confidential VMs are not modelled.
//
// Everything here follows systemd's sources (src/boot/stub.c,
// src/fundamental/uki.h, src/measure/measure-tool.c and
// src/shared/tpm2-util.c); comments cite the file and version each fact
// comes from. The tests compare the results with systemd-measure 252, 254,
// 257 and 262.1.
package pcr
