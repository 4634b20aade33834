package e2e

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestBootSystemdSbsignProfile (case 11): a UKI signed with systemd-sbsign's
// attribute set (build --signature-profile systemd-sbsign, byte-identical
// to systemd-sbsign 262.1 in package sign's tests) boots under Secure
// Boot, authorized by our db key, and sbverify accepts it.
func TestBootSystemdSbsignProfile(t *testing.T) {
	const name = "11 UKI signed with systemd-sbsign's attributes"
	e := setup(t)
	dir := e.workDir(t)
	efi := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, efi, e.sb.db, slices.Concat(e.ukiArgs(t, "262"), []string{"--signature-profile", "systemd-sbsign"})...)
	out, err := exec.Command("sbverify", "--cert", e.sb.db.cert, efi).CombinedOutput()
	record(t, name, "sbverify --cert db.pem", "Signature verification OK", oneLine(string(out)), err == nil)
	if err != nil {
		t.Errorf("sbverify: %v\n%s", err, out)
	}
	res := e.boot(t, efi)
	e.checkSecureBoot(t, name, res, e.sb.db.c)
}
