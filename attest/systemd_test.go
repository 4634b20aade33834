package attest_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/quote"
)

// systemdVector is the systemd 262.1 initrd boot (boot test case 19):
// the firmware's log, systemd's log (written by sid's systemd-pcrextend
// 262.1 in the guest), the PCRs the TPM (swtpm) reported and its quote
// (testvectors/README.md).
func systemdVector(t *testing.T) (attest.Evidence, []byte) {
	t.Helper()
	base := filepath.Join(vectors, "ovmf-sb-systemd262-initrd")
	read := func(ext string) []byte {
		b, err := os.ReadFile(base + ext)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	values, err := quote.ParseValues(read(".pcrs"))
	if err != nil {
		t.Fatal(err)
	}
	ak, err := quote.ParseAKPublic(read(".ak.pub"))
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := hex.DecodeString(strings.TrimSpace(string(read(".nonce"))))
	if err != nil {
		t.Fatal(err)
	}
	return attest.Evidence{Log: read(".bin"), TPMValues: values, SystemdVersion: "262.1",
		Quote: &attest.Quote{Quote: quote.Quote{Attest: read(".quote.msg"), Signature: read(".quote.sig")}, AK: ak, Nonce: nonce}}, read(".cel")
}

// TestVerifySystemdLog: the firmware's log followed by systemd's replays
// to every PCR the TPM reported and to the quote's digest, and every record
// is what systemd 262 measures; without systemd's log neither holds.
func TestVerifySystemdLog(t *testing.T) {
	ev, cel := systemdVector(t)
	ev.SystemdLog = cel
	rep, err := attest.VerifyLog(context.Background(), ev, []int{0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Quote == nil || !rep.Quote.Replays || len(rep.Quote.NotQuoted) != 0 {
		t.Errorf("the recorded boot does not verify:\n%s", rep)
	}
	var types []string
	for _, s := range rep.Systemd {
		types = append(types, s.Event.Type)
	}
	// What systemd 262.1 measured in the initrd up to the unit: the phase,
	// 12 os-separators, the NvPCR separator.
	if len(rep.Systemd) != 14 || strings.Count(strings.Join(types, " "), "os-separator") != 12 {
		t.Errorf("systemd's records: %v", types)
	}

	ev.SystemdLog = nil
	rep, err = attest.VerifyLog(context.Background(), ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Quote.Replays {
		t.Errorf("the firmware's log alone replays to the PCRs systemd extended:\n%s", rep)
	}
}

// TestVerifySystemdLogRefusals: records systemd does not write are
// reported (a word that is no phase, a digest that is not the string's,
// a separator older systemd does not measure, an unknown event type),
// and the version and the log's syntax are errors.
func TestVerifySystemdLogRefusals(t *testing.T) {
	ev, cel := systemdVector(t)
	sha := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	sum1 := func(s string) string { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	for _, c := range []struct {
		name, version string
		edit          func([]byte) []byte
		want          string
	}{
		{"not a phase word", "262", func(b []byte) []byte {
			b = bytes.ReplaceAll(b, []byte(`"enter-initrd"`), []byte(`"enter-initrdX"`))
			b = bytes.ReplaceAll(b, []byte(sum1("enter-initrd")), []byte(sum1("enter-initrdX")))
			return bytes.ReplaceAll(b, []byte(sha("enter-initrd")), []byte(sha("enter-initrdX")))
		}, `"enter-initrdX" is not a phase word`},
		{"digest", "262", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(sha("nvpcr-separator")), []byte(sha("other")))
		}, "is not the hash of its string"},
		{"os-separator before 261", "260", func(b []byte) []byte { return b }, "from 261 on, not in 260"},
		{"unknown type", "262", func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`"eventType":"nvpcr-separator"`), []byte(`"eventType":"surprise"`))
		}, `"surprise" was not examined`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := ev
			ev.SystemdLog, ev.SystemdVersion = c.edit(bytes.Clone(cel)), c.version
			rep, err := attest.VerifyLog(context.Background(), ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(rep.String(), c.want) {
				t.Errorf("want a record reported with %q:\n%s", c.want, rep)
			}
		})
	}
	ev.SystemdLog = cel
	for _, v := range []string{"", "252", "263", "x"} {
		ev.SystemdVersion = v
		if _, err := attest.VerifyLog(context.Background(), ev, nil); !errors.Is(err, attest.ErrSystemdVersion) {
			t.Errorf("systemd version %q: %v", v, err)
		}
	}
	ev.SystemdVersion = "262"
	for _, bad := range []string{"\x1e{", "\x1e{\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"00\"}],\"pcr\":1}",
		"\x1e{\"pcr\":1,\"digests\":[]}", "\x1e{\"digests\":[{\"hashAlg\":\"md5\",\"digest\":\"00\"}],\"pcr\":1}",
		"\x1e{\"digests\":[{\"hashAlg\":\"sha1\",\"digest\":\"" + strings.Repeat("00", 20) + "\"}]}"} {
		ev.SystemdLog = []byte(bad)
		var se *attest.SystemdLogError
		if _, err := attest.VerifyLog(context.Background(), ev, nil); !errors.As(err, &se) {
			t.Errorf("%q: want a attest.SystemdLogError, got %v", bad, err)
		}
	}
}

