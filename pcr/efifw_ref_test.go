package pcr

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestWithEFIFWMatchesSystemdMeasure: for a UKI with a profile, two
// .dtbauto, a .hwids and three .efifw sections (one in the profile, with
// a .hwids of its own),
// predicting Located.With(dtb, fw) equals systemd-measure 262.1 calculate
// given the files of the sections the stub measures: the shared ones, the
// picked devicetree and the picked firmware (--efifw=, measured after
// .hwids), and none of the other candidates.
func TestWithEFIFWMatchesSystemdMeasure(t *testing.T) {
	tools := reftools.Locate(t)
	order := mustOrder(t, "262")
	r := rand.New(rand.NewPCG(0xef1f, 262))
	dir := t.TempDir()
	file := func(name string, data []byte) (Section, string) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return Section{Name: "." + name[:len(name)-2], Content: Bytes(data)}, p
	}
	var uki []Section
	paths := map[string]string{}
	for _, n := range []string{"linux-0", "osrel-0", "cmdline-0", "dtbauto-0", "dtbauto-1", "hwids-0", "efifw-0", "efifw-1", "profile-0", "cmdline-1", "hwids-1", "efifw-2"} {
		s, p := file(n, randomBytes(r, 1+r.IntN(3000)))
		uki = append(uki, s)
		paths[n] = p
	}
	for _, want := range []struct {
		name   string
		secs   []Section
		shared []string // section files measured whatever is picked
		dtb    []string // .dtbauto candidates in Located order
		fw     []string // .efifw candidates in Located order
	}{
		{"without profiles", uki[:8], []string{"linux-0", "osrel-0", "cmdline-0", "hwids-0"}, []string{"dtbauto-0", "dtbauto-1"}, []string{"efifw-0", "efifw-1"}},
		// Profile 0 is the one starting at the .profile: its .cmdline and
		// .hwids replace the base's, its .efifw comes first.
		{"profile 0", uki, []string{"linux-0", "osrel-0", "cmdline-1", "hwids-1", "profile-0"}, []string{"dtbauto-0", "dtbauto-1"}, []string{"efifw-2", "efifw-0", "efifw-1"}},
	} {
		secs := want.secs
		loc, err := LocateProfile(secs, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(loc.DTBAuto) != len(want.dtb) || len(loc.EFIFW) != len(want.fw) {
			t.Fatalf("%d .dtbauto, %d .efifw candidates; want %d, %d", len(loc.DTBAuto), len(loc.EFIFW), len(want.dtb), len(want.fw))
		}
		for dtb := -1; dtb < len(want.dtb); dtb++ {
			for fw := -1; fw < len(want.fw); fw++ {
				picked, err := loc.With(dtb, fw)
				if err != nil {
					t.Fatal(err)
				}
				preds, err := Predict(order, picked, []Bank{SHA256}, nil)
				if err != nil {
					t.Fatal(err)
				}
				var ours, comments bytes.Buffer
				if err := FormatCalculate(&ours, &comments, preds, MeasureJSONShort); err != nil {
					t.Fatal(err)
				}
				args := []string{"calculate", "--json=short", "--bank=sha256"}
				for _, n := range want.shared {
					args = append(args, "--"+n[:len(n)-2]+"="+paths[n])
				}
				if dtb >= 0 {
					args = append(args, "--dtbauto="+paths[want.dtb[dtb]])
				}
				if fw >= 0 {
					args = append(args, "--efifw="+paths[want.fw[fw]])
				}
				out, err := tools.MeasureVersion(t, "262", args...).Output()
				if err != nil {
					t.Fatalf("systemd-measure %q: %v", args, err)
				}
				where := fmt.Sprintf("%s, .dtbauto %d, .efifw %d", want.name, dtb, fw)
				if !bytes.Equal(ours.Bytes(), out) {
					t.Errorf("%s: ours\n%s\nsystemd-measure %q\n%s", where, ours.String(), args, out)
				}
			}
		}
	}
}
