// Package pcr predicts the TPM PCR 11 values a Unified Kernel Image produces
// when it boots, as systemd-measure calculate does.
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
// format, byte for byte (MeasureJSON: its --json= styles).
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
// # Contents
//
// A section's data is a Content, opened and streamed each time it is
// measured (Bytes: held in memory); a Sized one says its length first, a
// Digested one brings its own digests. MeasuredSections gives the sections
// the stub measures with their digests, HashContent any content's digests
// in several banks from one read.
//
// # Command lines
//
// MeasureCommand checks a systemd-measure command line (calculate, sign,
// policy-digest) as systemd-measure does, refusing with its words
// (MeasureRefusal); ResolveBank reads its --bank= names.
//
// # Related packages
//
// Package eventlog has the events behind this prediction (SectionEvents)
// and those of the other PCRs a boot measures, and reads TPM event logs;
// package pcrsig signs policies for the predicted values and builds the
// .pcrsig section; package quote verifies that a TPM signed PCR values.
//
// # When the predictions hold
//
// A PCR 11 prediction holds for the stub version's section order (OrderFor)
// and, for a UKI with .dtbauto or .efifw sections, the one the machine
// picks. Package attest combines it with the other PCRs' conditions (see
// package eventlog) for a whole boot, and says in its Reference's notes
// what it assumed.
//
// Everything here follows systemd's sources (src/boot/stub.c,
// src/fundamental/uki.h and src/measure/measure-tool.c); comments cite the
// file and version each fact comes from. The tests compare the results
// with systemd-measure 252, 254, 257 and 262.1.
package pcr
