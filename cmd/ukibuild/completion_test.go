package main

import (
	"strings"
	"testing"
)

// TestManPage: --man prints a roff man page made from the same definitions
// as --help, naming every verb and option.
func TestManPage(t *testing.T) {
	code, out, e := runOurs("--man")
	if code != 0 || !strings.HasPrefix(out, ".TH UKIBUILD 1 ") {
		t.Fatalf("--man: exit %d, %q, %s", code, out[:min(len(out), 80)], e)
	}
	for _, want := range []string{"build", "inspect", "measure", "sign", "verify", "genkey", "kernel-install", "completion",
		`\-\-secureboot\-private\-key`, `\-\-pcr\-private\-key`, `\-\-join\-profile`} {
		if !strings.Contains(strings.ReplaceAll(out, `\-`, "-"), strings.ReplaceAll(want, `\-`, "-")) {
			t.Errorf("the man page does not mention %s", want)
		}
	}
}

// TestCompletion: with COMP_LINE set, as the shell code of "completion"
// makes bash, zsh and fish run it, ukibuild prints the candidates.
func TestCompletion(t *testing.T) {
	for line, want := range map[string][]string{
		"ukibuild gen":                     {"genkey"},
		"ukibuild build --secureboot-pri":  {"--secureboot-private-key"},
		"ukibuild measure calculate --lin": {"--linux"},
	} {
		t.Setenv("COMP_LINE", line)
		code, out, e := runOurs()
		if code != 0 {
			t.Errorf("COMP_LINE=%q: exit %d %s", line, code, e)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("COMP_LINE=%q: %q does not offer %s", line, out, w)
			}
		}
	}
	t.Setenv("COMP_LINE", "")
	for shell, want := range map[string]string{"bash": "complete -o default -C ukibuild ukibuild", "zsh": "bashcompinit", "fish": "COMP_LINE"} {
		if code, out, _ := runOurs("completion", shell); code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, %q", shell, code, out)
		}
	}
}
