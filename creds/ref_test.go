package creds

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/internal/swtpmtest"
)

// TestSystemdDecryptsHostNull: credentials made by Encrypt with the null and
// host keys are decrypted by the real systemd-creds of every version.
func TestSystemdDecryptsHostNull(t *testing.T) {
	hk, err := NewHostKey(nil, machineID(t))
	if err != nil {
		t.Fatal(err)
	}
	secretEnv := writeHostKey(t, hk)
	payload := []byte("secret payload\x00with a NUL and no final newline")
	ts := time.Date(2026, 1, 2, 3, 4, 5, 600000, time.UTC)
	for _, v := range []string{"262", "257", "254", "252"} {
		for _, key := range []KeyType{KeyNull, KeyHost} {
			t.Run(v+"/"+key.String(), func(t *testing.T) {
				dir := t.TempDir()
				o := &Options{Name: "foo", Key: key, Timestamp: ts, NotAfter: time.Now().Add(time.Hour), TargetSystemd: atoi(v)}
				if key == KeyHost {
					o.HostKey = hk
				}
				p := encryptFile(t, dir, "foo", payload, o)
				out, stderr, err := systemdCreds(t, v, []string{secretEnv}, "decrypt", p, "-")
				if err != nil {
					t.Fatalf("systemd-creds %s decrypt: %v: %s", v, err, stderr)
				}
				if !bytes.Equal(out, payload) {
					t.Fatalf("systemd-creds %s decrypted %q, want %q", v, out, payload)
				}
				// The embedded name is checked against the file name.
				renamed := filepath.Join(dir, "bar")
				if err := os.Rename(p, renamed); err != nil {
					t.Fatal(err)
				}
				_, stderr, err = systemdCreds(t, v, []string{secretEnv}, "decrypt", renamed, "-")
				if err == nil || !strings.Contains(stderr, "does not match") {
					t.Fatalf("systemd-creds %s decrypt of a renamed file: %v: %s", v, err, stderr)
				}
			})
		}
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// TestReadSystemdCredentials: Decrypt and Inspect read credentials the real
// systemd-creds 262 and 252 write, with the host key systemd-creds setup
// made, and the metadata systemd was told to embed.
func TestReadSystemdCredentials(t *testing.T) {
	mid := machineID(t)
	for _, v := range []string{"262", "252"} {
		t.Run(v, func(t *testing.T) {
			dir := t.TempDir()
			secret := filepath.Join(dir, "credential.secret")
			env := []string{"SYSTEMD_CREDENTIAL_SECRET=" + secret}
			if _, stderr, err := systemdCreds(t, v, env, "setup"); err != nil {
				t.Fatalf("systemd-creds setup: %v: %s", err, stderr)
			}
			hk, err := ReadHostKeyFile(secret)
			if err != nil {
				t.Fatal(err)
			}
			if !hk.BelongsTo(mid) || len(hk.Secret) != HostKeySize {
				t.Fatalf("systemd's host key: machine ID %x (want %x), %d bytes", hk.MachineID, HostKeyMachineID(mid), len(hk.Secret))
			}
			payload := []byte("hello from systemd\n")
			in := writeFile(t, dir, "in", payload)
			for _, key := range []string{"null", "host"} {
				p := filepath.Join(dir, key+".cred")
				withKey := key
				if v == "252" && key == "null" {
					withKey = "tpm2-absent" // 252's name for the null key
				}
				if _, stderr, err := systemdCreds(t, v, env, "encrypt", "--with-key="+withKey, "--name=cname",
					"--timestamp=@1700000000", "--not-after=@4000000000", in, p); err != nil {
					t.Fatalf("systemd-creds %s encrypt: %v: %s", v, err, stderr)
				}
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				info, err := Decrypt(&out, bytes.NewReader(data), &DecryptOptions{Name: "cname", HostKey: hk})
				if err != nil {
					t.Fatalf("Decrypt(%s %s): %v", v, key, err)
				}
				if !bytes.Equal(out.Bytes(), payload) || info.Name != "cname" || info.KeyType.String() != key ||
					!info.Timestamp.Equal(time.Unix(1700000000, 0)) || !info.NotAfter.Equal(time.Unix(4000000000, 0)) {
					t.Fatalf("Decrypt(%s %s) = %q, %+v", v, key, out.Bytes(), info)
				}
				ii, err := Inspect(bytes.NewReader(data))
				if err != nil || ii.KeyType.String() != key {
					t.Fatalf("Inspect(%s %s) = %+v, %v", v, key, ii, err)
				}
				if key == "null" && (ii.Name != "cname" || !ii.Decrypted) {
					t.Fatalf("Inspect of a null-key credential: %+v", ii)
				}
				if ih, err := InspectHostKey(bytes.NewReader(data), hk); err != nil || ih.Name != "cname" || !ih.NotAfter.Equal(time.Unix(4000000000, 0)) {
					t.Fatalf("InspectHostKey(%s %s) = %+v, %v", v, key, ih, err)
				}
				if _, err := Decrypt(&out, bytes.NewReader(data), &DecryptOptions{Name: "other", HostKey: hk}); err == nil {
					t.Fatal("Decrypt with another name succeeded")
				}
				// Our output format matches systemd-creds' byte for byte
				// apart from the random IV and what it covers: same
				// length, same line structure, same header.
				var ours bytes.Buffer
				o := &Options{Name: "cname", Key: KeyNull, Timestamp: time.Unix(1700000000, 0), NotAfter: time.Unix(4000000000, 0)}
				if key == "host" {
					o.Key, o.HostKey = KeyHost, hk
				}
				if err := Encrypt(&ours, bytes.NewReader(payload), o); err != nil {
					t.Fatal(err)
				}
				if len(ours.Bytes()) != len(data) || bytes.Count(ours.Bytes(), []byte("\n")) != bytes.Count(data, []byte("\n")) {
					t.Fatalf("our %s credential has another shape than systemd's:\n%s\n%s", key, ours.Bytes(), data)
				}
			}
		})
	}
}

// TestSystemdTPM262 seals credentials offline to an swtpm's SRK and has the
// real systemd-creds 262 decrypt them, and checks systemd's refusals.
func TestSystemdTPM262(t *testing.T) {
	tpm := swtpmtest.Start(t)
	parent, err := ParseParent(tpm.SRKPublic)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := NewHostKey(nil, machineID(t))
	if err != nil {
		t.Fatal(err)
	}
	secretEnv := writeHostKey(t, hk)
	pk := newPCRKey(t)
	dir := t.TempDir()
	pkFile := writeFile(t, dir, "pcr.pem", pk.pem)
	_ = pkFile
	payload := []byte("sealed to the TPM")
	decrypt := func(t *testing.T, p string, extra ...string) ([]byte, string, error) {
		args := append([]string{"decrypt", "--tpm2-device=" + tpm.Device()}, extra...)
		return systemdCreds(t, "262", []string{secretEnv}, append(args, p, "-")...)
	}
	pcr11 := tpm.PCR11()
	sigFile := writeFile(t, dir, "sig.json", pk.signature(t, pcr11))
	cases := []struct {
		name string
		o    Options
		sig  bool
	}{
		{"tpm2", Options{Key: KeyTPM2}, false},
		{"host+tpm2", Options{Key: KeyHostTPM2, HostKey: hk}, false},
		{"tpm2-pcr11", Options{Key: KeyTPM2, PCRs: []PCRValue{{11, pcr11}}}, false},
		{"tpm2-pcr7-11", Options{Key: KeyTPM2, PCRs: []PCRValue{{11, pcr11}, {7, make([]byte, 32)}}}, false},
		{"tpm2-pubkey", Options{Key: KeyTPM2, PCRPublicKey: pk.pem}, true},
		{"host+tpm2-pubkey", Options{Key: KeyHostTPM2, HostKey: hk, PCRPublicKey: pk.pem}, true},
	}
	files := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.Name, o.Parent = c.name, parent
			p := encryptFile(t, dir, c.name, payload, &o)
			files[c.name] = p
			var extra []string
			if c.sig {
				extra = append(extra, "--tpm2-signature="+sigFile)
			}
			out, stderr, err := decrypt(t, p, extra...)
			if err != nil || !bytes.Equal(out, payload) {
				t.Fatalf("systemd-creds 262 decrypt: %v: %q: %s", err, out, stderr)
			}
			// Our own decrypt through the same swtpm.
			tc, err := OpenTPM(tpm.Device())
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			data, _ := os.ReadFile(p)
			var sig []byte
			if c.sig {
				sig, _ = os.ReadFile(sigFile)
			}
			var b bytes.Buffer
			if _, err := Decrypt(&b, bytes.NewReader(data), &DecryptOptions{Name: c.name, HostKey: o.HostKey, TPM: tc, Signature: sig}); err != nil || !bytes.Equal(b.Bytes(), payload) {
				t.Fatalf("Decrypt: %v, %q", err, b.Bytes())
			}
		})
	}
	t.Run("refusals", func(t *testing.T) {
		// A flipped byte in the authenticated header (the IV) and in the tag.
		data, _ := os.ReadFile(files["host+tpm2"])
		raw, err := readCredential(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []int{35, len(raw) - 1} { // in the IV, in the tag
			bad := bytes.Clone(raw)
			bad[off] ^= 1
			var b bytes.Buffer
			encodeBase64(&b, bad)
			p := writeFile(t, t.TempDir(), "host+tpm2", b.Bytes())
			if _, stderr, err := decrypt(t, p); err == nil || !strings.Contains(stderr, "Decryption failed") {
				t.Fatalf("flipped byte %d: systemd-creds: %v: %s", off, err, stderr)
			}
		}
		// Expired.
		o := Options{Name: "old", Key: KeyTPM2, Parent: parent, Timestamp: time.Unix(1000, 0), NotAfter: time.Unix(2000, 0)}
		p := encryptFile(t, t.TempDir(), "old", payload, &o)
		if _, stderr, err := decrypt(t, p); err == nil || !strings.Contains(stderr, "time passed") {
			t.Fatalf("expired: systemd-creds: %v: %s", err, stderr)
		}
		// Another TPM.
		other := swtpmtest.Start(t)
		args := []string{"decrypt", "--tpm2-device=" + other.Device(), files["tpm2"], "-"}
		if _, stderr, err := systemdCreds(t, "262", nil, args...); err == nil || !strings.Contains(stderr, "does not belong to this TPM") {
			t.Fatalf("another TPM: systemd-creds: %v: %s", err, stderr)
		}
		// PCR 11 moves on: the literal-PCR and the signed credentials are refused.
		tpm.Extend11("enter-initrd")
		// systemd's messages: the literal policy does not match; no
		// signature for the current PCR 11 (ENOSTR, "Device not a stream").
		for name, msg := range map[string]string{"tpm2-pcr11": "policy does not match", "tpm2-pubkey": "Device not a stream"} {
			if _, stderr, err := decrypt(t, files[name], "--tpm2-signature="+sigFile); err == nil || !strings.Contains(stderr, msg) {
				t.Fatalf("%s after PCR 11 moved on: systemd-creds: %v: %s", name, err, stderr)
			}
		}
		// A signature for the new value unlocks the signed one again.
		sig2 := writeFile(t, dir, "sig2.json", pk.signature(t, tpm.PCR11()))
		if out, stderr, err := decrypt(t, files["tpm2-pubkey"], "--tpm2-signature="+sig2); err != nil || !bytes.Equal(out, payload) {
			t.Fatalf("with a new signature: %v: %s", err, stderr)
		}
	})
}

