package pcrsig

// A real TPM 2.0 (the TCG reference implementation, through
// go-tpm-tools' simulator) proves that the policies and signatures Sign
// writes unlock secrets the way systemd does it: a secret sealed to
// PolicyAuthorize(PCR public key, policyRef) is unsealed in a policy session
// with PolicyPCR(PCR 11) + VerifySignature(SHA256(approvedPolicy ||
// policyRef)) + PolicyAuthorize, using the .pcrsig entry whose "pol" equals
// the session's digest (systemd's tpm2_policy_authorize() and
// find_signature() in src/shared/tpm2-util.c), and no longer once PCR 11
// moved on to a phase that was not signed.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"
	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/pcr"
)

var errNoPolicy = errors.New("no signed policy for the current PCR 11 value")

// tpmRig is a simulated TPM with the PCR public key loaded.
type tpmRig struct {
	t       *testing.T
	tpm     transport.TPM
	pubName tpm2.TPM2BName
	pubH    tpm2.TPMHandle
	fp      string
	banks   []pcr.Bank
}

func (r *tpmRig) flush(h tpm2.TPMHandle) {
	if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(r.tpm); err != nil {
		r.t.Errorf("flushing %#x: %v", h, err)
	}
}

// activeBanks lists the banks in which the TPM has PCR 11.
func activeBanks(t *testing.T, tpm transport.TPM) []pcr.Bank {
	t.Helper()
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 1}.Execute(tpm)
	if err != nil {
		t.Fatalf("GetCapability(PCRs): %v", err)
	}
	sel, err := rsp.CapabilityData.Data.AssignedPCR()
	if err != nil {
		t.Fatal(err)
	}
	var banks []pcr.Bank
	for _, b := range pcr.AllBanks() {
		for _, s := range sel.PCRSelections {
			if uint16(s.Hash) == b.AlgID && len(s.PCRSelect) > int(SignedPCR/8) && s.PCRSelect[SignedPCR/8]&(1<<(SignedPCR%8)) != 0 {
				banks = append(banks, b)
			}
		}
	}
	return banks
}

func pcrSelection(b pcr.Bank) tpm2.TPMLPCRSelection {
	sel := make([]byte, pcrSelectSize)
	sel[SignedPCR/8] |= 1 << (SignedPCR % 8)
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMIAlgHash(b.AlgID), PCRSelect: sel}}}
}

// extend extends PCR 11 in every active bank with the digest of data, as
// systemd-stub (through the firmware's HashLogExtendEvent) and
// systemd-pcrextend do.
func (r *tpmRig) extend(data []byte) {
	r.t.Helper()
	var digests []tpm2.TPMTHA
	for _, b := range r.banks {
		h := b.Hash.New()
		h.Write(data)
		digests = append(digests, tpm2.TPMTHA{HashAlg: tpm2.TPMIAlgHash(b.AlgID), Digest: h.Sum(nil)})
	}
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(SignedPCR), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: digests},
	}.Execute(r.tpm)
	if err != nil {
		r.t.Fatalf("PCR_Extend: %v", err)
	}
}

func (r *tpmRig) readPCR(b pcr.Bank) []byte {
	r.t.Helper()
	rsp, err := tpm2.PCRRead{PCRSelectionIn: pcrSelection(b)}.Execute(r.tpm)
	if err != nil || len(rsp.PCRValues.Digests) != 1 {
		r.t.Fatalf("PCR_Read(%s): %v", b, err)
	}
	return rsp.PCRValues.Digests[0].Buffer
}

// seal creates and loads a secret under parent whose only authorization is
// the policy: PolicyAuthorize by the PCR key with policyRef ref.
func (r *tpmRig) seal(parent *tpm2.CreatePrimaryResponse, secret []byte, authPolicy []byte) *tpm2.LoadResponse {
	r.t.Helper()
	crt, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: parent.ObjectHandle, Name: parent.Name, Auth: tpm2.PasswordAuth(nil)},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
		}},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgKeyedHash,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, NoDA: true},
			AuthPolicy:       tpm2.TPM2BDigest{Buffer: authPolicy},
		}),
	}.Execute(r.tpm)
	if err != nil {
		r.t.Fatalf("Create: %v", err)
	}
	ld, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: parent.ObjectHandle, Name: parent.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    crt.OutPrivate,
		InPublic:     crt.OutPublic,
	}.Execute(r.tpm)
	if err != nil {
		r.t.Fatalf("Load: %v", err)
	}
	return ld
}

