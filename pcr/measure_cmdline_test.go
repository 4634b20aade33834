package pcr

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestResolveBankMatchesSystemdMeasure runs systemd-measure 262.1 with each
// name ResolveBank knows: the aliases of the four banks must give the bank
// ResolveBank gives (systemd-measure prints the bank's name in its output
// lines), the other OpenSSL digests must not be refused as unknown, and
// names OpenSSL does not know must be refused as unknown by both.
func TestResolveBankMatchesSystemdMeasure(t *testing.T) {
	tools := reftools.Locate(t)
	k := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(k, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	measure := func(name string) (string, error) {
		out, err := tools.MeasureVersion(t, "262", "calculate", "--linux="+k, "--phase=:", "--bank="+name).CombinedOutput()
		return string(out), err
	}
	for bank, aliases := range bankAliases {
		for _, a := range append(aliases, strings.ToUpper(aliases[len(aliases)-1])) {
			b, err := ResolveBank(a)
			if err != nil || b.Name != bank {
				t.Errorf("ResolveBank(%q) = %v, %v; want %s", a, b.Name, err, bank)
			}
			out, err := measure(a)
			if err != nil || !strings.Contains(out, "\n11:"+bank+"=") {
				t.Errorf("systemd-measure --bank=%s: %v:\n%s", a, err, out)
			}
		}
	}
	for _, d := range opensslOtherDigests {
		var be *BankError
		if _, err := ResolveBank(d); !errors.As(err, &be) || !be.Known {
			t.Errorf("ResolveBank(%q) = %v, want a known non-TPM digest", d, err)
		}
		if out, _ := measure(d); strings.Contains(out, "Unknown bank") {
			t.Errorf("systemd-measure refuses --bank=%s as unknown: %s", d, out)
		}
	}
	for _, a := range []string{"sha256 ", "SHA-256  ", "2.16.840.1.101.3.4.2.1 "} {
		if b, err := ResolveBank(a); err != nil || b.Name != "sha256" {
			t.Errorf("ResolveBank(%q) = %v, %v; want sha256", a, b.Name, err)
		}
		if out, err := measure(a); err != nil || !strings.Contains(out, "\n11:sha256=") {
			t.Errorf("systemd-measure --bank=%q: %v:\n%s", a, err, out)
		}
	}
	for _, d := range []string{"md5x", "sha257", "keccak-256", "sha-3-256", " sha256", "sha256\t", "RSA-SHA256 ", "sha256WithRSAEncryption ", ""} {
		var be *BankError
		if _, err := ResolveBank(d); !errors.As(err, &be) || be.Known {
			t.Errorf("ResolveBank(%q) = %v, want an unknown bank", d, err)
		}
		if out, _ := measure(d); out != "Unknown bank '"+d+"', refusing.\n" {
			t.Errorf("systemd-measure --bank=%q: %q", d, out)
		}
	}
}

// TestMeasureCommandCheck checks the refusals' types (the messages are
// compared with systemd-measure's in cmd/ukibuild).
func TestMeasureCommandCheck(t *testing.T) {
	dir := t.TempDir()
	k := filepath.Join(dir, "k")
	if err := os.WriteFile(k, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  MeasureCommand
		want error
	}{
		{MeasureCommand{Verb: "calculate"}, ErrMeasureNoLinux},
		{MeasureCommand{Verb: "sign", Sections: map[string]string{"linux": k}}, ErrMeasureNoPrivateKey},
		{MeasureCommand{Verb: "calculate", Sections: map[string]string{"linux": k}, Append: k}, ErrMeasureAppendCalculate},
		{MeasureCommand{Verb: "calculate", Current: true}, ErrMeasureCurrent},
		{MeasureCommand{Verb: "calculate", Current: true, Sections: map[string]string{"osrel": k}}, ErrMeasureCurrentSections},
		{MeasureCommand{Verb: "calculate", Sections: map[string]string{"linux": k + "x"}}, os.ErrNotExist},
		{MeasureCommand{Verb: "calculate", Sections: map[string]string{"linux": k}, JSON: "x"}, ErrMeasureJSON},
		{MeasureCommand{Verb: "calculate", Sections: map[string]string{"linux": k}, Args: []string{"x"}}, ErrMeasureArgs},
		{MeasureCommand{Verb: "policy-digest", Sections: map[string]string{"linux": k}, PublicKey: k, Certificate: k}, ErrMeasureKeyAndCert},
	} {
		_, err := c.cmd.Check()
		var r *MeasureRefusal
		if !errors.As(err, &r) || !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want a refusal for %v", c.cmd, err, c.want)
		}
	}
	var be *BankError
	if _, err := (MeasureCommand{Verb: "calculate", Banks: []string{"nope"}}).Check(); !errors.As(err, &be) || be.Name != "nope" {
		t.Errorf("unknown bank: %v", err)
	}
	if w, err := (MeasureCommand{Verb: "calculate", Sections: map[string]string{"linux": k}}).Check(); err != nil || w != nil {
		t.Errorf("valid command: %v, %v", w, err)
	}
}
