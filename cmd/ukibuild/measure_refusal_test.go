package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestMeasureRefusalsMatchSystemdMeasure runs "ukibuild measure VERB" and
// systemd-measure 262.1 with the same arguments, in the same working
// directory, on command lines systemd-measure refuses, and compares stdout,
// stderr and the exit code byte for byte. One difference is allowed and
// deliberate: where systemd-measure names itself ("systemd-measure:
// unrecognized option ..."), ukibuild names itself ("ukibuild: ...").
//
// Cases whose refusal ukibuild words differently on purpose are in
// TestMeasureRefusalsOwnWords.
func TestMeasureRefusalsMatchSystemdMeasure(t *testing.T) {
	tools := reftools.Locate(t)
	dir := t.TempDir()
	t.Chdir(dir)
	priv, pub := rsaKeyPEM(t, dir, "pcr")
	if err := os.Chmod(priv, 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return name // relative: the message shows the absolute path
	}
	k := write("k", "kernel", 0o644)
	junk := write("junk.pem", "junk\n", 0o600)
	worldKey := write("world.pem", "junk\n", 0o604)
	write("empty", "", 0o644)
	write("empty.json", " \n", 0o644)
	write("bad.json", "not json\n", 0o644)
	write("arr.json", "[1]\n", 0o644)
	unreadable := write("unreadable", "x", 0o000)
	if os.Geteuid() == 0 {
		unreadable = "" // root reads it anyway
	}
	privAbs := priv
	cases := [][]string{
		{"calculate"},
		{"sign"},
		{"policy-digest"},
		{"calculate", "--osrel=" + k},
		{"calculate", "--linux="},
		{"calculate", "--linux=" + k, "--bank=md5x"},
		{"calculate", "--linux=" + k, "--bank="},
		{"calculate", "--linux=" + k, "--bank= sha256"},
		{"calculate", "--linux=" + k, "--bank=sha256", "--bank=keccak-256"},
		{"calculate", "--linux=" + k, "--json=foo"},
		{"calculate", "--linux=" + k, "--json=Pretty"},
		{"sign", "--json=help"}, // not a refusal: the list of values, exit 0
		{"calculate", "--linux=nonexistent", "--json=help"},
		{"calculate", "--linux=" + k, "--append=bad.json"},
		{"calculate", "--linux=nonexistent"},
		{"calculate", "--linux=.//missing/./../k"},
		{"calculate", "--linux=" + k, "--initrd=nonexistent"},
		{"calculate", "--linux=" + k, "--osrel=" + dir},
		{"calculate", "--linux=k/sub"},
		{"calculate", "--current", "--linux=" + k},
		{"calculate", "-c", "--cmdline=" + k},
		{"sign", "--current", "--initrd=" + k},
		{"calculate", "--linux=" + k, "--foo"},
		{"calculate", "--no-pager", "--tpm2-device=/dev/null"},
		{"calculate", "--linux=" + k, "--foo=bar"},
		{"calculate", "--linux=" + k, "extra"},
		{"sign", "--linux=" + k, "extra", "more"},
		{"calculate", "--linux"},
		{"sign", "--linux=" + k},
		{"sign", "--linux=" + k, "--public-key=" + pub},
		{"sign", "--linux=" + k, "--private-key=" + priv, "--public-key=" + pub, "--certificate=" + pub},
		{"policy-digest", "--linux=" + k, "--public-key=" + pub, "--certificate=" + pub},
		{"sign", "--linux=" + k, "--private-key=" + junk},
		{"sign", "--linux=" + k, "--private-key=empty"},
		{"sign", "--linux=" + k, "--private-key=nonexistent"},
		{"sign", "--linux=" + k, "--private-key=" + dir},
		{"sign", "--linux=" + k, "--private-key=" + worldKey},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--public-key=" + junk},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--public-key=" + privAbs},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--public-key=nonexistent"},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--public-key=" + dir},
		{"policy-digest", "--linux=" + k, "--certificate=" + junk},
		{"policy-digest", "--linux=" + k, "--certificate=" + pub},
		{"policy-digest", "--linux=" + k, "--certificate=nonexistent"},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--append=bad.json"},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--append=arr.json"},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--append=empty.json"},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--append=nonexistent.json"},
		{"policy-digest", "--linux=" + k, "--append=" + dir},
		{"sign", "--linux=" + k, "--private-key=" + privAbs, "--splash=nonexistent"},
		{"policy-digest", "--linux=" + k, "--pcrpkey=nonexistent"},
		{"calculate", "--linux=" + k, "--pcrpkey=" + dir},
		{"policy-digest", "--linux=" + k, "--efifw=nonexistent", "--dtb=nonexistent2"},
		// Repeated options: the last one counts, in both.
		{"calculate", "--linux=nonexistent", "--linux=" + k, "--osrel=nonexistent", "--osrel=missing"},
		{"sign", "--linux=" + k, "--private-key=nonexistent", "--private-key=" + junk},
	}
	if unreadable != "" {
		cases = append(cases, []string{"calculate", "--linux=" + unreadable})
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := tools.MeasureVersion(t, "262", args...)
			cmd.Dir = dir
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			want := 0
			if err := cmd.Run(); err != nil {
				ee, ok := err.(interface{ ExitCode() int })
				if !ok {
					t.Fatalf("systemd-measure: %v", err)
				}
				want = ee.ExitCode()
			}
			if want == 0 && args[len(args)-1] != "--json=help" {
				t.Fatalf("systemd-measure accepts %q; this test is about refusals:\n%s%s", args, so.Bytes(), se.Bytes())
			}
			wantErr := strings.ReplaceAll(se.String(), "systemd-measure: ", "ukibuild: ")
			var o, e bytes.Buffer
			got := run(append([]string{"measure"}, args...), &o, &e)
			if got != want || o.String() != so.String() || e.String() != wantErr {
				t.Errorf("ukibuild measure %q:\n exit %d, want %d\n stdout %q\n want   %q\n stderr %q\n want   %q",
					args, got, want, o.String(), so.String(), e.String(), wantErr)
			}
		})
	}
}

