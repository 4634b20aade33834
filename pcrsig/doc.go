// Package pcrsig signs TPM2 policies for predicted PCR 11 values and builds
// the .pcrsig JSON that carries them, as systemd-measure sign and ukify do.
//
// # Policies
//
// systemd binds a secret (a disk encryption key, a credential) not to one
// PCR 11 value but to a public key: the TPM2 policy is PolicyAuthorize with
// that key (PolicyAuthorizeDigest, PolicyPublicKeyName, PolicyKeyPublic), and
// the UKI carries, for each PCR 11 value it may produce, a signature of the
// PolicyPCR digest that selects that value (PolicyPCRDigest, SignedPCR) and
// a policy reference (PolicyRefDigest, PolicyToBeSigned).
//
// # Signing
//
// Sign signs the policies of a set of predictions (PolicyInputs turns the
// output of pcr.Predict into its input) with a crypto.Signer: an RSA key, as
// systemd verifies only RSASSA-PKCS1-v1_5 signatures (ErrNotRSA otherwise).
// SignPolicy makes one signature; a signer that declares how many
// signatures it can make at once (ConcurrentSigner, SignConcurrency: a
// PKCS #11 token's session pool) is asked for them concurrently, with the
// same output. PlaceholderSigner stands in for a key whose signatures are
// made later; GenerateKey, PublicKeyPEM and PublicKeyFingerprint ("pkfp")
// handle the keys.
//
// # The .pcrsig JSON
//
// PolicyDocument is the JSON object systemd-measure sign and policy-digest
// print (bank names mapping to arrays of PolicyEntry), parsed and compared
// the way systemd's sd-json does (ParsePolicyDocument, Append) and printed
// in each of systemd-measure's --json= styles (pcr.MeasureJSON). Section
// builds the .pcrsig section ukify stores in a UKI from one or more of them,
// Combine merges the output of several systemd-measure runs, Pad leaves the
// room ukify leaves for signatures made later, and ApplySignatures copies
// such offline-made signatures in.
//
// Everything here follows systemd's sources (src/measure/measure-tool.c,
// src/shared/tpm2-util.c, src/libsystemd/sd-json) and ukify
// (src/ukify/ukify.py); comments cite the file and version each fact comes
// from. The tests compare the results with systemd-measure 257 and 262.1 and
// ukify 262.1, and unseal a secret with the signed policies in a TPM
// simulator.
package pcrsig
