// Package keypass gets the passphrase of an encrypted private key for the
// command line: from a file or variable the environment names, else from
// the user at a prompt on the terminal, never from a command-line option.
package keypass

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/internal/secretprompt"
)

// Environment variables Passphrase reads.
const (
	// EnvPassphraseFile names a file holding the passphrase of encrypted
	// private keys (one trailing newline is ignored).
	EnvPassphraseFile = "UKIBUILD_KEY_PASSPHRASE_FILE"
	// EnvPassphrase holds the passphrase itself. The file is safer: the
	// environment of a process can be read by its user and by root.
	EnvPassphrase = "UKIBUILD_KEY_PASSPHRASE"
)

// Passphrase returns the passphrase for the encrypted private key at path:
// the content of the file $UKIBUILD_KEY_PASSPHRASE_FILE names, else
// $UKIBUILD_KEY_PASSPHRASE, else what the user types at a prompt on the
// controlling terminal (without echo). There is deliberately no
// command-line option: a passphrase there would be visible in ps and in
// shell history. Errors never contain the passphrase.
func Passphrase(path string) ([]byte, error) {
	if file := os.Getenv(EnvPassphraseFile); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the passphrase file ($%s): %w", EnvPassphraseFile, err)
		}
		if p, ok := bytes.CutSuffix(b, []byte("\n")); ok {
			b = bytes.TrimSuffix(p, []byte("\r"))
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("the passphrase file %s ($%s) is empty", file, EnvPassphraseFile)
		}
		return b, nil
	}
	if p := os.Getenv(EnvPassphrase); p != "" {
		return []byte(p), nil
	}
	return terminalPassphrase(path)
}

// terminalPassphrase prompts on the terminal (see package secretprompt).
func terminalPassphrase(path string) ([]byte, error) {
	p, err := secretprompt.Read(fmt.Sprintf("Passphrase for private key %s: ", path))
	switch {
	case errors.Is(err, secretprompt.ErrNoTerminal):
		return nil, fmt.Errorf("the key is encrypted and there is no terminal to ask for its passphrase: set $%s (a file holding it) or $%s", EnvPassphraseFile, EnvPassphrase)
	case err != nil:
		return nil, fmt.Errorf("the passphrase: %w", err)
	case len(p) == 0:
		return nil, errors.New("the passphrase entered was empty")
	}
	return p, nil
}
