package creds

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// softParent is a TPM2B_PUBLIC with systemd's SRK template around a
// software ECC key (the unit tests need no TPM).
func softParent(t testing.TB, attrs tpm2.TPMAObject) []byte {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt := k.PublicKey().Bytes() // 0x04 || X || Y
	pub := tpm2.TPMTPublic{
		Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES,
				KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
				Mode:    tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)},
			Scheme:  tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID: tpm2.TPMECCNistP256, KDF: tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull}}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: pt[1:33]}, Y: tpm2.TPM2BECCParameter{Buffer: pt[33:]}}),
	}
	return tpm2.Marshal(tpm2.New2B(pub))
}

var srkAttrs = tpm2.TPMAObject{Restricted: true, Decrypt: true, FixedTPM: true, FixedParent: true,
	SensitiveDataOrigin: true, UserWithAuth: true, NoDA: true}

func rsaParent(t testing.TB, bits int, attrs tpm2.TPMAObject) []byte {
	t.Helper()
	n := make([]byte, bits/8)
	rand.Read(n)
	n[0] |= 0x80
	pub := tpm2.TPMTPublic{
		Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES,
				KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
				Mode:    tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)},
			Scheme:  tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits: tpm2.TPMKeyBits(bits)}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: n}),
	}
	return tpm2.Marshal(tpm2.New2B(pub))
}

func TestParseParentRefusals(t *testing.T) {
	if _, err := ParseParent(softParent(t, srkAttrs)); err != nil {
		t.Fatalf("SRK template: %v", err)
	}
	if _, err := ParseParent(rsaParent(t, 2048, srkAttrs)); err != nil {
		t.Fatalf("RSA 2048: %v", err)
	}
	sign := tpm2.TPMAObject{SignEncrypt: true, FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true}
	good := softParent(t, srkAttrs)
	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		"signing key":      {softParent(t, sign), "not a restricted decryption"},
		"unrestricted":     {softParent(t, tpm2.TPMAObject{Decrypt: true, FixedTPM: true}), "not a restricted decryption"},
		"RSA 1024":         {rsaParent(t, 1024, srkAttrs), "RSA key of 1024 bits"},
		"RSA 3072":         {rsaParent(t, 3072, srkAttrs), "RSA key of 3072 bits"},
		"empty":            {nil, "not a TPM2B_PUBLIC"},
		"truncated":        {good[:len(good)-3], "not a TPM2B_PUBLIC"},
		"trailing garbage": {append(bytes.Clone(good), 0), "not a TPM2B_PUBLIC"},
		"PEM text":         {[]byte("-----BEGIN PUBLIC KEY-----\n"), "not a TPM2B_PUBLIC"},
		"point off curve":  {tpm2.Marshal(tpm2.New2B(tpm2.ECCSRKTemplate)), "unusable public key"},
	} {
		_, err := ParseParent(c.in)
		var se *SRKError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an *SRKError with %q", name, err, c.want)
		}
	}
}

