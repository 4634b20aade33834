// Package creds reads and writes systemd credential files (the "*.cred"
// files of systemd-creds encrypt, LoadCredentialEncrypted= and
// /.extra/credentials/ in the initrd) without systemd and without the target
// machine's TPM.
//
// Encrypt makes a credential offline for a machine whose secrets it knows
// only in public form: the null key (no secret; integrity only), a copy of the
// machine's host key (/var/lib/systemd/credential.secret, see HostKey) and,
// for TPM-bound credentials, the TPM2B_PUBLIC of the machine's storage key
// (systemd-analyze srk, or tpm2_readpublic -c 0x81000001 -f tss). The TPM
// part is a KEYEDHASH object holding a random 32-byte secret, duplicated to
// that storage key with an outer wrapper only (TPM2_Duplicate's format, made
// in software with go-tpm), which systemd 255 and later import with
// TPM2_Import before they load and unseal it. Its policy is, in this order,
// TPM2_PolicyAuthorize by a PCR signing key's name (signed PCR policies, as
// in a UKI's .pcrsig) and TPM2_PolicyPCR for literal PCR values.
//
// The file layout, key-type IDs and limits mirror systemd's
// src/shared/creds-util.[ch] and src/shared/tpm2-util.c (systemd v261-1469,
// commit f9558beb18bb; the 262 "pinned SRK" key types) and were checked
// against systemd-creds 262.1, 257.13, 254.26 and 252.39. Options.TargetSystemd
// selects the layout: 262 and later embed the storage key (the persistent SRK
// at 0x81000001) in the credential; 255-261 use key-type IDs that make
// systemd derive a transient primary key from its fixed "legacy" template, so
// the parent must be that primary's public; 252-254 cannot import sealed
// objects, so only the null and host keys are offered for them.
//
// Decrypt and Inspect read credentials, whoever wrote them. Decrypt unseals
// TPM-bound credentials with a TPM reached through go-tpm's transport (a
// device such as /dev/tpmrm0, or swtpm for tests). Every refusal is an error
// matchable with errors.As (*FormatError, *InputError, *SRKError,
// *NameMismatchError, *ExpiredError, *UnsupportedError) or errors.Is
// (ErrAuthentication, ErrTooLarge).
package creds