// TestMeasureRefusalsOwnWords covers what systemd-measure 262.1 does that
// ukibuild cannot: --current reads this machine's TPM (systemd-measure
// fails here, as this machine has none, or would succeed on one that has);
// digests OpenSSL knows that are no TPM PCR bank (systemd-measure computes
// PCR 11 in them). ukibuild refuses with exit code 1 and its own message.
func TestMeasureRefusalsOwnWords(t *testing.T) {
	tools := reftools.Locate(t)
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("k", []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args       []string
		systemdOK  bool
		wantStderr string
	}{
		{[]string{"calculate", "--current"}, false, "The --current switch reads this machine's TPM, which ukibuild does not do (it predicts offline), refusing.\n"},
		{[]string{"calculate", "--linux=k", "--bank=md5"}, true, "Bank 'md5' is not a TPM PCR bank: ukibuild predicts sha1, sha256, sha384 and sha512 only, refusing.\n"},
		{[]string{"calculate", "--linux=k", "--bank=SHA3-256"}, true, "Bank 'SHA3-256' is not a TPM PCR bank: ukibuild predicts sha1, sha256, sha384 and sha512 only, refusing.\n"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := tools.MeasureVersion(t, "262", c.args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if (err == nil) != c.systemdOK {
				t.Fatalf("systemd-measure %q: %v, want success %v:\n%s", c.args, err, c.systemdOK, out)
			}
			if !c.systemdOK && (bytes.Contains(out, []byte("ukibuild")) || len(out) == 0) {
				t.Fatalf("systemd-measure %q: unexpected output %q", c.args, out)
			}
			var o, e bytes.Buffer
			if got := run(append([]string{"measure"}, c.args...), &o, &e); got != 1 || o.Len() != 0 || e.String() != c.wantStderr {
				t.Errorf("ukibuild measure %q: exit %d, stdout %q, stderr %q; want 1, nothing, %q", c.args, got, o.String(), e.String(), c.wantStderr)
			}
		})
	}
}