// TestSystemdTPMLegacy257: for --target-systemd 255-261 the secret is
// duplicated to systemd's legacy primary (made here with tpm2-tools from
// the template systemd documents); systemd-creds 257 and 262 decrypt it.
func TestSystemdTPMLegacy257(t *testing.T) {
	tpm := swtpmtest.Start(t)
	parent, err := ParseParent(tpm.LegacyPrimary())
	if err != nil {
		t.Fatal(err)
	}
	// The SRK (noDA) is not the legacy primary: refused for 257.
	srk, err := ParseParent(tpm.SRKPublic)
	if err != nil {
		t.Fatal(err)
	}
	var sink bytes.Buffer
	var srkErr *SRKError
	if err := Encrypt(&sink, strings.NewReader("x"), &Options{Key: KeyTPM2, Parent: srk, TargetSystemd: 257}); !errors.As(err, &srkErr) {
		t.Fatalf("Encrypt for 257 with the SRK: %v, want *SRKError", err)
	}
	hk, err := NewHostKey(nil, machineID(t))
	if err != nil {
		t.Fatal(err)
	}
	secretEnv := writeHostKey(t, hk)
	pk := newPCRKey(t)
	dir := t.TempDir()
	pcr11 := tpm.PCR11()
	sigFile := writeFile(t, dir, "sig.json", pk.signature(t, pcr11))
	payload := []byte("legacy primary")
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"tpm2", Options{Key: KeyTPM2}},
		{"host+tpm2", Options{Key: KeyHostTPM2, HostKey: hk}},
		{"tpm2-pcr11", Options{Key: KeyTPM2, PCRs: []PCRValue{{11, pcr11}}}},
		{"tpm2-pubkey", Options{Key: KeyTPM2, PCRPublicKey: pk.pem}},
		{"host+tpm2-pubkey", Options{Key: KeyHostTPM2, HostKey: hk, PCRPublicKey: pk.pem}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.Name, o.Parent, o.TargetSystemd = c.name, parent, 257
			p := encryptFile(t, dir, c.name, payload, &o)
			info, err := Inspect(bytes.NewReader(mustRead(t, p)))
			if err != nil || info.PinnedSRK {
				t.Fatalf("Inspect: %+v, %v", info, err)
			}
			for _, v := range []string{"257", "262"} {
				out, stderr, err := systemdCreds(t, v, []string{secretEnv}, "decrypt", "--tpm2-device="+tpm.Device(), "--tpm2-signature="+sigFile, p, "-")
				if err != nil || !bytes.Equal(out, payload) {
					t.Fatalf("systemd-creds %s decrypt: %v: %q: %s", v, err, out, stderr)
				}
			}
			tc, err := OpenTPM(tpm.Device())
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			var b bytes.Buffer
			if _, err := Decrypt(&b, bytes.NewReader(mustRead(t, p)), &DecryptOptions{HostKey: o.HostKey, TPM: tc, Signature: mustRead(t, sigFile)}); err != nil || !bytes.Equal(b.Bytes(), payload) {
				t.Fatalf("Decrypt: %v %q", err, b.Bytes())
			}
		})
	}
}

