package sign

// Byte-identity with systemd-sbsign 262.1 (Debian sid's systemd-repart, run
// through sid's ld.so by internal/reftools), online and offline. A missing
// tool fails the test.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/keys"
)

// opensslKeyCert makes an RSA 2048 key and a self-signed certificate with
// openssl (PEM files in a new directory).
func opensslKeyCert(t *testing.T) (keyPath, certPath string, key crypto.Signer, cert *x509.Certificate) {
	t.Helper()
	openssl := tool(t, "openssl", "openssl")
	dir := t.TempDir()
	keyPath, certPath = filepath.Join(dir, "sb.key"), filepath.Join(dir, "sb.crt")
	run(t, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath,
		"-subj", "/CN=ukibuild systemd-sbsign test", "-days", "30")
	if err := os.Chmod(keyPath, 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if key, err = keys.PrivateKey(keyPath, nil); err != nil {
		t.Fatal(err)
	}
	if cert, err = keys.Certificate(certPath); err != nil {
		t.Fatal(err)
	}
	return keyPath, certPath, key, cert
}

// systemdSbsign runs "systemd-sbsign ARGS" with SOURCE_DATE_EPOCH set to
// epoch, or unset when epoch is "".
func systemdSbsign(t *testing.T, epoch string, args ...string) {
	t.Helper()
	cmd := reftools.Locate(t).SystemdSbsign(t, args...)
	cmd.Env = withEpoch(cmd.Env, epoch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-sbsign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// withEpoch returns env with SOURCE_DATE_EPOCH=epoch, or without it.
func withEpoch(env []string, epoch string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") {
			out = append(out, kv)
		}
	}
	if epoch != "" {
		out = append(out, "SOURCE_DATE_EPOCH="+epoch)
	}
	return out
}

// sdInputs are refInputs, the add-on stub 262.1 and the stub already
// signed by sbsign (systemd-sbsign then adds a second signature).
func sdInputs(t *testing.T) map[string]string {
	in := refInputs(t)
	in["addon262"] = reftools.Locate(t).Path(t, "UKIBUILD_ADDON_STUB_262")
	signed := filepath.Join(t.TempDir(), "stub-sbsigned.efi")
	run(t, tool(t, "sbsign", "sbsigntool"), "--key", "testdata/other.key", "--cert", "testdata/other.crt", "--output", signed, in["stub262"])
	in["stub262-signed"] = signed
	return in
}

// TestSystemdSbsignByteIdentical: ProfileSystemdSbsign gives the bytes of
// "systemd-sbsign sign" with the same key, certificate and signing time
// (SOURCE_DATE_EPOCH), and sbverify and Verify accept them.
func TestSystemdSbsignByteIdentical(t *testing.T) {
	sbverify := tool(t, "sbverify", "sbsigntool")
	keyPath, certPath, key, cert := opensslKeyCert(t)
	for name, in := range sdInputs(t) {
		// The last second UTCTime can hold (systemd-sbsign's encoding of
		// later times: TestSystemdSbsignAfter2049).
		for _, epoch := range []int64{1700000000, 2524607999} {
			t.Run(name+"/"+strconv.FormatInt(epoch, 10), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "signed.efi")
				systemdSbsign(t, strconv.FormatInt(epoch, 10), "sign", "--private-key", keyPath, "--certificate", certPath, "--output", out, in)
				want := readFile(t, out)
				if st := signingTimeOf(t, want); !st.Equal(time.Unix(epoch, 0)) {
					t.Fatalf("systemd-sbsign's signingTime is %v, not SOURCE_DATE_EPOCH's", st)
				}
				got := signBytes(t, readFile(t, in), key, Options{Certificate: cert, Profile: ProfileSystemdSbsign, SigningTime: time.Unix(epoch, 0)})
				if !bytes.Equal(got, want) {
					t.Fatalf("differs from systemd-sbsign's output: %s", firstDiff(got, want))
				}
				run(t, sbverify, "--cert", certPath, writeTemp(t, "ours.efi", got))
				rep, err := Verify(context.Background(), bytes.NewReader(got), int64(len(got)), VerifyOptions{DB: []*x509.Certificate{cert}})
				if err != nil {
					t.Fatal(err)
				}
				if last := rep.Signatures[len(rep.Signatures)-1]; !last.OK() || last.Subject() != "CN=ukibuild systemd-sbsign test" {
					t.Fatalf("Verify: %+v", rep.Signatures)
				}
			})
		}
	}
}

