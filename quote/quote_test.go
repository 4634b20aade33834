package quote

// Verify is checked against quotes made by real TPM implementations:
// the TCG reference TPM (go-tpm-tools' simulator, driven through go-tpm)
// and libtpms (swtpm, driven by tpm2-tools, which share no code with
// ukibuild). The PCR values come from a recorded boot's event log
// (testvectors/eventlog) extended into the TPM; the values the TPM reports
// and the quotes it signs are the golden values, never our own output.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// quotedPCRs are the PCRs an attestation server checks for a UKI boot.
var quotedPCRs = []int{4, 7, 9, 11, 12}

// quoteLogEvents returns the events of quotedPCRs in a recorded log.
func quoteLogEvents(t testing.TB) []eventlog.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testvectors", "eventlog", "ovmf-sb-stub262-extras.bin"))
	if err != nil {
		t.Fatal(err)
	}
	events, err := eventlog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	sel := eventlog.Select(events, quotedPCRs)
	if len(sel) == 0 {
		t.Fatal("the log has no events in the quoted PCRs")
	}
	return sel
}

// akTemplate is a restricted signing key (an AK, as tpm2_createak makes
// it) of kind "rsa" (RSASSA-SHA256), "rsapss" (RSAPSS-SHA256) or "ecc"
// (ECDSA-SHA256 on P-256).
func akTemplate(kind string) tpm2.TPMTPublic {
	attrs := tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
		UserWithAuth: true, NoDA: true, Restricted: true, SignEncrypt: true}
	switch kind {
	case "rsa", "rsapss":
		scheme := tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgRSASSA, Details: tpm2.NewTPMUAsymScheme(
			tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256})}
		if kind == "rsapss" {
			scheme = tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgRSAPSS, Details: tpm2.NewTPMUAsymScheme(
				tpm2.TPMAlgRSAPSS, &tpm2.TPMSSigSchemeRSAPSS{HashAlg: tpm2.TPMAlgSHA256})}
		}
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Scheme:  scheme,
				KeyBits: 2048,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 256)}),
		}
	}
	return tpm2.TPMTPublic{
		Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUAsymScheme(
				tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
			CurveID: tpm2.TPMECCNistP256,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)}, Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)}}),
	}
}

// simAK is an AK in the simulator: its handle and its TPM2B_PUBLIC.
type simAK struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	public []byte // TPM2B_PUBLIC, as tpm2_createak -u writes it
}

func createAK(t testing.TB, tpm transport.TPM, kind string, hierarchy tpm2.TPMHandle) simAK {
	t.Helper()
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: hierarchy, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(akTemplate(kind)),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("CreatePrimary(%s AK): %v", kind, err)
	}
	return simAK{handle: rsp.ObjectHandle, name: rsp.Name, public: tpm2.Marshal(rsp.OutPublic)}
}

func simQuote(t testing.TB, tpm transport.TPM, ak simAK, nonce []byte, sel []PCRSelection) Quote {
	t.Helper()
	var tsel tpm2.TPMLPCRSelection
	for _, s := range sel {
		bits := make([]byte, 3)
		for _, p := range s.PCRs {
			bits[p/8] |= 1 << (p % 8)
		}
		tsel.PCRSelections = append(tsel.PCRSelections, tpm2.TPMSPCRSelection{Hash: tpm2.TPMIAlgHash(s.Bank.AlgID), PCRSelect: bits})
	}
	rsp, err := tpm2.Quote{
		SignHandle:     tpm2.AuthHandle{Handle: ak.handle, Name: ak.name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect:      tsel,
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("TPM2_Quote(%v): %v", sel, err)
	}
	return Quote{Attest: rsp.Quoted.Bytes(), Signature: tpm2.Marshal(rsp.Signature)}
}

// extendEvents extends each event into the TPM in banks.
func extendEvents(t testing.TB, tpm transport.TPM, events []eventlog.Event, banks []pcr.Bank) {
	t.Helper()
	for _, ev := range events {
		var digests []tpm2.TPMTHA
		for _, b := range banks {
			d, ok := ev.Digest(b)
			if !ok {
				t.Fatalf("event %s has no %s digest", ev, b)
			}
			digests = append(digests, tpm2.TPMTHA{HashAlg: tpm2.TPMIAlgHash(b.AlgID), Digest: d})
		}
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(ev.PCR), Auth: tpm2.PasswordAuth(nil)},
			Digests:   tpm2.TPMLDigestValues{Digests: digests},
		}.Execute(tpm)
		if err != nil {
			t.Fatalf("PCR_Extend(%s): %v", ev, err)
		}
	}
}

