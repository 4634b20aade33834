package main

import "fmt"

// completionCmd prints the shell code that makes a shell ask ukibuild
// itself for completions (with COMP_LINE set, answered by kongplete from the
// same command definitions as --help and --man).
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c *completionCmd) Run(e *env) error {
	var script string
	switch c.Shell {
	case "bash":
		script = "complete -o default -C ukibuild ukibuild\n"
	case "zsh":
		script = "autoload -U +X bashcompinit && bashcompinit\ncomplete -o default -C ukibuild ukibuild\n"
	case "fish":
		script = `function __ukibuild_complete
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    ukibuild
end
complete -f -c ukibuild -a "(__ukibuild_complete)"
`
	}
	_, err := fmt.Fprint(e.stdout, script)
	return err
}