// TestSystemdSbsignAfter2049 records where ProfileSystemdSbsign departs
// from systemd-sbsign 262.1 on purpose: for a signing time after 2049
// systemd-sbsign puts the GeneralizedTime text (15 characters, as OpenSSL's
// ASN1_TIME_set makes it) under the UTCTime tag (its
// PKCS7_add0_attrib_signing_time call tags the value UTCTime), which is not
// valid DER; we write a GeneralizedTime (RFC 5652, 11.3). Should systemd
// change this, the test fails and the profile is to follow.
func TestSystemdSbsignAfter2049(t *testing.T) {
	keyPath, certPath, key, cert := opensslKeyCert(t)
	const epoch = 2600000000 // 2052-05-22T14:13:20Z
	in := stub262(t)
	out := filepath.Join(t.TempDir(), "signed.efi")
	systemdSbsign(t, strconv.Itoa(epoch), "sign", "--private-key", keyPath, "--certificate", certPath, "--output", out, in)
	want := readFile(t, out)
	got := signBytes(t, readFile(t, in), key, Options{Certificate: cert, Profile: ProfileSystemdSbsign, SigningTime: time.Unix(epoch, 0)})
	text := []byte("\x0f20520522141320Z")
	if !bytes.Contains(want, append([]byte{0x17}, text...)) {
		t.Fatal("systemd-sbsign no longer writes the 2052 signing time as a 15-character UTCTime: compare the profile with it again")
	}
	if !bytes.Contains(got, append([]byte{0x18}, text...)) {
		t.Fatal("the 2052 signing time is not a GeneralizedTime")
	}
	if len(got) != len(want) {
		t.Fatalf("sizes differ beyond the time's tag: %d vs %d", len(got), len(want))
	}
}

// TestSystemdSbsignOffline: systemd-sbsign's offline files are ours. Its
// --prepare-offline-signing output is Request.SignedAttributes; a signature
// of its output (made without SOURCE_DATE_EPOCH, so at the current time)
// attached with AdoptSignedAttributes gives the bytes systemd-sbsign's
// --signed-data/--signed-data-signature give; and systemd-sbsign attaching
// a signature of our export gives the bytes of our Attach.
func TestSystemdSbsignOffline(t *testing.T) {
	openssl := tool(t, "openssl", "openssl")
	keyPath, certPath, _, cert := opensslKeyCert(t)
	const epoch = 1700000000
	inputs := sdInputs(t)
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			img := readFile(t, in)
			newReq := func(when time.Time) *Request {
				t.Helper()
				req, err := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), Options{Certificate: cert, Profile: ProfileSystemdSbsign, SigningTime: when})
				if err != nil {
					t.Fatal(err)
				}
				return req
			}
			write := func(req *Request, p7 []byte) []byte {
				t.Helper()
				var w memWriterAt
				if _, err := req.Write(&w, p7); err != nil {
					t.Fatal(err)
				}
				return w.b
			}
			osslSign := func(data string) []byte {
				t.Helper()
				sig := data + ".sig"
				run(t, openssl, "dgst", "-sha256", "-sign", keyPath, "-out", sig, data)
				return readFile(t, sig)
			}

			// Export, the same signing time: the same bytes.
			sdAttrs := filepath.Join(dir, "sd.attrs")
			systemdSbsign(t, strconv.Itoa(epoch), "sign", "--certificate", certPath, "--prepare-offline-signing", "--output", sdAttrs, in)
			ours := newReq(time.Unix(epoch, 0))
			if got, want := ours.SignedAttributes(), readFile(t, sdAttrs); !bytes.Equal(got, want) {
				t.Fatalf("the exported attributes differ from systemd-sbsign's: %s", firstDiff(got, want))
			}

			// systemd-sbsign's export at its current time, signed
			// elsewhere, attached by both.
			nowAttrs := filepath.Join(dir, "now.attrs")
			systemdSbsign(t, "", "sign", "--certificate", certPath, "--prepare-offline-signing", "--output", nowAttrs, in)
			sig := osslSign(nowAttrs)
			sdOut := filepath.Join(dir, "sd.efi")
			systemdSbsign(t, "", "sign", "--certificate", certPath, "--signed-data", nowAttrs, "--signed-data-signature", nowAttrs+".sig", "--output", sdOut, in)
			req := newReq(time.Unix(1, 0)) // replaced by the file's time
			if err := req.AdoptSignedAttributes(readFile(t, nowAttrs)); err != nil {
				t.Fatal(err)
			}
			p7, err := req.Attach(sig)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := write(req, p7), readFile(t, sdOut); !bytes.Equal(got, want) {
				t.Fatalf("attaching a signature of systemd-sbsign's export differs from systemd-sbsign's: %s", firstDiff(got, want))
			}

			// Our export, signed elsewhere, attached by both.
			ourAttrs := writeTemp(t, "ours.attrs", ours.SignedAttributes())
			sig = osslSign(ourAttrs)
			sdOut2 := filepath.Join(dir, "sd2.efi")
			systemdSbsign(t, "", "sign", "--certificate", certPath, "--signed-data", ourAttrs, "--signed-data-signature", ourAttrs+".sig", "--output", sdOut2, in)
			p7, err = ours.Attach(sig)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := write(ours, p7), readFile(t, sdOut2); !bytes.Equal(got, want) {
				t.Fatalf("systemd-sbsign attaching a signature of our export differs from our Attach: %s", firstDiff(got, want))
			}
		})
	}
}