// findSignature looks up the entry of bank whose "pcrs", "pkfp", "pol" and
// "ref" match, like systemd's find_signature().
func findSignature(pcrsig *pyjson.Object, bank pcr.Bank, fp string, pol []byte, ref string) ([]byte, error) {
	v, _ := pcrsig.Get(bank.Name)
	list, _ := v.([]any)
	for _, e := range list {
		o, ok := e.(*pyjson.Object)
		if !ok {
			continue
		}
		pcrs, _ := o.Get("pcrs")
		if l, ok := pcrs.([]any); !ok || len(l) != 1 || l[0] != int64(SignedPCR) {
			continue
		}
		if k, _ := o.Get("pkfp"); k != fp {
			continue
		}
		if p, _ := o.Get("pol"); p != hex.EncodeToString(pol) {
			continue
		}
		if rv, ok := o.Get("ref"); ok && rv != ref || !ok && ref != "" {
			continue
		}
		s, _ := o.Get("sig")
		str, _ := s.(string)
		return base64.StdEncoding.DecodeString(str)
	}
	return nil, errNoPolicy
}

// signedPolicy is a signed policy: its digest, signature and reference.
type signedPolicy struct {
	pol, sig []byte
	ref      string
}

// unseal runs systemd's unlock sequence for obj in bank with the entry of
// pcrsig for the current PCR value and policy reference ref. When forced is
// set, it uses that policy instead of looking one up, to show what the TPM
// does with other signed policies.
func (r *tpmRig) unseal(obj *tpm2.LoadResponse, b pcr.Bank, pcrsig *pyjson.Object, ref string, forced *signedPolicy) ([]byte, error) {
	r.t.Helper()
	sess, closeSess, err := tpm2.PolicySession(r.tpm, tpm2.TPMAlgSHA256, 16)
	if err != nil {
		r.t.Fatalf("StartAuthSession: %v", err)
	}
	defer func() {
		if err := closeSess(); err != nil {
			r.t.Errorf("closing the policy session: %v", err)
		}
	}()
	if _, err := (tpm2.PolicyPCR{PolicySession: sess.Handle(), Pcrs: pcrSelection(b)}).Execute(r.tpm); err != nil {
		return nil, fmt.Errorf("PolicyPCR: %w", err)
	}
	dg, err := tpm2.PolicyGetDigest{PolicySession: sess.Handle()}.Execute(r.tpm)
	if err != nil {
		return nil, fmt.Errorf("PolicyGetDigest: %w", err)
	}
	approved := dg.PolicyDigest.Buffer
	// The TPM computes what PolicyPCRDigest predicts for the PCR's value.
	if want, err := PolicyPCRDigest(b, SignedPCR, r.readPCR(b)); err != nil || !bytes.Equal(want, approved) {
		r.t.Errorf("%s: the TPM's PolicyPCR digest is %x, PolicyPCRDigest says %x (%v)", b, approved, want, err)
	}
	var sig []byte
	if forced != nil {
		approved, sig, ref = forced.pol, forced.sig, forced.ref
	} else if sig, err = findSignature(pcrsig, b, r.fp, approved, ref); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(PolicyToBeSigned(approved, ref))
	ver, err := tpm2.VerifySignature{
		KeyHandle: r.pubH,
		Digest:    tpm2.TPM2BDigest{Buffer: digest[:]},
		Signature: tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgRSASSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{
				Hash: tpm2.TPMAlgSHA256,
				Sig:  tpm2.TPM2BPublicKeyRSA{Buffer: sig},
			}),
		},
	}.Execute(r.tpm)
	if err != nil {
		return nil, fmt.Errorf("VerifySignature: %w", err)
	}
	_, err = tpm2.PolicyAuthorize{
		PolicySession:  sess.Handle(),
		ApprovedPolicy: tpm2.TPM2BDigest{Buffer: approved},
		PolicyRef:      tpm2.TPM2BDigest{Buffer: PolicyRefDigest(ref)},
		KeySign:        r.pubName,
		CheckTicket:    ver.Validation,
	}.Execute(r.tpm)
	if err != nil {
		return nil, fmt.Errorf("PolicyAuthorize: %w", err)
	}
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: obj.ObjectHandle, Name: obj.Name, Auth: sess}}.Execute(r.tpm)
	if err != nil {
		return nil, fmt.Errorf("Unseal: %w", err)
	}
	return rsp.OutData.Buffer, nil
}

