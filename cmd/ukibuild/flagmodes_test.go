package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestEventPredictionGiven: every option of eventPrediction, set to other
// than its default, is listed by given() under its own name, so that a
// new option cannot be dropped silently by a mode that does not use it.
func TestEventPredictionGiven(t *testing.T) {
	var p eventPrediction
	typ := reflect.TypeOf(p)
	def := func() eventPrediction { return eventPrediction{BootAttempts: 1, SecureBoot: true} }
	if got := def().given(); len(got) != 0 {
		t.Fatalf("defaults: given() = %v", got)
	}
	for i := range typ.NumField() {
		fld := typ.Field(i)
		if !fld.IsExported() {
			continue
		}
		name := fld.Tag.Get("name")
		if name == "" {
			t.Fatalf("field %s has no name tag", fld.Name)
		}
		q := def()
		v := reflect.ValueOf(&q).Elem().Field(i)
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int:
			v.SetInt(v.Int() + 1)
		case reflect.String:
			v.SetString("x")
		case reflect.Slice:
			v.Set(reflect.ValueOf([]string{"x"}))
		default:
			t.Fatalf("field %s: kind %v not handled by this test", fld.Name, v.Kind())
		}
		if got := q.given(); !slices.Equal(got, flagSet{"--" + name}) {
			t.Errorf("%s set: given() = %v, want [--%s]", fld.Name, got, name)
		}
	}
}

// TestMeasureModeFlags: measure FILE refuses, with a usage error (exit 2)
// naming the option and the mode, the options its mode would ignore; and
// --explain --phase with a --systemd-version it does not know writes no
// --pcrlock or --keylime-policy file.
func TestMeasureModeFlags(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "quiet", "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	lock := filepath.Join(dir, "uki.pcrlock")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--systemd-version", "262"}, []string{"--systemd-version", "without --explain, --pcrlock or --keylime-policy"}},
		{[]string{"--entry", "loader/entries/a.conf", "--mok", "a.pem"}, []string{"--entry, --mok", "without --explain"}},
		{[]string{"--boot-secret"}, []string{"--boot-secret"}},
		{[]string{"--shim-var", "SbatLevel=x"}, []string{"--shim-var"}},
		{[]string{"--pcrs", "4,11"}, []string{"--pcrs"}},
		{[]string{"--no-secure-boot"}, []string{"--secure-boot"}},
		{[]string{"--pcrlock", lock, "--phase", "enter-initrd"}, []string{"--phase", "--pcrlock and --keylime-policy without --explain"}},
		{[]string{"--keylime-policy", lock, "--systemd-version", "262"}, []string{"--systemd-version", "without --explain"}},
		{[]string{"--pcrlock", lock, "--json", "short"}, []string{"--json"}},
	} {
		code, out, e := runOurs(append([]string{"measure", efi, "--bank", "sha256"}, c.args...)...)
		if code != 2 || out != "" {
			t.Errorf("%q: exit %d, stdout %q; want a usage error (2)", c.args, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(e, w) {
				t.Errorf("%q: stderr %q lacks %q", c.args, e, w)
			}
		}
		if _, err := os.Stat(lock); err == nil {
			t.Fatalf("%q: %s was written", c.args, lock)
		}
	}
	if code, out, e := runOurs("measure", efi, "--bank", "sha256", "--phase=:"); code != 0 || !strings.HasPrefix(out, "11:sha256=") {
		t.Errorf("plain measure: exit %d, %s%s", code, out, e)
	}
	code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "11", "--phase", "enter-initrd", "--systemd-version", "999",
		"--pcrlock", lock, "--keylime-policy", lock+".json")
	if code != 1 || out != "" || !strings.Contains(e, "--systemd-version") {
		t.Errorf("--systemd-version 999: exit %d, stdout %q, stderr %q", code, out, e)
	}
	for _, p := range []string{lock, lock + ".json"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("--systemd-version 999: %s was written", p)
		}
	}
	if code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "11", "--phase", "enter-initrd", "--systemd-version", "262",
		"--pcrlock", lock); code != 0 || !strings.Contains(out, "PCR 11 after phase") {
		t.Errorf("--systemd-version 262: exit %d, %s%s", code, out, e)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("--systemd-version 262: %v", err)
	}
}

// TestEventlogVerifyNeedsUKI: without --uki, eventlog verify checks the
// log's replay only, and refuses the options that describe the boot to
// predict (a usage error naming them).
func TestEventlogVerifyNeedsUKI(t *testing.T) {
	log := filepath.Join(vectors, "ovmf-sb-stub252.bin")
	quote := filepath.Join(vectors, "ovmf-sb-stub252.pcrs")
	base := []string{"eventlog", "verify", log, "--pcrs", "4", "--quote-pcrs", quote}
	if code, out, e := runOurs(base...); code != 0 {
		t.Fatalf("replay only: exit %d, %s%s", code, out, e)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--entry", "a.conf"}, "--entry needs --uki"},
		{[]string{"--esp", "/tmp"}, "--esp needs --uki"},
		{[]string{"--loader", "a.efi"}, "--loader needs --uki"},
		{[]string{"--consoles", "none"}, "--consoles needs --uki"},
		{[]string{"--cmdline-override", "quiet"}, "--cmdline-override needs --uki"},
		{[]string{"--dtbauto", "0"}, "--dtbauto needs --uki"},
		{[]string{"--efifw", "none"}, "--efifw needs --uki"},
		{[]string{"--profile", "1"}, "--profile needs --uki"},
		{[]string{"--stub-version", "262"}, "--stub-version needs --uki"},
		{[]string{"--pk", "pk.pem", "--db", "db.pem"}, "--pk, --db need --uki"},
		{[]string{"--mok", "a.pem", "--shim-var", "SbatLevel=x", "--boot-secret"}, "--mok, --shim-var, --boot-secret need --uki"},
	} {
		code, out, e := runOurs(append(slices.Clone(base), c.args...)...)
		if code != 2 || out != "" || !strings.Contains(e, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, e, c.want)
		}
	}
}