// TestAdoptSignedAttributesMismatch: attributes of another image, of
// another profile, or not attributes at all are refused.
func TestAdoptSignedAttributesMismatch(t *testing.T) {
	_, cert := testKey(t, "db")
	img := smallPE()
	when := time.Unix(1700000000, 0)
	req := func(img []byte, p Profile) *Request {
		r, err := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), Options{Certificate: cert, Profile: p, SigningTime: when})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	attrs := req(img, ProfileSystemdSbsign).SignedAttributes()
	other := append(bytes.Clone(img), 1) // a zero would fall into the padding, which is hashed as zeros
	noTime, err := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), Options{Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		req    *Request
		attrs  []byte
		errSub string
		isErr  error
	}{
		{"another image", req(other, ProfileSystemdSbsign), attrs, "messageDigest", ErrAttributesMismatch},
		{"another profile", req(img, ProfileSbsign), attrs, "attribute set of the sbsign profile", ErrAttributesMismatch},
		{"no signing time", req(img, ProfileSystemdSbsign), noTime.SignedAttributes(), "no signingTime", ErrAttributesMismatch},
		{"not DER", req(img, ProfileSystemdSbsign), []byte("not DER"), "not one DER SET", nil},
		{"trailing bytes", req(img, ProfileSystemdSbsign), append(bytes.Clone(attrs), 0), "not one DER SET", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.req.SignedAttributes()
			err := tc.req.AdoptSignedAttributes(tc.attrs)
			if err == nil || !strings.Contains(err.Error(), tc.errSub) || (tc.isErr != nil && !errors.Is(err, tc.isErr)) {
				t.Fatalf("got %v, want an error containing %q", err, tc.errSub)
			}
			if !bytes.Equal(tc.req.SignedAttributes(), before) {
				t.Fatal("a refused adoption changed the request")
			}
		})
	}
	// The same image and profile at another time: adopted, with its time.
	r := req(img, ProfileSystemdSbsign)
	later := req(img, ProfileSystemdSbsign)
	later.opts.SigningTime = when.Add(time.Hour)
	if err := later.AdoptSignedAttributes(r.SignedAttributes()); err != nil || !later.opts.SigningTime.Equal(when) {
		t.Fatalf("adopting the same request's attributes: %v, time %v", err, later.opts.SigningTime)
	}
}