// TestReadSystemdTPM257: Decrypt unseals credentials systemd-creds 257
// sealed with its legacy primary (TPM2_Create on the TPM, no import).
func TestReadSystemdTPM257(t *testing.T) {
	tpm := swtpmtest.Start(t)
	dir := t.TempDir()
	payload := []byte("sealed by systemd 257")
	in := writeFile(t, dir, "in", payload)
	p := filepath.Join(dir, "c.cred")
	if _, stderr, err := systemdCreds(t, "257", nil, "encrypt", "--with-key=tpm2", "--tpm2-device="+tpm.Device(), "--tpm2-pcrs=7", "--name=c", in, p); err != nil {
		t.Fatalf("systemd-creds 257 encrypt: %v: %s", err, stderr)
	}
	tc, err := OpenTPM(tpm.Device())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	var out bytes.Buffer
	info, err := Decrypt(&out, bytes.NewReader(mustRead(t, p)), &DecryptOptions{Name: "c", TPM: tc})
	if err != nil || !bytes.Equal(out.Bytes(), payload) || info.PinnedSRK || info.Imported || info.PCRMask != 1<<7 || info.PrimaryAlg != "ecc" {
		t.Fatalf("Decrypt(systemd 257's tpm2 credential): %v %q %+v", err, out.Bytes(), info)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadSystemdTPM262: Decrypt unseals, through the swtpm, credentials
// the real systemd-creds 262 sealed there, and the SRK systemd pins in them
// is byte for byte what Encrypt pins for the SRK's TPM2B_PUBLIC.
func TestReadSystemdTPM262(t *testing.T) {
	tpm := swtpmtest.Start(t)
	hk, err := NewHostKey(nil, machineID(t))
	if err != nil {
		t.Fatal(err)
	}
	secretEnv := writeHostKey(t, hk)
	dir := t.TempDir()
	payload := []byte("sealed by systemd")
	in := writeFile(t, dir, "in", payload)
	parent, err := ParseParent(tpm.SRKPublic)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		args []string
		want KeyType
	}{
		{"tpm2", nil, KeyTPM2},
		{"host+tpm2", nil, KeyHostTPM2},
		{"tpm2", []string{"--tpm2-pcrs=7+11"}, KeyTPM2},
	} {
		p := filepath.Join(dir, "c.cred")
		args := append([]string{"encrypt", "--with-key=" + c.key, "--tpm2-device=" + tpm.Device(), "--name=c"}, c.args...)
		if _, stderr, err := systemdCreds(t, "262", []string{secretEnv}, append(args, in, p)...); err != nil {
			t.Fatalf("systemd-creds encrypt %s: %v: %s", c.key, err, stderr)
		}
		data := mustRead(t, p)
		raw, err := readCredential(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		h, err := parseHeader(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !h.id.pinnedSRK || !bytes.Equal(h.srk, parent.serializeSRK()) {
			t.Fatalf("systemd's pinned SRK\n%x\nours\n%x", h.srk, parent.serializeSRK())
		}
		if !bytes.Equal(tpm2bRaw(t, h.blob), h.blob) {
			t.Fatal("blob does not parse")
		}
		tc, err := OpenTPM(tpm.Device())
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		info, err := Decrypt(&out, bytes.NewReader(data), &DecryptOptions{Name: "c", HostKey: hk, TPM: tc})
		tc.Close()
		if err != nil || !bytes.Equal(out.Bytes(), payload) || info.KeyType != c.want || info.Imported {
			t.Fatalf("Decrypt(systemd's %s %v): %v %q %+v", c.key, c.args, err, out.Bytes(), info)
		}
	}
}

func tpm2bRaw(t *testing.T, b []byte) []byte {
	t.Helper()
	bl, err := parseBlob(b)
	if err != nil {
		t.Fatal(err)
	}
	r := append(tpm2.Marshal(bl.private), tpm2.Marshal(bl.public)...)
	if len(bl.seed) > 0 {
		r = append(r, tpm2.Marshal(tpm2.TPM2BEncryptedSecret{Buffer: bl.seed})...)
	}
	return r
}

// TestSystemdTPMRSA262: an RSA 2048 SRK (OAEP duplication) works with the
// real systemd-creds 262 too.
func TestSystemdTPMRSA262(t *testing.T) {
	tpm := swtpmtest.StartRSA(t)
	parent, err := ParseParent(tpm.SRKPublic)
	if err != nil {
		t.Fatal(err)
	}
	if parent.Algorithm() != "rsa" {
		t.Fatalf("parent algorithm %s", parent.Algorithm())
	}
	payload := []byte("RSA SRK")
	p := encryptFile(t, t.TempDir(), "rsa", payload, &Options{Name: "rsa", Key: KeyTPM2, Parent: parent, PCRs: []PCRValue{{11, tpm.PCR11()}}})
	out, stderr, err := systemdCreds(t, "262", nil, "decrypt", "--tpm2-device="+tpm.Device(), p, "-")
	if err != nil || !bytes.Equal(out, payload) {
		t.Fatalf("systemd-creds 262 decrypt: %v %q %s", err, out, stderr)
	}
}

// TestSystemdMeasureSignature: the signed PCR policy comes from the real
// systemd-measure 262 (sign --linux=... --phase=enter-initrd), the swtpm's
// PCR 11 is brought to the state systemd-measure predicts (checked with
// systemd-measure calculate against tpm2_pcrread), and systemd-creds 262
// and Decrypt unseal a credential bound to the PCR public key with it.
func TestSystemdMeasureSignature(t *testing.T) {
	tools := reftools.Locate(t)
	tpm := swtpmtest.Start(t)
	dir := t.TempDir()
	pk := newPCRKey(t)
	keyFile := writeFile(t, dir, "pcr.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, pk.priv)}))
	pubFile := writeFile(t, dir, "pcr.pem", pk.pem)
	kernel := []byte("a kernel")
	linux := writeFile(t, dir, "linux", kernel)
	measure := func(args ...string) []byte {
		t.Helper()
		cmd := tools.MeasureVersion(t, "262", args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("systemd-measure %v: %v: %s", args, err, e.Bytes())
		}
		return o.Bytes()
	}
	// systemd-stub measures a section as SHA-256 of its name with the NUL,
	// then of its content; systemd-pcrphase extends SHA-256 of the word.
	for _, d := range [][]byte{[]byte(".linux\x00"), kernel, []byte("enter-initrd")} {
		h := sha256.Sum256(d)
		tpm.Tool("tpm2_pcrextend", "11:sha256="+hex.EncodeToString(h[:]))
	}
	var calc map[string][]struct {
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(measure("calculate", "--linux="+linux, "--phase=enter-initrd", "--bank=sha256", "--json=short"), &calc); err != nil {
		t.Fatal(err)
	}
	if len(calc["sha256"]) != 1 || calc["sha256"][0].Hash != hex.EncodeToString(tpm.PCR11()) {
		t.Fatalf("systemd-measure predicts %v, the swtpm has %x", calc, tpm.PCR11())
	}
	sig := measure("sign", "--linux="+linux, "--phase=enter-initrd", "--bank=sha256", "--private-key="+keyFile, "--public-key="+pubFile, "--json=short")
	sigFile := writeFile(t, dir, "sig.json", sig)
	parent, err := ParseParent(tpm.SRKPublic)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("signed policy")
	p := encryptFile(t, dir, "signed", payload, &Options{Name: "signed", Key: KeyTPM2, Parent: parent, PCRPublicKey: pk.pem})
	out, stderr, err := systemdCreds(t, "262", nil, "decrypt", "--tpm2-device="+tpm.Device(), "--tpm2-signature="+sigFile, p, "-")
	if err != nil || !bytes.Equal(out, payload) {
		t.Fatalf("systemd-creds 262 decrypt: %v %q %s", err, out, stderr)
	}
	tc, err := OpenTPM(tpm.Device())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	var b bytes.Buffer
	if _, err := Decrypt(&b, bytes.NewReader(mustRead(t, p)), &DecryptOptions{Name: "signed", TPM: tc, Signature: sig}); err != nil || !bytes.Equal(b.Bytes(), payload) {
		t.Fatalf("Decrypt: %v %q", err, b.Bytes())
	}
	// The next phase: no signature for it in sig.json.
	tpm.Extend11("leave-initrd")
	if _, err := Decrypt(&b, bytes.NewReader(mustRead(t, p)), &DecryptOptions{Name: "signed", TPM: tc, Signature: sig}); !errors.Is(err, ErrNoSignature) {
		t.Fatalf("Decrypt after leave-initrd: %v, want ErrNoSignature", err)
	}
}

func mustPKCS8(t *testing.T, k any) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
