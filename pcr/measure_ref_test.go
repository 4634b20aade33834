package pcr

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// calcCase is one random "systemd-measure calculate" invocation.
type calcCase struct {
	files    map[string][]byte // section name → content
	bankArgs []string          // --bank= values as passed (mixed case, duplicates)
	banks    []Bank
	phases   []string // --phase= values
}

// phaseWords feed the random phases: systemd-pcrphase's words, words it
// does not know, and bytes that JSON escapes or keeps verbatim.
var phaseWords = []string{
	"enter-initrd", "leave-initrd", "sysinit", "ready", "shutdown", "final",
	"unknown", "a b", `q"uote`, `back\slash`, "tab\there", "nl\nx", "\x01\x1f", "\x7f", "é✓", "'",
}

func randomCase(r *rand.Rand, order Order, big []byte, first bool) calcCase {
	c := calcCase{files: map[string][]byte{}}
	for _, name := range order.Sections {
		// systemd-measure requires --linux; the first case has every section.
		if !first && name != ".linux" && r.IntN(2) == 0 {
			continue
		}
		var data []byte
		switch k := r.IntN(20); {
		case k < 3 && !first:
			data = []byte{} // empty: skipped
		case k < 12:
			data = randomBytes(r, 1+r.IntN(100))
		case k < 18:
			data = []byte(strings.Repeat(name+" text\n", 1+r.IntN(50)))
		case k < 19:
			data = randomBytes(r, 1+r.IntN(200<<10))
		default:
			data = big // several read chunks
		}
		c.files[name] = data
	}
	if r.IntN(5) > 0 {
		all := AllBanks()
		for range 1 + r.IntN(5) {
			b := all[r.IntN(len(all))]
			arg := b.Name
			if r.IntN(2) == 0 {
				arg = strings.ToUpper(arg)
			}
			c.bankArgs = append(c.bankArgs, arg)
			c.banks = append(c.banks, b)
		}
	}
	if r.IntN(6) > 0 {
		for range 1 + r.IntN(5) {
			var p string
			switch k := r.IntN(10); {
			case k == 0:
				p = ":"
			case k == 1:
				p = ""
			case k < 4:
				p = string(DefaultPhases()[r.IntN(4)])
			default:
				for range r.IntN(4) {
					p += strings.Repeat(":", r.IntN(3)) + phaseWords[r.IntN(len(phaseWords))]
				}
				p += strings.Repeat(":", r.IntN(2))
			}
			if r.IntN(40) == 0 {
				p += "\xff" // not UTF-8: JSON output fails
			}
			c.phases = append(c.phases, p)
			if r.IntN(4) == 0 {
				c.phases = append(c.phases, p) // duplicate
			}
		}
	}
	return c
}

// toolOption returns the option of systemd-measure version that measures
// section the way systemd-stub does. systemd-measure 257 swaps two: its
// option enum lists ARG_HWIDS before ARG_DTBAUTO where uki.h lists
// UNIFIED_SECTION_DTBAUTO before UNIFIED_SECTION_HWIDS, so it measures the
// --dtbauto= file as .hwids and the --hwids= file as .dtbauto
// (src/measure/measure.c, systemd v257.13; fixed in 258, where ARG_DTBAUTO
// precedes ARG_HWIDS). The stub measures each section under its own name,
// and so does Predict; the test passes each file to the option 257 really
// measures it as.
func toolOption(version, section string) string {
	opt := strings.TrimPrefix(section, ".")
	if version == "257" {
		switch opt {
		case "dtbauto":
			return "hwids"
		case "hwids":
			return "dtbauto"
		}
	}
	return opt
}

// args writes the case's files into dir and returns the arguments for
// systemd-measure version.
func (c calcCase) args(t *testing.T, dir, version string, mode MeasureJSON) []string {
	args := []string{"calculate", "--json=" + jsonArg(mode)}
	for name, data := range c.files {
		p := filepath.Join(dir, strings.TrimPrefix(name, "."))
		if _, err := os.Stat(p); err != nil {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "--"+toolOption(version, name)+"="+p)
	}
	for _, b := range c.bankArgs {
		args = append(args, "--bank="+b)
	}
	for _, p := range c.phases {
		args = append(args, "--phase="+p)
	}
	return args
}

