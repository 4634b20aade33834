package pkcs11

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPINSource(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain", "1234")
	nl := write("nl", "1234\n")
	crlf := write("crlf", "1234\r\n")
	two := write("two", "1234\n\n")
	spaces := write("spaces", " 12 34 \n")
	for src, want := range map[string]string{
		"file:" + plain:           "1234",
		"file://" + nl:            "1234",
		"file://localhost" + crlf: "1234",
		plain:                     "1234",
		"file:" + two:             "1234\n",
		"file:" + spaces:          " 12 34 ",
	} {
		got, err := readPINSource(src)
		if err != nil || got != want {
			t.Errorf("readPINSource(%q) = %q, %v; want %q", src, got, err, want)
		}
	}

	// A relative path is relative to the working directory.
	t.Chdir(dir)
	if got, err := readPINSource("file:nl"); err != nil || got != "1234" {
		t.Errorf("relative file:nl = %q, %v", got, err)
	}

	empty := write("empty", "\n")
	secret := write("secret", "top-secret-pin")
	for src, want := range map[string]string{
		"file:" + empty:            "is empty",
		"file:" + dir + "/missing": "no such file",
		"file://example.com" + nl:  "remote host",
		"|/bin/echo 1234":          "not supported",
		"https://example.com/pin":  "not supported",
		"file:":                    "names no file",
		"file:" + dir:              "is a directory",
	} {
		_, err := readPINSource(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readPINSource(%q): err = %v, want one containing %q", src, err, want)
		}
	}
	// Content never shows up in errors; a directory read error names the path only.
	if _, err := readPINSource("file:" + secret + "/x"); err == nil || strings.Contains(err.Error(), "top-secret-pin") {
		t.Errorf("err = %v", err)
	}
}

func TestPINFromEnv(t *testing.T) {
	tok := TokenInfo{Label: "tok", Serial: "42"}
	t.Setenv(EnvPIN, "9876")
	if pin, err := PINFromEnv(nil)(tok); err != nil || pin != "9876" {
		t.Errorf("PINFromEnv with %s set = %q, %v", EnvPIN, pin, err)
	}
	t.Setenv(EnvPIN, "")
	_, err := PINFromEnv(nil)(tok)
	if !errors.Is(err, ErrNoPIN) || !strings.Contains(err.Error(), `"tok" (serial 42)`) || !strings.Contains(err.Error(), EnvPIN) {
		t.Errorf("PINFromEnv unset, no fallback: err = %v", err)
	}
	var asked TokenInfo
	pin, err := PINFromEnv(func(t TokenInfo) (string, error) { asked = t; return "from-next", nil })(tok)
	if err != nil || pin != "from-next" || asked != tok {
		t.Errorf("PINFromEnv fallback = %q, %v (asked %+v)", pin, err, asked)
	}
}

func TestEnvOptions(t *testing.T) {
	t.Setenv(EnvModule, "/env/module.so")
	if got := EnvOptions("/flag/module.so").ModulePath; got != "/flag/module.so" {
		t.Errorf("flag given: ModulePath = %q", got)
	}
	if got := EnvOptions("").ModulePath; got != "/env/module.so" {
		t.Errorf("flag empty: ModulePath = %q, want $%s", got, EnvModule)
	}
	t.Setenv(EnvPIN, "5555")
	if pin, err := EnvOptions("").PIN(TokenInfo{}); err != nil || pin != "5555" {
		t.Errorf("EnvOptions PIN = %q, %v", pin, err)
	}
}

// Under go test there is normally no terminal: TerminalPIN must refuse
// rather than block or read a pipe.
func TestTerminalPINWithoutTerminal(t *testing.T) {
	if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		f.Close()
		t.Log("a controlling terminal exists; not calling TerminalPIN, which would prompt on it")
		return
	}
	_, err := TerminalPIN("")(TokenInfo{Label: "tok"})
	if !errors.Is(err, ErrNoPIN) || !strings.Contains(err.Error(), "no terminal") {
		t.Errorf("err = %v, want ErrNoPIN saying there is no terminal", err)
	}
}

func TestTokenInfoString(t *testing.T) {
	if got := (TokenInfo{Label: "a b"}).String(); got != `"a b"` {
		t.Errorf("got %s", got)
	}
	if got := (TokenInfo{Label: "a", Serial: "0f"}).String(); got != `"a" (serial 0f)` {
		t.Errorf("got %s", got)
	}
}