func TestEncryptRefusals(t *testing.T) {
	parent, err := ParseParent(softParent(t, srkAttrs))
	if err != nil {
		t.Fatal(err)
	}
	hk := &HostKey{Secret: make([]byte, 32)}
	big := bytes.Repeat([]byte{'x'}, MaxPayload+1)
	ts := time.Unix(2000, 0)
	var ie *InputError
	var ue *UnsupportedError
	var se *SRKError
	for name, c := range map[string]struct {
		o       Options
		payload []byte
		ok      func(error) bool
	}{
		"name with /":          {Options{Name: "a/b", Key: KeyNull}, nil, func(e error) bool { return errors.As(e, &ie) && strings.Contains(e.Error(), `contains "/"`) }},
		"name ..":              {Options{Name: "..", Key: KeyNull}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"name with :":          {Options{Name: "a:b", Key: KeyNull}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"not-after first":      {Options{Key: KeyNull, Timestamp: ts, NotAfter: ts.Add(-time.Second)}, nil, func(e error) bool { return errors.As(e, &ie) && strings.Contains(e.Error(), "not after") }},
		"not-after equal":      {Options{Key: KeyNull, Timestamp: ts, NotAfter: ts}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"too large":            {Options{Key: KeyNull}, big, func(e error) bool { return errors.Is(e, ErrTooLarge) }},
		"no key type":          {Options{}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"host without key":     {Options{Key: KeyHost}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"tpm2 without parent":  {Options{Key: KeyTPM2}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"tpm2 for 254":         {Options{Key: KeyTPM2, Parent: parent, TargetSystemd: 254}, nil, func(e error) bool { return errors.As(e, &ue) && strings.Contains(e.Error(), "systemd 254") }},
		"host+tpm2 for 252":    {Options{Key: KeyHostTPM2, HostKey: hk, Parent: parent, TargetSystemd: 252}, nil, func(e error) bool { return errors.As(e, &ue) }},
		"SRK for 257":          {Options{Key: KeyTPM2, Parent: parent, TargetSystemd: 257}, nil, func(e error) bool { return errors.As(e, &se) && strings.Contains(e.Error(), "legacy primary") }},
		"PCR out of range":     {Options{Key: KeyTPM2, Parent: parent, PCRs: []PCRValue{{24, make([]byte, 32)}}}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"PCR value size":       {Options{Key: KeyTPM2, Parent: parent, PCRs: []PCRValue{{7, make([]byte, 20)}}}, nil, func(e error) bool { return errors.As(e, &ie) }},
		"bad PCR public key":   {Options{Key: KeyTPM2, Parent: parent, PCRPublicKey: []byte("nope")}, nil, func(e error) bool { return errors.As(e, &ie) && strings.Contains(e.Error(), "PCR public key") }},
		"null with TPM option": {Options{Key: KeyNull, Parent: parent}, nil, func(e error) bool { return errors.As(e, &ie) }},
	} {
		var out bytes.Buffer
		o := c.o
		err := Encrypt(&out, bytes.NewReader(c.payload), &o)
		if err == nil || !c.ok(err) {
			t.Errorf("%s: %v", name, err)
		}
		if out.Len() != 0 {
			t.Errorf("%s: %d bytes written on error", name, out.Len())
		}
	}
}

func TestDecryptRefusals(t *testing.T) {
	hk := &HostKey{Secret: bytes.Repeat([]byte{7}, 64)}
	mk := func(o Options) []byte {
		var b bytes.Buffer
		if err := Encrypt(&b, strings.NewReader("payload"), &o); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	null := mk(Options{Name: "n", Key: KeyNull})
	host := mk(Options{Name: "h", Key: KeyHost, HostKey: hk})
	expired := mk(Options{Name: "e", Key: KeyNull, Timestamp: time.Unix(10, 0), NotAfter: time.Unix(20, 0)})
	raw, _ := readCredential(bytes.NewReader(host))
	flip := func(off int) []byte {
		b := bytes.Clone(raw)
		b[off] ^= 0x80
		var out bytes.Buffer
		encodeBase64(&out, b)
		return out.Bytes()
	}
	b64 := func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }
	var fe *FormatError
	var ne *NameMismatchError
	var ee *ExpiredError
	var ie *InputError
	isFormat := func(e error) bool { return errors.As(e, &fe) }
	for name, c := range map[string]struct {
		in     []byte
		o      DecryptOptions
		ok     func(error) bool
		header bool // Inspect refuses it too
	}{
		"not base64":    {[]byte("%%%% not base64"), DecryptOptions{}, isFormat, true},
		"empty":         {nil, DecryptOptions{}, isFormat, true},
		"binary":        {raw, DecryptOptions{HostKey: hk}, isFormat, true},
		"foreign":       {b64(bytes.Repeat([]byte{0x42}, 200)), DecryptOptions{}, isFormat, true},
		"truncated":     {b64(raw[:40]), DecryptOptions{HostKey: hk}, isFormat, true},
		"bad tag size":  {flip(28), DecryptOptions{HostKey: hk}, isFormat, true},
		"flipped IV":    {flip(35), DecryptOptions{HostKey: hk}, func(e error) bool { return errors.Is(e, ErrAuthentication) }, false},
		"flipped tag":   {flip(len(raw) - 1), DecryptOptions{HostKey: hk}, func(e error) bool { return errors.Is(e, ErrAuthentication) }, false},
		"wrong host":    {host, DecryptOptions{HostKey: &HostKey{Secret: []byte{1}}}, func(e error) bool { return errors.Is(e, ErrAuthentication) }, false},
		"no host key":   {host, DecryptOptions{}, func(e error) bool { return errors.As(e, &ie) }, false},
		"renamed":       {null, DecryptOptions{Name: "other"}, func(e error) bool { return errors.As(e, &ne) && ne.Embedded == "n" }, false},
		"expired":       {expired, DecryptOptions{}, func(e error) bool { return errors.As(e, &ee) }, false},
		"not yet valid": {null, DecryptOptions{Name: "n", Now: time.Unix(1, 0)}, nil, false},
	} {
		var out bytes.Buffer
		_, err := Decrypt(&out, bytes.NewReader(c.in), &c.o)
		if c.ok == nil {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !c.ok(err) {
			t.Errorf("%s: Decrypt: %v", name, err)
		}
		if out.Len() != 0 {
			t.Errorf("%s: %d bytes written on error", name, out.Len())
		}
		if _, err := Inspect(bytes.NewReader(c.in)); c.header && !isFormat(err) {
			t.Errorf("%s: Inspect: %v", name, err)
		}
	}
}

// FuzzParse: Inspect and Decrypt of arbitrary bytes (raw and as base64)
// never panic.
func FuzzParse(f *testing.F) {
	hk := &HostKey{Secret: []byte("k")}
	parent, err := ParseParent(softParent(f, srkAttrs))
	if err != nil {
		f.Fatal(err)
	}
	pk := newPCRKey(f)
	for _, o := range []Options{
		{Name: "n", Key: KeyNull},
		{Name: "h", Key: KeyHost, HostKey: hk},
		{Name: "t", Key: KeyHostTPM2, HostKey: hk, Parent: parent, PCRPublicKey: pk.pem, PCRs: []PCRValue{{7, make([]byte, 32)}}},
		{Name: "l", Key: KeyTPM2, Parent: parent, TargetSystemd: 257, PCRs: []PCRValue{{7, make([]byte, 32)}}},
	} {
		if o.TargetSystemd == 257 {
			continue // the soft parent is an SRK, not the legacy primary
		}
		var b bytes.Buffer
		if err := Encrypt(&b, strings.NewReader("payload"), &o); err != nil {
			f.Fatal(err)
		}
		raw, _ := readCredential(bytes.NewReader(b.Bytes()))
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, []byte(base64.StdEncoding.EncodeToString(data))} {
			Inspect(bytes.NewReader(in))
			Decrypt(&bytes.Buffer{}, bytes.NewReader(in), &DecryptOptions{HostKey: hk})
			if h, err := parseHeader(data); err == nil {
				parseBlob(h.blob)
				parseSerializedSRK(h.srk)
			}
		}
		ParseParent(data)
		ReadHostKey(bytes.NewReader(data))
	})
}

// TestParsePCRValues: systemd-creds' --tpm2-pcrs syntax with the values an
// offline tool needs; a PCR without a value, another bank, a bad index and
// a short value are *InputError.
func TestParsePCRValues(t *testing.T) {
	v := strings.Repeat("ab", 32)
	got, err := ParsePCRValues("7:sha256=" + v + "+11:SHA256=" + strings.ToUpper(v))
	if err != nil || len(got) != 2 || got[0].Index != 7 || got[1].Index != 11 || len(got[1].Value) != 32 {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, bad := range []string{"7", "7:sha1=" + v[:40], "24:sha256=" + v, "x:sha256=" + v, "7:sha256=abcd"} {
		var ie *InputError
		if _, err := ParsePCRValues(bad); !errors.As(err, &ie) {
			t.Errorf("%q: %v, want an *InputError", bad, err)
		}
	}
}