func (c calcCase) sections() []Section {
	var s []Section
	for name, data := range c.files {
		s = append(s, Section{Name: name, Content: Bytes(data)})
	}
	return s
}

// TestCalculateMatchesSystemdMeasure runs random cases through our Predict
// and FormatCalculate and through the real systemd-measure calculate of
// each release, using that release's table, and wants the same stdout and
// stderr, byte for byte, in text, short and pretty JSON mode (the tools'
// formats are the same in all four releases).
func TestCalculateMatchesSystemdMeasure(t *testing.T) {
	tools := reftools.Locate(t)
	cases := map[string]int{"262": 100, "257": 40, "254": 40, "252": 40}
	for _, version := range []string{"262", "257", "254", "252"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			order := mustOrder(t, version)
			r := rand.New(rand.NewPCG(0x5eed, uint64(order.First)))
			big := randomBytes(r, 2*chunkSize+777)
			for i := range cases[version] {
				c := randomCase(r, order, big, i == 0)
				dir := t.TempDir()
				preds, err := Predict(order, c.sections(), c.banks, c.phases)
				if err != nil {
					t.Fatalf("case %d: %v", i, err)
				}
				for _, mode := range []MeasureJSON{MeasureJSONOff, MeasureJSONShort, MeasureJSONPretty} {
					args := c.args(t, dir, version, mode)
					cmd := tools.MeasureVersion(t, version, args...)
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					runErr := cmd.Run()

					var out, comments bytes.Buffer
					fmtErr := FormatCalculate(&out, &comments, preds, mode)
					where := fmt.Sprintf("case %d, systemd-measure %s %q", i, version, args)
					if fmtErr != nil || runErr != nil {
						// Only a phase that is not UTF-8 may fail, in JSON mode, in both.
						var exit *exec.ExitError
						if fmtErr == nil || runErr == nil || mode == MeasureJSONOff || !strings.Contains(fmtErr.Error(), "UTF-8") ||
							!errors.As(runErr, &exit) || stdout.Len() != 0 || out.Len() != 0 {
							t.Fatalf("%s: ours %v, theirs %v (stderr %q)", where, fmtErr, runErr, stderr.String())
						}
						continue
					}
					if !bytes.Equal(out.Bytes(), stdout.Bytes()) {
						t.Fatalf("%s: stdout differs\nours:\n%s\ntheirs:\n%s", where, out.String(), stdout.String())
					}
					wantErr := ""
					if mode == MeasureJSONOff {
						wantErr = comments.String()
					}
					if stderr.String() != wantErr {
						t.Fatalf("%s: stderr differs\nours:\n%s\ntheirs:\n%s", where, wantErr, stderr.String())
					}
				}
			}
		})
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestSystemdMeasure257SwapsDtbautoHwids documents the systemd-measure 257
// quirk toolOption works around: its --dtbauto= file is measured as .hwids.
func TestSystemdMeasure257SwapsDtbautoHwids(t *testing.T) {
	tools := reftools.Locate(t)
	dir := t.TempDir()
	linux, dt := filepath.Join(dir, "linux"), filepath.Join(dir, "dt")
	for p, data := range map[string]string{linux: "kernel", dt: "devicetree"} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	order := mustOrder(t, "257")
	predict := func(section string) string {
		preds, err := Predict(order, []Section{{".linux", Bytes([]byte("kernel"))}, {section, Bytes([]byte("devicetree"))}},
			[]Bank{SHA256}, []string{":"})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := FormatCalculate(&b, nil, preds, MeasureJSONOff); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for opt, measuredAs := range map[string]string{"dtbauto": ".hwids", "hwids": ".dtbauto"} {
		out, err := tools.MeasureVersion(t, "257", "calculate", "--bank=sha256", "--phase=:",
			"--linux="+linux, "--"+opt+"="+dt).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(out), predict(measuredAs); got != want {
			t.Errorf("systemd-measure 257 --%s: %q, want %q (measured as %s)", opt, got, want, measuredAs)
		}
		if string(out) == predict("."+opt) {
			t.Errorf("systemd-measure 257 --%s measures it as .%s: the quirk is gone", opt, opt)
		}
	}
}

// jsonArg is the --json= argument for mode.
func jsonArg(mode MeasureJSON) string {
	switch mode {
	case MeasureJSONShort:
		return "short"
	case MeasureJSONPretty:
		return "pretty"
	}
	return "off"
}