func TestSignedPolicyUnsealsInTPM(t *testing.T) {
	tpm, err := simulator.OpenSimulator()
	if err != nil {
		t.Fatalf("TPM simulator: %v", err)
	}
	defer tpm.Close()
	key := sigTestKeys(t)[0]
	r := &tpmRig{t: t, tpm: tpm, banks: activeBanks(t, tpm)}
	if !bankIn(pcr.SHA256, r.banks) {
		t.Fatalf("the simulator has no sha256 bank with PCR 11 (banks: %v)", r.banks)
	}
	t.Logf("TPM banks with PCR 11: %v", r.banks)
	fp, err := PublicKeyFingerprint(&key.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	r.fp = hex.EncodeToString(fp)

	// The UKI: sections measured by the stub, in its order.
	rng := mrand.New(mrand.NewPCG(3, 4))
	secs := sigTestSections{
		{".linux", sigRandomBytes(rng, 9000)},
		{".osrel", []byte("ID=ukibuild\n")},
		{".cmdline", []byte("root=/dev/vda1 quiet")},
		{".initrd", sigRandomBytes(rng, 5000)},
		{".uname", []byte("6.1.0-50-amd64")},
	}
	// .pcrsig as ukify builds it: all phases signed without a reference,
	// plus enter-initrd signed with the policy reference "initrd"
	// (ukify --sign-initrd-pcrs), combined and written with json.dumps.
	var all, initrd []PolicyInput
	for _, p := range sigDefaultTestPhases {
		for _, b := range r.banks {
			in := PolicyInput{Phase: p, Bank: b, Value: sigTestPCR(b, secs, p)}
			all = append(all, in)
			if p == "enter-initrd" {
				initrd = append(initrd, in)
			}
		}
	}
	doc1, err := Sign(all, SignOptions{Signer: key.priv})
	if err != nil {
		t.Fatal(err)
	}
	doc2, err := Sign(initrd, SignOptions{Signer: key.priv, PolicyRef: "initrd"})
	if err != nil {
		t.Fatal(err)
	}
	text, err := Section(false, doc1, doc2)
	if err != nil {
		t.Fatal(err)
	}
	pcrsig, err := pyjson.UnmarshalObject(text) // what the unlocking side reads
	if err != nil {
		t.Fatal(err)
	}

	// Seal two secrets: one for any signed phase, one for the initrd only.
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
	if err != nil {
		t.Fatalf("CreatePrimary: %v", err)
	}
	anyPolicy, err := PolicyAuthorizeDigest(&key.priv.PublicKey, "")
	if err != nil {
		t.Fatal(err)
	}
	initrdPolicy, err := PolicyAuthorizeDigest(&key.priv.PublicKey, "initrd")
	if err != nil {
		t.Fatal(err)
	}
	secretAny, secretInitrd := []byte("any signed phase"), []byte("initrd only")
	objAny := r.seal(srk, secretAny, anyPolicy)
	defer r.flush(objAny.ObjectHandle)
	objInitrd := r.seal(srk, secretInitrd, initrdPolicy)
	defer r.flush(objInitrd.ObjectHandle)
	r.flush(srk.ObjectHandle) // the simulator has room for three objects

	// Load the PCR public key the way systemd does and check its name.
	pub, err := policyKeyPublic(&key.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	le, err := tpm2.LoadExternal{InPublic: tpm2.New2B(*pub), Hierarchy: tpm2.TPMRHOwner}.Execute(tpm)
	if err != nil {
		t.Fatalf("LoadExternal: %v", err)
	}
	defer r.flush(le.ObjectHandle)
	r.pubH, r.pubName = le.ObjectHandle, le.Name
	if name, _ := PolicyPublicKeyName(&key.priv.PublicKey); !bytes.Equal(name, le.Name.Buffer) {
		t.Fatalf("the TPM names the PCR key %x, PolicyPublicKeyName says %x", le.Name.Buffer, name)
	}

	// The stub measures the UKI.
	for _, s := range secs {
		r.extend(append([]byte(s.name), 0))
		r.extend(s.data)
	}
	for _, b := range r.banks {
		if got, want := r.readPCR(b), sigTestPCR(b, secs, ""); !bytes.Equal(got, want) {
			t.Fatalf("%s PCR 11 after the stub: %x, want %x", b, got, want)
		}
	}

	check := func(step string, obj *tpm2.LoadResponse, ref string, secret []byte, wantOK bool) {
		t.Helper()
		for _, b := range r.banks {
			got, err := r.unseal(obj, b, pcrsig, ref, nil)
			switch {
			case wantOK && err != nil:
				t.Errorf("%s, %s, ref %q: unseal failed: %v", step, b, ref, err)
			case wantOK && !bytes.Equal(got, secret):
				t.Errorf("%s, %s, ref %q: unsealed %q, want %q", step, b, ref, got, secret)
			case !wantOK && err == nil:
				t.Errorf("%s, %s, ref %q: unsealed %q although no policy was signed for it", step, b, ref, got)
			case !wantOK && !errors.Is(err, errNoPolicy):
				t.Errorf("%s, %s, ref %q: failed with %v, want %v", step, b, ref, err, errNoPolicy)
			}
		}
	}
	// signedEntry returns the policy signed for a phase.
	signedEntry := func(b pcr.Bank, phase, ref string) *signedPolicy {
		t.Helper()
		pol, err := PolicyPCRDigest(b, SignedPCR, sigTestPCR(b, secs, phase))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := findSignature(pcrsig, b, r.fp, pol, ref)
		if err != nil {
			t.Fatalf("no signature for %s %q ref %q: %v", b, phase, ref, err)
		}
		return &signedPolicy{pol, sig, ref}
	}
	// mustFailInTPM forces the use of a validly signed policy that does not
	// fit: the TPM refuses at the step named by want.
	mustFailInTPM := func(step string, obj *tpm2.LoadResponse, b pcr.Bank, entry *signedPolicy, want string) {
		t.Helper()
		got, err := r.unseal(obj, b, pcrsig, "", entry)
		if err == nil {
			t.Errorf("%s, %s: unsealed %q", step, b, got)
		} else if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s, %s: refused with %v, want a failure of %s", step, b, err, want)
		}
	}

	// Before any phase: nothing is signed for the bare kernel measurement.
	check("before enter-initrd", objAny, "", secretAny, false)

	r.extend([]byte("enter-initrd"))
	check("enter-initrd", objAny, "", secretAny, true)
	check("enter-initrd", objInitrd, "initrd", secretInitrd, true)
	for _, b := range r.banks {
		// The initrd secret needs the reference: the unreferenced signature
		// of the same policy does not satisfy PolicyAuthorize(ref=initrd)...
		mustFailInTPM("enter-initrd, initrd secret with the unreferenced signature", objInitrd, b, signedEntry(b, "enter-initrd", ""), "Unseal")
		// ...and the "initrd" signature cannot open the other secret.
		mustFailInTPM("enter-initrd, general secret with the initrd signature", objAny, b, signedEntry(b, "enter-initrd", "initrd"), "Unseal")
	}

	r.extend([]byte("leave-initrd"))
	check("leave-initrd", objAny, "", secretAny, true)
	check("leave-initrd", objInitrd, "initrd", secretInitrd, false)
	for _, b := range r.banks {
		mustFailInTPM("leave-initrd, initrd secret with the enter-initrd signature", objInitrd, b, signedEntry(b, "enter-initrd", "initrd"), "PolicyAuthorize")
	}

	r.extend([]byte("sysinit"))
	check("sysinit", objAny, "", secretAny, true)
	r.extend([]byte("ready"))
	check("ready", objAny, "", secretAny, true)

	// The next phase word was never signed: the secret stays sealed, and the
	// signature of the previous phase does not help.
	r.extend([]byte("shutdown"))
	check("shutdown", objAny, "", secretAny, false)
	for _, b := range r.banks {
		mustFailInTPM("shutdown, with the ready signature", objAny, b, signedEntry(b, "enter-initrd:leave-initrd:sysinit:ready", ""), "PolicyAuthorize")
	}

	// systemd ≤ 259 signed with the bank's hash: the TPM, asked (as systemd
	// asks it) to verify RSASSA-SHA256, only accepts those of the sha256 bank.
	for _, b := range r.banks {
		pol, _ := PolicyPCRDigest(b, SignedPCR, r.readPCR(b))
		legacy, err := SignPolicy(key.priv, pol, b.Hash)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.unseal(objAny, b, pcrsig, "", &signedPolicy{pol, legacy, ""})
		if b == pcr.SHA256 && err != nil {
			t.Errorf("legacy sha256 signature of the current policy refused: %v", err)
		}
		if b != pcr.SHA256 && (err == nil || !strings.HasPrefix(err.Error(), "VerifySignature")) {
			t.Errorf("legacy %s signature: %v, want a VerifySignature(RSASSA-SHA256) failure", b, err)
		}
	}
}

func bankIn(b pcr.Bank, banks []pcr.Bank) bool {
	for _, x := range banks {
		if x == b {
			return true
		}
	}
	return false
}
