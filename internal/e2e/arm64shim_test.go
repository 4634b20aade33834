package e2e

import (
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"
)

// TestBootArm64Shim (case 20): Debian bookworm's shim-unsigned:arm64 16.1
// (shimaa64.efi), signed by "ukibuild sign" with the db key, is AAVMF's
// default loader (EFI/BOOT/BOOTAA64.EFI) and starts the arm64 stub 262 UKI
// as EFI/BOOT/grubaa64.efi (MokManager, mmaa64.efi, signed too, is next to
// it), under Secure Boot with a swtpm whose side is read from the host
// (bootArm64ESP):
//
//   - a fresh varstore (no MOK): "ukibuild eventlog verify --loader
//     shimaa64.efi --pcrs 4,7,9,11,12,13,14" matches every PCR of the log
//     read from guest memory, and the log replays to the PCRs swtpm's
//     extends replay to. shim's PCR 14 MokListX is the arm64 build's own
//     built-in dbx, which differs from shimx64.efi's;
//   - a UKI signed by a key in neither db nor MokList: shim prints
//     "Verification failed: (0x1A) Security Violation" and nothing of the
//     UKI runs; "ukibuild measure --explain --loader shimaa64.efi" with the
//     same Secure Boot variables predicts the refusal.
func TestBootArm64Shim(t *testing.T) {
	e := setup(t)
	e.arm64(t)
	dir := e.workDir(t)
	shimPath := filepath.Join(dir, "shimaa64.efi")
	mmPath := filepath.Join(dir, "mmaa64.efi")
	e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SHIM_161_AA64"), "-o", shimPath, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
	e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SHIM_161_AA64_MM"), "-o", mmPath, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
	shimESP := func(uki string) []espFile {
		return []espFile{
			{path: aa64.bootFile, from: shimPath},
			{path: "EFI/BOOT/mmaa64.efi", from: mmPath},
			{path: "EFI/BOOT/grubaa64.efi", from: uki},
		}
	}

	t.Run("fresh", func(t *testing.T) {
		const name = "20 arm64 shim 16.1 starts the UKI"
		efi := filepath.Join(e.workDir(t), "grubaa64.efi")
		e.buildSigned(t, efi, e.sb.db, e.arm64UKIArgs(t, "262")...)
		// shim hashes the UKI (its kernel is an uncompressed Image) under
		// TCG before it starts it: more time than a direct boot.
		res, pcrs := e.bootArm64ESP(t, efi, shimESP(efi), 10*time.Minute)
		for _, i := range []int{4, 7, 9, 11, 12, 13, 14} {
			res.sha256[i] = hex.EncodeToString(pcrs["sha256"][i])
		}
		e.checkSecureBoot(t, name, res, e.sb.db.c)
		// AAVMF starts its one boot option: --boot-attempts 1.
		e.checkShimVerify(t, name, efi, shimPath, res, "1", nil)
	})

	t.Run("wrong-key", func(t *testing.T) {
		const name = "20 arm64 shim 16.1 refuses a wrong-key UKI"
		efi := filepath.Join(e.workDir(t), "grubaa64.efi")
		e.buildSigned(t, efi, e.sb.wrong, e.arm64UKIArgs(t, "262")...)
		r := e.qemuOn(t, aa64, shimESP(efi), newTPMState(t, e.workDir(t)), 10*time.Minute, nil)
		e.checkShimRefusal(t, name, efi, shimPath, r)
	})
}