func simReadPCR(t testing.TB, tpm transport.TPM, index int, b pcr.Bank) []byte {
	t.Helper()
	bits := make([]byte, 3)
	bits[index/8] |= 1 << (index % 8)
	rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{
		{Hash: tpm2.TPMIAlgHash(b.AlgID), PCRSelect: bits}}}}.Execute(tpm)
	if err != nil || len(rsp.PCRValues.Digests) != 1 {
		t.Fatalf("PCR_Read(%d %s): %v", index, b, err)
	}
	return rsp.PCRValues.Digests[0].Buffer
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x01
	return c
}

func wantQuoteErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: Verify returned %v, want an error wrapping %q", what, err, want)
		return
	}
	t.Logf("%s: refused: %v", what, err)
}

// tpmAKPublic is the TPMT_PUBLIC inside a TPM2B_PUBLIC, what
// go-attestation's ParseAKPublic reads.
func tpmtPublic(t *testing.T, tpm2bPublic []byte) []byte {
	t.Helper()
	if len(tpm2bPublic) < 2 {
		t.Fatal("short TPM2B_PUBLIC")
	}
	return tpm2bPublic[2:]
}

// TestQuoteSimulator: quotes by the reference TPM over the PCRs a
// recorded boot's events were extended into verify with the log's replay,
// for RSASSA, RSAPSS and ECDSA AKs and each bank (and both banks in one quote); a wrong
// nonce, a flipped signature or attest byte, a PCR value off in one PCR
// and another AK are each refused with the error naming the defect.
func TestQuoteSimulator(t *testing.T) {
	tpm, err := simulator.OpenSimulator()
	if err != nil {
		t.Fatalf("TPM simulator: %v", err)
	}
	defer tpm.Close()

	events := quoteLogEvents(t)
	var banks []pcr.Bank
	for _, b := range activeBanks(t, tpm) {
		if _, ok := events[0].Digest(b); ok && (b == pcr.SHA1 || b == pcr.SHA256) {
			banks = append(banks, b)
		}
	}
	if !slices.Contains(banks, pcr.SHA256) {
		t.Fatalf("sha256 is not among the simulator's and the log's common banks %v", banks)
	}
	extendEvents(t, tpm, events, banks)
	// The replay of the log must be what the TPM now holds.
	for _, b := range banks {
		for _, p := range quotedPCRs {
			want := simReadPCR(t, tpm, p, b)
			got, err := eventlog.Replay(events, p, b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("PCR %d %s: the replay is %x, the TPM has %x", p, b, got, want)
			}
		}
	}

	selections := [][]PCRSelection{{{Bank: pcr.SHA256, PCRs: quotedPCRs}}}
	if slices.Contains(banks, pcr.SHA1) {
		selections = append(selections,
			[]PCRSelection{{Bank: pcr.SHA1, PCRs: quotedPCRs}},
			[]PCRSelection{{Bank: pcr.SHA1, PCRs: quotedPCRs}, {Bank: pcr.SHA256, PCRs: []int{7, 11}}})
	} else {
		t.Log("the simulator has no sha1 bank: sha256 quotes only")
	}

	for _, kind := range []string{"rsa", "rsapss", "ecc"} {
		t.Run(kind, func(t *testing.T) {
			ak := createAK(t, tpm, kind, tpm2.TPMRHEndorsement)
			defer tpm2.FlushContext{FlushHandle: ak.handle}.Execute(tpm)
			other := createAK(t, tpm, kind, tpm2.TPMRHOwner) // another AK of the same kind
			tpm2.FlushContext{FlushHandle: other.handle}.Execute(tpm)

			akPub, err := ParseAKPublic(ak.public)
			if err != nil {
				t.Fatal(err)
			}
			otherPub, err := ParseAKPublic(other.public)
			if err != nil {
				t.Fatal(err)
			}
			// An unrestricted key's signature over a TPMS_ATTEST proves
			// nothing: such a public area is refused.
			pubArea, err := tpm2.Unmarshal[tpm2.TPMTPublic](tpmtPublic(t, ak.public))
			if err != nil {
				t.Fatal(err)
			}
			pubArea.ObjectAttributes.Restricted = false
			if _, err := ParseAKPublic(tpm2.Marshal(tpm2.New2B(*pubArea))); !errors.Is(err, ErrAKPublic) {
				t.Errorf("ParseAKPublic accepts an unrestricted key: %v", err)
			}
			legacyAK, err := attest.ParseAKPublic(tpmtPublic(t, ak.public))
			if err != nil {
				t.Fatalf("go-attestation: %v", err)
			}
			for _, sel := range selections {
				name := formatSelection(sel)
				nonce := make([]byte, 20)
				rand.Read(nonce)
				q := simQuote(t, tpm, ak, nonce, sel)
				values, err := Values(events, sel)
				if err != nil {
					t.Fatal(err)
				}
				info, err := Verify(q, akPub, nonce, values)
				if err != nil {
					t.Fatalf("%s: Verify refused the TPM's quote: %v", name, err)
				}
				if got := formatSelection(info.Selection); got != name {
					t.Errorf("the quote covers %s, want %s", got, name)
				}
				if want := map[string]string{"rsa": "rsassa", "rsapss": "rsapss", "ecc": "ecdsa"}[kind]; info.SignatureScheme != want {
					t.Errorf("%s: scheme %q, want %q", name, info.SignatureScheme, want)
				}
				if !bytes.Equal(info.Nonce, nonce) || info.SignatureHash != crypto.SHA256 {
					t.Errorf("%s: info nonce %x hash %v", name, info.Nonce, info.SignatureHash)
				}
				// go-attestation, which verifies single-bank RSASSA
				// and ECDSA quotes, agrees.
				if len(sel) == 1 && kind != "rsapss" {
					var aps []attest.PCR
					for _, v := range values {
						aps = append(aps, attest.PCR{Index: v.PCR, Digest: v.Digest, DigestAlg: v.Bank.Hash})
					}
					if err := legacyAK.Verify(attest.Quote{Quote: q.Attest, Signature: q.Signature}, aps, nonce); err != nil {
						t.Errorf("%s: go-attestation refuses the quote: %v", name, err)
					}
				}

				wrong := slices.Clone(nonce)
				wrong[0] ^= 0x80
				_, err = Verify(q, akPub, wrong, values)
				wantQuoteErr(t, name+" wrong nonce", err, ErrNonce)
				_, err = Verify(Quote{q.Attest, flip(q.Signature, len(q.Signature)-1)}, akPub, nonce, values)
				wantQuoteErr(t, name+" flipped signature byte", err, ErrSignature)
				_, err = Verify(Quote{flip(q.Attest, len(q.Attest)-1), q.Signature}, akPub, nonce, values)
				wantQuoteErr(t, name+" flipped attest byte (PCR digest)", err, ErrSignature)
				_, err = Verify(Quote{flip(q.Attest, 0), q.Signature}, akPub, nonce, values)
				wantQuoteErr(t, name+" flipped magic", err, ErrFormat)
				_, err = Verify(Quote{flip(q.Attest, 5), q.Signature}, akPub, nonce, values)
				wantQuoteErr(t, name+" flipped type", err, ErrFormat)
				_, err = Verify(q, otherPub, nonce, values)
				wantQuoteErr(t, name+" another AK", err, ErrSignature)
				for i := range values {
					off := slices.Clone(values)
					off[i].Digest = flip(off[i].Digest, 3)
					_, err = Verify(q, akPub, nonce, off)
					wantQuoteErr(t, fmt.Sprintf("%s PCR %d %s off", name, off[i].PCR, off[i].Bank), err, ErrPCRDigest)
				}
				_, err = Verify(q, akPub, nonce, values[1:])
				wantQuoteErr(t, name+" a value missing", err, ErrPCRs)
			}
		})
	}
}

