package creds

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// HostKeySize is the size of the secret systemd generates for
// /var/lib/systemd/credential.secret (CREDENTIAL_HOST_SECRET_SIZE).
const HostKeySize = 4096

// credentialAppID is the application ID systemd hashes the machine ID with
// for the host key file (credential_app_id in creds-util.c).
var credentialAppID = mustID("d3acecba-0dad-4cdf-b8c9-381528936c58")

// HostKey is the content of a machine's host key file,
// /var/lib/systemd/credential.secret: the machine's ID hashed for this
// purpose (16 bytes) followed by the secret (struct
// credential_host_secret_format in systemd's creds-util.c). The secret, not
// the whole file, is what enters the credential's key. systemd reads the
// file only if it has mode 0400, and deletes it if the machine ID does not
// match.
type HostKey struct {
	// MachineID is the app-specific hash of the machine ID (see
	// HostKeyMachineID), not the machine ID itself.
	MachineID [16]byte
	Secret    []byte
}

// HostKeyMachineID returns what systemd stores in the host key file for the
// machine whose /etc/machine-id is machineID: sd_id128_get_app_specific()
// of it, HMAC-SHA256 keyed with the machine ID over the application ID,
// truncated to 16 bytes and marked as a version 4 UUID.
func HostKeyMachineID(machineID [16]byte) [16]byte {
	m := hmac.New(sha256.New, machineID[:])
	m.Write(credentialAppID[:])
	var id [16]byte
	copy(id[:], m.Sum(nil))
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// ParseMachineID parses a machine ID as written in /etc/machine-id (32 hex
// digits, optionally followed by a newline; UUID dashes are accepted).
func ParseMachineID(s string) ([16]byte, error) {
	var id [16]byte
	t := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != 16 {
		return id, &InputError{Field: "machine ID", Reason: fmt.Sprintf("%q is not 32 hexadecimal digits", s)}
	}
	copy(id[:], b)
	if id == [16]byte{} {
		return id, &InputError{Field: "machine ID", Reason: "is all zeros"}
	}
	return id, nil
}

// NewHostKey makes a host key for the machine with the given machine ID,
// as systemd-creds setup does: HostKeySize random bytes from rnd
// (crypto/rand.Reader if nil).
func NewHostKey(rnd io.Reader, machineID [16]byte) (*HostKey, error) {
	k := &HostKey{MachineID: HostKeyMachineID(machineID), Secret: make([]byte, HostKeySize)}
	if _, err := io.ReadFull(randOrDefault(rnd), k.Secret); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return k, nil
}

// ReadHostKey reads a host key file: the 16-byte hashed machine ID and a
// secret of 1 to HostKeySize bytes (systemd asserts that the secret is no
// larger than HostKeySize).
func ReadHostKey(r io.Reader) (*HostKey, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16+HostKeySize+1))
	if err != nil {
		return nil, err
	}
	if len(b) < 17 {
		return nil, &InputError{Field: "host key", Reason: fmt.Sprintf("%d bytes, too small for a credential.secret file", len(b))}
	}
	if len(b) > 16+HostKeySize {
		return nil, &InputError{Field: "host key", Reason: fmt.Sprintf("larger than %d bytes, not a credential.secret file", 16+HostKeySize)}
	}
	k := &HostKey{Secret: bytes.Clone(b[16:])}
	copy(k.MachineID[:], b)
	return k, nil
}

// ReadHostKeyFile reads the host key file at path (ReadHostKey); errors
// name the file.
func ReadHostKeyFile(path string) (*HostKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	k, err := ReadHostKey(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// BelongsTo reports whether the key file was made for the machine with the
// given machine ID (systemd ignores and deletes a file that was not).
func (k *HostKey) BelongsTo(machineID [16]byte) bool {
	return k.MachineID == HostKeyMachineID(machineID)
}

// WriteTo writes the host key file's content.
func (k *HostKey) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(append(k.MachineID[:], k.Secret...))
	return int64(n), err
}
