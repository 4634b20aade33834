package pcrsig

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
)

// sigLoadTestPublicKey reads a PEM public key from testdata.
func sigLoadTestPublicKey(t *testing.T, name string) *rsa.PublicKey {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

// TestPublicKeyVectors checks the fingerprint and TPM name of the two RSA
// public keys of systemd's src/test/test-tpm2.c (tpm2b_public_from_openssl_pkey:
// the default exponent and 0x10005), whose expected values systemd's own test
// asserts.
func TestPublicKeyVectors(t *testing.T) {
	for _, tc := range []struct{ file, fp, name string }{
		{"systemd-test-rsa.pem",
			"d9186d13a7fd5b3644cee05448f49ad3574e82a2942ff93cf89598d36cca78a9",
			"000be1bd75c7976e7a30e9e82223b81a9eff0d42c30618e588db592ed5da94455e81"},
		{"systemd-test-rsa-e10005.pem",
			"c8ca80a687d5972e1d961aaa2cfde2ff2e7a20d85e3ea0382804e70e013d65af",
			"000beb8974d36d8cf58fdc87460dda00319e10c94c1b9f222ac9ce29d1c4776246cc"},
	} {
		pub := sigLoadTestPublicKey(t, tc.file)
		fp, err := PublicKeyFingerprint(pub)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(fp); got != tc.fp {
			t.Errorf("%s: fingerprint %s, want %s", tc.file, got, tc.fp)
		}
		name, err := PolicyPublicKeyName(pub)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(name); got != tc.name {
			t.Errorf("%s: TPM name %s, want %s", tc.file, got, tc.name)
		}
	}
}

// sigManualPolicyPCR is the PolicyPCR digest written out byte by byte (TPM 2.0
// Part 3, 23.7), independently of go-tpm's marshalling.
func sigManualPolicyPCR(bank pcr.Bank, pcr uint32, value []byte) []byte {
	var b bytes.Buffer
	b.Write(make([]byte, 32))                              // policyDigest (old)
	binary.Write(&b, binary.BigEndian, uint32(0x0000017f)) // TPM_CC_PolicyPCR
	binary.Write(&b, binary.BigEndian, uint32(1))          // TPML_PCR_SELECTION.count
	binary.Write(&b, binary.BigEndian, bank.AlgID)         // hash
	b.WriteByte(3)                                         // sizeofSelect
	sel := make([]byte, 3)                                 //
	sel[pcr/8] |= 1 << (pcr % 8)                           //
	b.Write(sel)                                           // pcrSelect
	d := sha256.Sum256(value)                              // pcrDigest (session hash)
	b.Write(d[:])                                          //
	sum := sha256.Sum256(b.Bytes())                        //
	return sum[:]
}

func TestPolicyPCRDigestManual(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bank := range pcr.AllBanks() {
		for _, pcr := range []uint32{0, 7, 11, 23} {
			v := make([]byte, bank.Hash.Size())
			for i := range v {
				v[i] = byte(rng.UintN(256))
			}
			got, err := PolicyPCRDigest(bank, pcr, v)
			if err != nil {
				t.Fatal(err)
			}
			if want := sigManualPolicyPCR(bank, pcr, v); !bytes.Equal(got, want) {
				t.Errorf("%s PCR %d: %x, want %x", bank, pcr, got, want)
			}
		}
	}
	if _, err := PolicyPCRDigest(pcr.SHA256, 11, make([]byte, 20)); err == nil {
		t.Error("a SHA-1 sized value in the sha256 bank was accepted")
	}
	if _, err := PolicyPCRDigest(pcr.SHA256, 24, make([]byte, 32)); err == nil {
		t.Error("PCR 24 was accepted")
	}
	if _, err := PolicyPCRDigest(pcr.Bank{Name: "md5"}, 11, nil); err == nil {
		t.Error("an unknown bank was accepted")
	}
}

// TestPolicyPCRDigestMeasured checks values systemd-measure 262.1 printed for
// a one-line kernel "hi\n" (checked again against the binary, with many more
// inputs, in sign_measure_test.go).
func TestPolicyPCRDigestMeasured(t *testing.T) {
	for _, tc := range []struct {
		bank  pcr.Bank
		phase string
		want  string
	}{
		{pcr.SHA1, "a", "f0fcdb04478e124588d918901cf6b1b5fe7f60a43ddba0035f610c93095545c5"},
		{pcr.SHA256, "enter-initrd", "18ff39f599ef6813218e94a9c5bbf908cf8c673a7654855e8d479b15edd06e4b"},
	} {
		v := sigTestPCR(tc.bank, sigTestSections{{".linux", []byte("hi\n")}}, tc.phase)
		got, err := PolicyPCRDigest(tc.bank, SignedPCR, v)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("%s %s: %x, want %s", tc.bank, tc.phase, got, tc.want)
		}
	}
}

