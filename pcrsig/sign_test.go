package pcrsig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
)

func sigEcTestSigner(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignPolicyVerifies(t *testing.T) {
	k := sigTestKeys(t)[0].priv
	tbs := PolicyToBeSigned(bytes.Repeat([]byte{1}, 32), "initrd")
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1, crypto.SHA384, crypto.SHA512} {
		sig, err := SignPolicy(k, tbs, h)
		if err != nil {
			t.Fatal(err)
		}
		d := h.New()
		d.Write(tbs)
		if err := rsa.VerifyPKCS1v15(&k.PublicKey, h, d.Sum(nil), sig); err != nil {
			t.Errorf("%v: %v", h, err)
		}
	}
	if _, err := SignPolicy(nil, tbs, crypto.SHA256); err == nil {
		t.Error("a nil signer was accepted")
	}
}

// sigPssSigner is a signer that ignores the requested scheme and signs with
// PSS, which the TPM would not accept.
type sigPssSigner struct{ k *rsa.PrivateKey }

func (s sigPssSigner) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s sigPssSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return rsa.SignPSS(r, s.k, o.HashFunc(), d, nil)
}

func TestSignPolicyRefusesWrongScheme(t *testing.T) {
	_, err := SignPolicy(sigPssSigner{sigTestKeys(t)[0].priv}, []byte("x"), crypto.SHA256)
	if err == nil || !strings.Contains(err.Error(), "PKCS1") {
		t.Errorf("PSS signer: error %v", err)
	}
}

func TestSortInputs(t *testing.T) {
	v := func(b pcr.Bank) []byte { return b.Zero() }
	in := []PolicyInput{
		{"b", pcr.SHA512, v(pcr.SHA512)}, {"a", pcr.SHA256, v(pcr.SHA256)}, {"", pcr.SHA1, v(pcr.SHA1)},
		{"a", pcr.SHA1, v(pcr.SHA1)}, {"a", pcr.SHA256, []byte("dup")}, {"B", pcr.SHA384, v(pcr.SHA384)},
	}
	var got []string
	for _, p := range sortInputs(in) {
		got = append(got, p.Phase+"/"+p.Bank.Name)
	}
	want := "/sha1 B/sha384 a/sha1 a/sha256 b/sha512"
	if strings.Join(got, " ") != want {
		t.Errorf("order %q, want %q", strings.Join(got, " "), want)
	}
}

func TestSignDocumentShape(t *testing.T) {
	k := sigTestKeys(t)[0]
	word := sha256.Sum256([]byte("enter-initrd"))
	val := pcr.SHA256.Extend(pcr.SHA256.Zero(), word[:])
	in := []PolicyInput{{Phase: "enter-initrd", Bank: pcr.SHA256, Value: val}}

	doc, err := Sign(in, SignOptions{Signer: k.priv, PolicyRef: "initrd"})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := doc.object()
	if err != nil {
		t.Fatal(err)
	}
	text, err := pcrSigText(obj)
	if err != nil {
		t.Fatal(err)
	}
	// ukify's json.dumps layout, key order pcrs, pkfp, ref, pol, sig.
	for _, frag := range []string{`{"sha256": [{"pcrs": [11], "pkfp": "`, `", "ref": "initrd", "pol": "`, `", "sig": "`, `"}]}`} {
		if !strings.Contains(string(text), frag) {
			t.Errorf(".pcrsig %s lacks %q", text, frag)
		}
	}
	short := doc.JSON(pcr.MeasureJSONShort)
	if !bytes.HasPrefix(short, []byte(`{"sha256":[{"pcrs":[11],"pkfp":"`)) || !bytes.HasSuffix(short, []byte("\"}]}\n")) {
		t.Errorf("short JSON %q", short)
	}
	if off := doc.JSON(pcr.MeasureJSONOff); !bytes.Equal(off, short[:len(short)-1]) {
		t.Errorf("--json=off %q", off)
	}
	pretty := string(doc.JSON(pcr.MeasureJSONPretty))
	if !strings.HasPrefix(pretty, "{\n\t\"sha256\" : [\n\t\t{\n\t\t\t\"pcrs\" : [\n\t\t\t\t11\n\t\t\t],\n\t\t\t\"pkfp\" : \"") || !strings.HasSuffix(pretty, "\"\n\t\t}\n\t]\n}\n") {
		t.Errorf("pretty JSON %q", pretty)
	}

	// policy-digest: "tbs" and no fingerprint without a public key.
	doc, err = Sign(in, SignOptions{PolicyDigest: true, PolicyRef: "initrd"})
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := PolicyPCRDigest(pcr.SHA256, SignedPCR, val)
	want := `{"sha256":[{"pcrs":[11],"ref":"initrd","pol":"` + sigHexs(pol) + `","tbs":"` + sigHexs(PolicyToBeSigned(pol, "initrd")) + "\"}]}\n"
	if got := string(doc.JSON(pcr.MeasureJSONShort)); got != want {
		t.Errorf("policy-digest:\n got %s\nwant %s", got, want)
	}
}

func sigHexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
