// Package secretprompt reads a secret (a key passphrase, a token PIN) from
// the controlling terminal without echo: /dev/tty, else standard input when
// it is a terminal. It never reads a pipe, so that a secret cannot come from
// a redirected file by accident.
package secretprompt

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// ErrNoTerminal is returned when there is no terminal to prompt on.
var ErrNoTerminal = errors.New("no terminal to prompt on")

// Read writes prompt to the terminal and reads a line without echo. An
// empty answer is returned as it is; the caller decides whether it is
// acceptable.
func Read(prompt string) ([]byte, error) {
	var in int
	var out io.Writer
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		defer tty.Close()
		in, out = int(tty.Fd()), tty
	} else if term.IsTerminal(int(os.Stdin.Fd())) {
		in, out = int(os.Stdin.Fd()), os.Stderr
	} else {
		return nil, ErrNoTerminal
	}
	if _, err := io.WriteString(out, prompt); err != nil {
		return nil, fmt.Errorf("prompting on the terminal: %w", err)
	}
	secret, err := term.ReadPassword(in)
	_, _ = io.WriteString(out, "\n")
	if err != nil {
		return nil, fmt.Errorf("reading from the terminal: %w", err)
	}
	return secret, nil
}