func TestPolicyAuthorizeDigest(t *testing.T) {
	pub := sigLoadTestPublicKey(t, "systemd-test-rsa.pem")
	name, err := PolicyPublicKeyName(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"", "initrd", "nvpcr-init"} {
		got, err := PolicyAuthorizeDigest(pub, ref)
		if err != nil {
			t.Fatal(err)
		}
		// TPM 2.0 Part 3, 23.16: digest = H(H(0 || CC || keyName) || policyRef)
		var b bytes.Buffer
		b.Write(make([]byte, 32))
		binary.Write(&b, binary.BigEndian, uint32(0x0000016a)) // TPM_CC_PolicyAuthorize
		b.Write(name)
		first := sha256.Sum256(b.Bytes())
		refd := []byte{}
		if ref != "" {
			r := sha256.Sum256([]byte(ref))
			refd = r[:]
		}
		want := sha256.Sum256(append(first[:], refd...))
		if !bytes.Equal(got, want[:]) {
			t.Errorf("ref %q: %x, want %x", ref, got, want)
		}
	}
	if _, err := PolicyAuthorizeDigest(&rsa.PublicKey{N: big.NewInt(0), E: 65537}, ""); err == nil {
		t.Error("an empty modulus was accepted")
	}
}

func TestPolicyToBeSigned(t *testing.T) {
	pol := bytes.Repeat([]byte{0xab}, 32)
	if got := PolicyToBeSigned(pol, ""); !bytes.Equal(got, pol) {
		t.Errorf("without a reference: %x", got)
	}
	if PolicyRefDigest("") != nil {
		t.Error("an empty reference has a digest")
	}
	// The "tbs" systemd-measure 262.1 printed for --policyref=initrd.
	got := hex.EncodeToString(PolicyToBeSigned(pol, "initrd"))
	if want := hex.EncodeToString(pol) + "09e6c018d2c8c4903308613dd1b72484d57eadf12ec50ddc8f52e5accce470f2"; got != want {
		t.Errorf("with a reference: %s, want %s", got, want)
	}
}

// sigTestSections is a test-local list of measured sections in stub order.
type sigTestSections []struct {
	name string
	data []byte
}

// sigTestPCR computes PCR 11 the way systemd-measure does, independently of
// the package's prediction code: for each non-empty section H(name NUL) and
// H(data), then H(word) for each word of the phase path.
func sigTestPCR(bank pcr.Bank, sections sigTestSections, phase string) []byte {
	h := func(b []byte) []byte {
		x := bank.Hash.New()
		x.Write(b)
		return x.Sum(nil)
	}
	v := bank.Zero()
	for _, s := range sections {
		if len(s.data) == 0 {
			continue
		}
		v = bank.Extend(v, h(append([]byte(s.name), 0)))
		v = bank.Extend(v, h(s.data))
	}
	for _, w := range bytes.Split([]byte(phase), []byte(":")) {
		if len(w) > 0 {
			v = bank.Extend(v, h(w))
		}
	}
	return v
}