// TestParseSystemdLogArray: a JSON array of the records reads as the
// sequence does.
func TestParseSystemdLogArray(t *testing.T) {
	_, cel := systemdVector(t)
	seq, err := attest.ParseSystemdLog(cel)
	if err != nil {
		t.Fatal(err)
	}
	parts := bytes.Split(bytes.TrimSpace(cel), []byte{0x1e})
	arr := []byte("[" + strings.TrimPrefix(string(bytes.Join(parts, []byte(","))), ",") + "]")
	got, err := attest.ParseSystemdLog(arr)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(seq) || len(seq) == 0 || got[1].String != seq[1].String {
		t.Errorf("array %d records, sequence %d", len(got), len(seq))
	}
}

// TestPredictSystemd: the firmware's recorded log, extended with what
// PredictSystemd says systemd 262 measures up to enter-initrd, gives the
// values the TPM reported in that boot for every PCR systemd touched; a
// word systemd does not measure, and an unknown version, are errors.
func TestPredictSystemd(t *testing.T) {
	ev, _ := systemdVector(t)
	events, err := attest.PredictSystemd("262.1", "enter-initrd", []pcr.Bank{pcr.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	fw, err := eventlog.Parse(ev.Log)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, v := range ev.TPMValues {
		if v.Bank.Name != "sha256" {
			continue
		}
		replay, err := eventlog.Replay(fw, v.PCR, pcr.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		got, err := attest.ExtendSystemd(replay, v.PCR, pcr.SHA256, events)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, v.Digest) {
			t.Errorf("PCR %d: firmware log + predicted systemd events give %x, the TPM had %x", v.PCR, got, v.Digest)
		}
		checked++
	}
	if checked != 15 {
		t.Errorf("checked %d PCRs, want 15", checked)
	}
	if _, err := attest.PredictSystemd("262", "enter-initrd:storage-target-mode-start", []pcr.Bank{pcr.SHA256}); err != nil {
		t.Errorf("258's words in 262: %v", err)
	}
	if _, err := attest.PredictSystemd("257", "enter-initrd:storage-target-mode-start", []pcr.Bank{pcr.SHA256}); err == nil {
		t.Errorf("257 measures no storage-target-mode-start")
	}
	if _, err := attest.PredictSystemd("264", "enter-initrd", nil); !errors.Is(err, attest.ErrSystemdVersion) {
		t.Errorf("systemd 264: %v", err)
	}
}

// FuzzParseSystemdLog: any input parses or fails with an error, never a
// panic, and a parsed record always has a digest and a PCR in 0-23 or -1.
func FuzzParseSystemdLog(f *testing.F) {
	cel, err := os.ReadFile(filepath.Join(vectors, "ovmf-sb-systemd262-initrd.cel"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cel)
	f.Add([]byte("[{\"pcr\":1,\"digests\":[{\"hashAlg\":\"sha1\",\"digest\":\"" + strings.Repeat("00", 20) + "\"}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := attest.ParseSystemdLog(data)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if len(ev.Digests) == 0 || ev.PCR < -1 || ev.PCR > 23 {
				t.Fatalf("record %+v", ev)
			}
		}
	})
}
