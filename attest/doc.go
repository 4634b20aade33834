// Package attest tells an attestation server what a machine that boots a
// Unified Kernel Image will measure into its TPM, and checks what the
// machine reports against that.
//
// Predict reads a UKI, the boot loaders before it and the files on the ESP
// the stub picks up (credentials, system and configuration extensions,
// add-ons), and predicts, event by event, what the firmware (PCR 4: the
// images it starts; PCR 7: Secure Boot's variables and the db entry that
// authorized each image), Linux's EFI stub (PCR 9: the command line and
// the initrd) and systemd-stub (PCR 11: the UKI's sections; PCR 12 and 13:
// load options, profile, add-ons, credentials and extensions) measure,
// and shim when it is among the boot loaders (package shim: PCR 14, its
// MOK lists; PCR 7, its SbatLevel and the authority of each image it
// verifies).
// Machine describes what the verifier knows of the machine; anything it
// leaves out is taken at its default (a direct boot by the firmware, one
// boot attempt, the default profile) and said so in the Reference's Notes
// where it matters.
//
// A Reference is made once and verifies any number of boots: Verify
// compares a TCG event log with it PCR by PCR (the first diverging event
// is reported, expected and seen), and checks the log's replay against
// the PCR values the TPM reported and against a TPM2 quote signed by an
// attestation key (signature, nonce, PCR digest). A Reference is
// serialised as JSON (docs/attest.md describes the form); it is safe for
// concurrent use.
//
// The predictions follow the components' sources and are checked by the
// boot tests (QEMU, OVMF with Secure Boot, swtpm, Debian's stubs and
// kernels) and by recorded TPM logs (testvectors/eventlog). What a
// component does depends on its version: a version whose behaviour for
// the inputs at hand nobody examined is refused, never guessed. The
// building blocks (the event model, each component's events) are in
// package eventlog; examples/attest is a complete verifier in under 60 lines.
package attest