// swtpmPorts finds a free TCP port P with P+1 free too (swtpm's control
// port, where the swtpm TCTI expects it).
func swtpmPorts(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free TCP ports")
	return 0
}

// TestQuoteTPM2Tools: an AK made by tpm2_createak on swtpm, PCRs extended
// by tpm2_pcrextend with the log's sha256 digests, a quote written by
// tpm2_quote: Load and LoadAKPublic (TPM2B_PUBLIC and PEM) read the
// files and Verify accepts them with the log's replay, and refuses
// tampered copies of the files and another nonce.
func TestQuoteTPM2Tools(t *testing.T) {
	for _, tool := range []string{"swtpm", "tpm2_createek", "tpm2_createak", "tpm2_readpublic", "tpm2_pcrextend", "tpm2_quote", "tpm2_flushcontext"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (swtpm, tpm2-tools and libtss2-tcti-swtpm0): run .ci/deps.sh", tool)
		}
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	port := swtpmPorts(t)
	sw := exec.Command("swtpm", "socket", "--tpm2",
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
		"--tpmstate", "dir="+state, "--flags", "startup-clear")
	var swlog bytes.Buffer
	sw.Stdout, sw.Stderr = &swlog, &swlog
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sw.Process.Kill()
		sw.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm does not listen on %d: %v\n%s", port, err, swlog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tcti := fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", port)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+tcti)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s\nswtpm: %s", strings.Join(args, " "), err, out, swlog.String())
		}
	}
	// Without a resource manager, objects the tools load stay loaded:
	// flush them after each step, as the TPM has room for three.
	flush := func() {
		run("tpm2_flushcontext", "-t")
		run("tpm2_flushcontext", "-s")
	}
	run("tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub")
	flush()
	run("tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-u", "ak.pub", "-n", "ak.name")
	flush()
	run("tpm2_readpublic", "-c", "ak.ctx", "-f", "pem", "-o", "ak.pem")
	flush()

	events := quoteLogEvents(t)
	for _, ev := range events {
		d, ok := ev.Digest(pcr.SHA256)
		if !ok {
			t.Fatalf("event %s has no sha256 digest", ev)
		}
		run("tpm2_pcrextend", fmt.Sprintf("%d:sha256=%x", ev.PCR, d))
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	list := make([]string, len(quotedPCRs))
	for i, p := range quotedPCRs {
		list[i] = strconv.Itoa(p)
	}
	run("tpm2_quote", "-c", "ak.ctx", "-l", "sha256:"+strings.Join(list, ","), "-q", hex.EncodeToString(nonce),
		"-m", "quote.msg", "-s", "quote.sig", "-o", "pcrs.out", "-g", "sha256")

	p := func(name string) string { return filepath.Join(dir, name) }
	q, err := Load(p("quote.msg"), p("quote.sig"))
	if err != nil {
		t.Fatal(err)
	}
	sel := []PCRSelection{{Bank: pcr.SHA256, PCRs: quotedPCRs}}
	values, err := Values(events, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, keyFile := range []string{"ak.pub", "ak.pem"} {
		ak, err := LoadAKPublic(p(keyFile))
		if err != nil {
			t.Fatal(err)
		}
		info, err := Verify(q, ak, nonce, values)
		if err != nil {
			t.Fatalf("%s: Verify refuses tpm2_quote's quote: %v", keyFile, err)
		}
		if got := formatSelection(info.Selection); got != "sha256:4,7,9,11,12" {
			t.Errorf("%s: the quote covers %s", keyFile, got)
		}
		if info.SignatureScheme != "rsassa" {
			t.Errorf("%s: scheme %q", keyFile, info.SignatureScheme)
		}
		// Tampered copies, written and read back as a server would.
		for _, c := range []struct {
			file string
			i    int
			want error
		}{
			{"quote.msg", -1, ErrSignature},
			{"quote.msg", 10, ErrSignature},
			{"quote.msg", 1, ErrFormat},
			{"quote.sig", -1, ErrSignature},
			{"quote.sig", 0, ErrScheme},
		} {
			data, err := os.ReadFile(p(c.file))
			if err != nil {
				t.Fatal(err)
			}
			i := c.i
			if i < 0 {
				i += len(data)
			}
			bad := p("tampered-" + c.file)
			if err := os.WriteFile(bad, flip(data, i), 0o600); err != nil {
				t.Fatal(err)
			}
			msg, sig := p("quote.msg"), p("quote.sig")
			if c.file == "quote.msg" {
				msg = bad
			} else {
				sig = bad
			}
			tq, err := Load(msg, sig)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Verify(tq, ak, nonce, values)
			wantQuoteErr(t, fmt.Sprintf("%s: %s byte %d flipped", keyFile, c.file, i), err, c.want)
		}
		_, err = Verify(q, ak, nonce[:15], values)
		wantQuoteErr(t, keyFile+": another nonce", err, ErrNonce)
		off := slices.Clone(values)
		off[3].Digest = flip(off[3].Digest, 0)
		_, err = Verify(q, ak, nonce, off)
		wantQuoteErr(t, keyFile+": PCR 11 off", err, ErrPCRDigest)
	}
}

// FuzzParse feeds arbitrary attest data and signatures to Parse
// and Verify, seeded with real quotes of the reference TPM: no panic,
// every error names its defect, and whatever verifies with an AK is
// attest data that AK's TPM signed.
func FuzzParse(f *testing.F) {
	tpm, err := simulator.OpenSimulator()
	if err != nil {
		f.Fatalf("TPM simulator: %v", err)
	}
	events := quoteLogEvents(f)
	extendEvents(f, tpm, events, []pcr.Bank{pcr.SHA1, pcr.SHA256})
	nonce := []byte("fuzz nonce")
	type key struct {
		pub     crypto.PublicKey
		genuine [][]byte
	}
	var keys []*key
	for _, kind := range []string{"rsa", "ecc"} {
		ak := createAK(f, tpm, kind, tpm2.TPMRHEndorsement)
		pub, err := ParseAKPublic(ak.public)
		if err != nil {
			f.Fatal(err)
		}
		k := &key{pub: pub}
		for _, sel := range [][]PCRSelection{
			{{Bank: pcr.SHA256, PCRs: quotedPCRs}},
			{{Bank: pcr.SHA1, PCRs: []int{4}}, {Bank: pcr.SHA256, PCRs: []int{7, 11}}},
		} {
			q := simQuote(f, tpm, ak, nonce, sel)
			k.genuine = append(k.genuine, q.Attest)
			f.Add(q.Attest, q.Signature)
		}
		tpm2.FlushContext{FlushHandle: ak.handle}.Execute(tpm)
		keys = append(keys, k)
	}
	tpm.Close()
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x18}, []byte{0x00, 0x14})
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x18, 0xff, 0xff}, []byte{0x00, 0x18, 0x00, 0x0b, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, attest, sig []byte) {
		q := Quote{Attest: attest, Signature: sig}
		info, err := Parse(q)
		checkGoTPMAgrees(t, q, info, err)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrScheme) {
				t.Fatalf("Parse error names no defect: %v", err)
			}
			return
		}
		values, err := Values(events, info.Selection)
		if err != nil {
			return // a bank the log has no digests in
		}
		for _, k := range keys {
			got, err := Verify(q, k.pub, nonce, values)
			if err != nil {
				if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrNonce) && !errors.Is(err, ErrPCRDigest) &&
					!errors.Is(err, ErrPCRs) && !errors.Is(err, ErrScheme) {
					t.Fatalf("Verify error names no defect: %v", err)
				}
				continue
			}
			if !slices.ContainsFunc(k.genuine, func(g []byte) bool { return bytes.Equal(g, attest) }) {
				t.Fatalf("Verify accepted attest data the TPM never signed: %x (info %+v)", attest, got)
			}
		}
	})
}

// checkGoTPMAgrees decodes q with go-tpm's tpm2.Unmarshal (refusing
// trailing bytes and non-canonical encodings by marshalling back), the
// oracle for Parse's hand-written decoder: both accept the same
// quotes and read the same fields.
func checkGoTPMAgrees(t *testing.T, q Quote, info *Info, err error) {
	t.Helper()
	att, aerr := unmarshalExact[tpm2.TPMSAttest](q.Attest)
	var qu *tpm2.TPMSQuoteInfo
	if aerr == nil {
		if att.Magic != tpm2.TPMGeneratedValue || att.Type != tpm2.TPMSTAttestQuote {
			aerr = errors.New("not a quote")
		} else {
			qu, aerr = att.Attested.Quote()
		}
	}
	sig, serr := unmarshalExact[tpm2.TPMTSignature](q.Signature)
	if serr == nil {
		switch sig.SigAlg {
		case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS, tpm2.TPMAlgECDSA:
		default:
			serr = errors.New("scheme")
		}
	}
	if err == nil {
		if aerr != nil || serr != nil {
			t.Fatalf("Parse accepted what go-tpm refuses (attest: %v, signature: %v)", aerr, serr)
		}
		if !bytes.Equal(info.Nonce, att.ExtraData.Buffer) || !bytes.Equal(info.Signer, att.QualifiedSigner.Buffer) ||
			!bytes.Equal(info.PCRDigest, qu.PCRDigest.Buffer) || info.Clock != att.ClockInfo.Clock ||
			info.ResetCount != att.ClockInfo.ResetCount || info.RestartCount != att.ClockInfo.RestartCount ||
			info.Safe != bool(att.ClockInfo.Safe) || info.FirmwareVersion != att.FirmwareVersion ||
			len(info.Selection) != len(qu.PCRSelect.PCRSelections) {
			t.Fatalf("Parse read %+v, go-tpm %+v %+v", info, att, qu)
		}
		return
	}
	// Parse also refuses what go-tpm decodes but a TPM never writes
	// (unknown or repeated banks, an unknown hash, a digest of the wrong
	// size); a quote go-tpm accepts whole with known banks and a matching
	// digest must be accepted.
	if aerr == nil && serr == nil && !errors.Is(err, ErrScheme) {
		known := true
		seen := map[uint16]bool{}
		for _, s := range qu.PCRSelect.PCRSelections {
			_, ok := bankByAlg(uint16(s.Hash))
			known = known && ok && !seen[uint16(s.Hash)]
			seen[uint16(s.Hash)] = true
		}
		var h tpm2.TPMIAlgHash
		if e, _ := sig.Signature.ECDSA(); e != nil {
			h = e.Hash
		} else if r, _ := sig.Signature.RSASSA(); r != nil {
			h = r.Hash
		} else if r, _ := sig.Signature.RSAPSS(); r != nil {
			h = r.Hash
		}
		if b, ok := bankByAlg(uint16(h)); known && ok && len(qu.PCRDigest.Buffer) == b.Hash.Size() {
			t.Fatalf("Parse refused what go-tpm decodes: %v", err)
		}
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
			if uint16(s.Hash) == b.AlgID && len(s.PCRSelect) > 11/8 && s.PCRSelect[11/8]&(1<<(11%8)) != 0 {
				banks = append(banks, b)
			}
		}
	}
	return banks
}
