package e2e

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// AAVMF (Debian package qemu-efi-aarch64): its one code image has Secure
// Boot and TPM 2 support (ARM has no SMM). AAVMF_VARS.fd is blank, so the
// varstore is made from the Microsoft-keyed one with its keys deleted and
// ours enrolled (arm64Env.prepare).
const (
	aavmfCode   = "/usr/share/AAVMF/AAVMF_CODE.fd"
	aavmfVarsMS = "/usr/share/AAVMF/AAVMF_VARS.ms.fd"
)

// aa64 is the arm64 machine: QEMU's virt board with a Cortex-A57 (-cpu
// max is twice as slow under TCG), AAVMF, and a TIS TPM on the system bus,
// for which Debian's arm64 kernels have no driver: the host reads the TPM's
// side (bootArm64).
var aa64 = &machine{
	name: "arm64", qemu: "qemu-system-aarch64",
	args: []string{"-machine", "virt", "-cpu", "cortex-a57",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + aavmfCode},
	tpm: "tpm-tis-device", bootFile: "EFI/BOOT/BOOTAA64.EFI",
	vars: func(e *env) string { return e.arm.vars },
}

// arm64Env is what the arm64 boots add to env: the initrd with the guest
// built for arm64 (no busybox: the guest needs no shell), and AAVMF's
// varstore with the same PK, KEK and db as the x86-64 boots.
type arm64Env struct {
	once   sync.Once
	err    error
	initrd string
	vars   string
}

func (e *env) arm64(t *testing.T) {
	t.Helper()
	need(t, "qemu-system-aarch64", aavmfCode, aavmfVarsMS)
	e.arm.once.Do(func() { e.arm.err = e.arm.prepare(e) })
	if e.arm.err != nil {
		t.Fatalf("setting up the arm64 boots: %v", e.arm.err)
	}
}

func (a *arm64Env) prepare(e *env) error {
	guest := filepath.Join(e.dir, "guest-arm64")
	cmd := exec.Command("go", "build", "-trimpath", "-o", guest, "github.com/ukibuild/ukibuild/internal/e2e/guest")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=arm64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build the arm64 guest: %v\n%s", err, b)
	}
	init, err := os.ReadFile(guest)
	if err != nil {
		return err
	}
	a.initrd = filepath.Join(e.dir, "initrd-arm64.cpio")
	if err := os.WriteFile(a.initrd, CPIO([]CPIOEntry{
		{Name: "dev", Mode: ModeDir | 0o755},
		{Name: "dev/console", Mode: ModeChar | 0o600, Major: 5, Minor: 1},
		{Name: "proc", Mode: ModeDir | 0o755},
		{Name: "sys", Mode: ModeDir | 0o755},
		{Name: "init", Mode: ModeFile | 0o755, Data: init},
	}), 0o644); err != nil {
		return err
	}
	// Two steps: deleting db and enrolling ours in one call would delete
	// ours too.
	blank := filepath.Join(e.dir, "AAVMF_VARS.nokeys.fd")
	a.vars = filepath.Join(e.dir, "AAVMF_VARS.ukibuild-e2e.fd")
	for _, args := range [][]string{
		{"--input", aavmfVarsMS, "--output", blank, "-d", "PK", "-d", "KEK", "-d", "db", "-d", "dbx"},
		{"--input", blank, "--output", a.vars, "--set-pk", ownerGUID, e.sb.pk.cert, "--add-kek", ownerGUID, e.sb.kek.cert,
			"--add-db", ownerGUID, e.sb.db.cert, "--add-db", ownerGUID, e.sb.hsm.CertPEM, "--secure-boot"},
	} {
		if out, err := exec.Command(virtFwVars, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", virtFwVars, strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// arm64UKIArgs are the build arguments of the arm64 boots' UKI with
// Debian's arm64 stub of version and bookworm's arm64 kernel.
func (e *env) arm64UKIArgs(t *testing.T, version string) []string {
	return []string{"build", "--stub", e.tools.Path(t, "UKIBUILD_STUB_"+version+"_AA64"), "--linux", e.tools.Path(t, "UKIBUILD_KERNEL_AA64"),
		"--initrd", e.arm.initrd, "--cmdline", "console=ttyAMA0 panic=-1", "--os-release", "ID=ukibuild-e2e"}
}

// bootArm64 boots efi (with extras in its .extra.d/) on the arm64 machine
// under Secure Boot with a fresh swtpm and fills in from the host what the
// guest cannot read: the PCRs, replayed from the commands swtpm logged
// (swtpmPCRs), and the TCG event log, read from guest memory after the
// guest powered off (guestEventLog). The test fails unless the guest ran
// to its end.
func (e *env) bootArm64(t *testing.T, efi string, extras []extraFile, qemuArgs ...string) (*bootResult, map[string]map[int][]byte) {
	t.Helper()
	return e.bootArm64ESP(t, efi, aa64.esp(efi, extras), 10*time.Minute, qemuArgs...)
}

// bootArm64ESP is bootArm64 from an ESP with the given files (what, named
// in messages, is the image they boot), within timeout.
func (e *env) bootArm64ESP(t *testing.T, what string, files []espFile, timeout time.Duration, qemuArgs ...string) (*bootResult, map[string]map[int][]byte) {
	t.Helper()
	state := newTPMState(t, e.workDir(t))
	var evlog []byte
	var logErr error
	r := e.qemuOn(t, aa64, files, state, timeout, func(q *qmp, r *qemuRun) {
		evlog, logErr = guestEventLog(q, state, r.log)
	}, qemuArgs...)
	res := parseGuest(r)
	mustComplete(t, what, r)
	if logErr != nil {
		t.Fatalf("reading the event log from guest memory: %v (serial log %s)", logErr, r.serial)
	}
	res.evlog = evlog
	log, err := os.ReadFile(filepath.Join(state, "swtpm.log"))
	if err != nil {
		t.Fatal(err)
	}
	pcrs, err := swtpmPCRs(log)
	if err != nil {
		t.Fatalf("replaying swtpm's log %s: %v", filepath.Join(state, "swtpm.log"), err)
	}
	for bank, m := range pcrs {
		res.pcr11[bank] = hex.EncodeToString(m[11])
	}
	res.pcr7["sha256"] = hex.EncodeToString(pcrs["sha256"][7])
	res.pcr12["sha256"] = hex.EncodeToString(pcrs["sha256"][12])
	res.pcr13["sha256"] = hex.EncodeToString(pcrs["sha256"][13])
	return res, pcrs
}

// TPM 2.0 command codes (TCG TPM 2.0 Library, Part 2, table 12) of the
// commands that change PCRs 0-23.
const (
	tpmCCStartup              = 0x144
	tpmCCPCRExtend            = 0x182
	tpmCCPCREvent             = 0x13c
	tpmCCPCRReset             = 0x13d
	tpmCCEventSequenceComplte = 0x185
	tpmCCPCRAllocate          = 0x12b
)

// hexLineRE is a line of bytes in swtpm's log.
var hexLineRE = regexp.MustCompile(`^ ([0-9A-F]{2} )+$`)

// swtpmPCRs replays what the TPM was told: the TPM2_PCR_Extend and
// TPM2_PCR_Event commands in swtpm's log (--log level=20 writes each
// command as "SWTPM_IO_Read: length N" and its bytes in hex, and each
// response as "SWTPM_IO_Write: ..."), from PCRs of zeros after each
// TPM2_Startup(CLEAR), for the sha1 and sha256 banks (the state's, from
// swtpm_setup --pcr-banks sha1,sha256). Commands the TPM refused are not
// replayed; commands that change PCRs otherwise are an error (the firmware
// does not send them here).
func swtpmPCRs(log []byte) (map[string]map[int][]byte, error) {
	type msg struct {
		read bool
		b    []byte
	}
	var msgs []msg
	var cur *msg
	for _, line := range strings.Split(string(log), "\n") {
		switch {
		case strings.HasPrefix(line, " SWTPM_IO_Read: "), strings.HasPrefix(line, " SWTPM_IO_Write: "):
			msgs = append(msgs, msg{read: strings.HasPrefix(line, " SWTPM_IO_Read")})
			cur = &msgs[len(msgs)-1]
		case cur != nil && hexLineRE.MatchString(line):
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", line, err)
			}
			cur.b = append(cur.b, b...)
		default: // control channel messages and others
			cur = nil
		}
	}
	banks := map[string]map[int][]byte{"sha1": {}, "sha256": {}}
	reset := func() {
		for i := 0; i < 24; i++ {
			banks["sha1"][i] = make([]byte, sha1.Size)
			banks["sha256"][i] = make([]byte, sha256.Size)
		}
	}
	reset()
	extend := func(bank string, i int, d []byte) {
		var h []byte
		if bank == "sha1" {
			s := sha1.Sum(append(slices.Clone(banks[bank][i]), d...))
			h = s[:]
		} else {
			s := sha256.Sum256(append(slices.Clone(banks[bank][i]), d...))
			h = s[:]
		}
		banks[bank][i] = h
	}
	algs := map[uint16]struct {
		name string
		size int
	}{0x4: {"sha1", 20}, 0xb: {"sha256", 32}, 0xc: {"sha384", 48}, 0xd: {"sha512", 64}, 0x12: {"sm3_256", 32}}
	for n, m := range msgs {
		if !m.read || len(m.b) < 10 {
			continue
		}
		// The response: the next message, a write, with code 0.
		if n+1 >= len(msgs) || msgs[n+1].read || len(msgs[n+1].b) < 10 || binary.BigEndian.Uint32(msgs[n+1].b[6:10]) != 0 {
			continue
		}
		b := m.b
		cc := binary.BigEndian.Uint32(b[6:10])
		short := fmt.Errorf("command %d (code %#x): %d bytes, too short", n, cc, len(b))
		// After the header: the PCR handle, then the authorization area.
		pcrAndAuth := func() (int, []byte, error) {
			if len(b) < 18 {
				return 0, nil, short
			}
			h := binary.BigEndian.Uint32(b[10:14])
			auth := int(binary.BigEndian.Uint32(b[14:18]))
			if len(b) < 18+auth || h > 23 {
				return 0, nil, fmt.Errorf("command %d (code %#x): PCR handle %#x, authorization of %d bytes", n, cc, h, auth)
			}
			return int(h), b[18+auth:], nil
		}
		switch cc {
		case tpmCCStartup:
			if len(b) >= 12 && binary.BigEndian.Uint16(b[10:12]) == 0 { // TPM_SU_CLEAR
				reset()
			}
		case tpmCCPCRExtend:
			i, p, err := pcrAndAuth()
			if err != nil {
				return nil, err
			}
			if len(p) < 4 {
				return nil, short
			}
			count := binary.BigEndian.Uint32(p)
			p = p[4:]
			for range count {
				if len(p) < 2 {
					return nil, short
				}
				a, ok := algs[binary.BigEndian.Uint16(p)]
				if !ok || len(p) < 2+a.size {
					return nil, fmt.Errorf("command %d: PCR_Extend with hash algorithm %#x", n, binary.BigEndian.Uint16(p))
				}
				if _, active := banks[a.name]; active {
					extend(a.name, i, p[2:2+a.size])
				}
				p = p[2+a.size:]
			}
		case tpmCCPCREvent:
			i, p, err := pcrAndAuth()
			if err != nil {
				return nil, err
			}
			if len(p) < 2 || len(p) < 2+int(binary.BigEndian.Uint16(p)) {
				return nil, short
			}
			data := p[2 : 2+int(binary.BigEndian.Uint16(p))]
			d1, d256 := sha1.Sum(data), sha256.Sum256(data)
			extend("sha1", i, d1[:])
			extend("sha256", i, d256[:])
		case tpmCCPCRReset, tpmCCEventSequenceComplte, tpmCCPCRAllocate:
			return nil, fmt.Errorf("command %d (code %#x) changes PCRs and is not replayed", n, cc)
		}
	}
	return banks, nil
}

// efiTablesRE finds the addresses of the TPM event log Linux's EFI stub
// copied (LINUX_EFI_TPM_EVENT_LOG_GUID) and of the firmware's TCG2 final
// events table in the kernel's "efi:" line, which the guest prints.
var efiTablesRE = regexp.MustCompile(`UKIBUILD-E2E efi-tables .*`)

// guestEventLog reads the TPM event log from guest memory over QMP
// (pmemsave into files in dir), as Linux's drivers/char/tpm/eventlog/efi.c
// (6.1) assembles /sys/kernel/security/tpm0/binary_bios_measurements: the
// log of the stub's table (struct linux_efi_tpm_eventlog: u32 size, u32
// final_events_preboot_size, u8 version, the log), followed by the events
// of the final-events table (u64 version, u64 number of events, the
// events) after its first final_events_preboot_size bytes: those were
// already in the log when the EFI stub copied it.
func guestEventLog(q *qmp, dir string, serial []byte) ([]byte, error) {
	line := efiTablesRE.Find(serial)
	if line == nil {
		return nil, errors.New(`the guest printed no "efi-tables" line`)
	}
	addr := func(key string) (uint64, error) {
		m := regexp.MustCompile(key + `=0x([0-9a-f]+)`).FindSubmatch(line)
		if m == nil {
			return 0, fmt.Errorf("no %s= in %q", key, line)
		}
		return strconv.ParseUint(string(m[1]), 16, 64)
	}
	n := 0
	read := func(at, size uint64) ([]byte, error) {
		n++
		file := filepath.Join(dir, fmt.Sprintf("mem-%d-%x.bin", n, at))
		if err := q.command("pmemsave", map[string]any{"val": at, "size": size, "filename": file}); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(file)
		if err == nil && uint64(len(b)) != size {
			err = fmt.Errorf("pmemsave of %d bytes at %#x wrote %d", size, at, len(b))
		}
		return b, err
	}
	logAt, err := addr("TPMEventLog")
	if err != nil {
		return nil, err
	}
	hdr, err := read(logAt, 9)
	if err != nil {
		return nil, err
	}
	size, preboot, version := binary.LittleEndian.Uint32(hdr), binary.LittleEndian.Uint32(hdr[4:]), hdr[8]
	if version != 2 || size > 16<<20 {
		return nil, fmt.Errorf("the event log table at %#x: version %d (want 2, TCG2), %d bytes", logAt, version, size)
	}
	log, err := read(logAt+9, uint64(size))
	if err != nil {
		return nil, err
	}
	finalAt, err := addr("TPMFinalLog")
	if err != nil {
		return log, nil // no final-events table
	}
	fhdr, err := read(finalAt, 16)
	if err != nil {
		return nil, err
	}
	count := binary.LittleEndian.Uint64(fhdr[8:])
	if count == 0 {
		return log, nil
	}
	// EDK2's final-events area is PcdTcg2FinalLogAreaLen, 32 KiB.
	events, err := read(finalAt+16, 0x8000-16)
	if err != nil {
		return nil, err
	}
	sizes, err := specIDDigestSizes(log)
	if err != nil {
		return nil, err
	}
	end := 0
	for i := uint64(0); i < count; i++ {
		l, err := event2Size(events[end:], sizes)
		if err != nil {
			return nil, fmt.Errorf("final-events table, event %d: %w", i, err)
		}
		end += l
	}
	if int(preboot) > end {
		return nil, fmt.Errorf("final_events_preboot_size %d, but the final events have %d bytes", preboot, end)
	}
	return append(log, events[preboot:end]...), nil
}

// specIDDigestSizes reads the digest sizes of a crypto-agile log's Spec
// ID event (TCG PC Client Platform Firmware Profile, TCG_EfiSpecIDEvent):
// the first event, in the SHA-1 format (PCR, type, 20-byte digest, size).
func specIDDigestSizes(log []byte) (map[uint16]int, error) {
	if len(log) < 32+24+4 || !bytes.HasPrefix(log[32:], []byte("Spec ID Event03\x00")) {
		return nil, errors.New("the event log does not start with a Spec ID Event03")
	}
	ev := log[32:]
	n := int(binary.LittleEndian.Uint32(ev[24:]))
	if len(ev) < 28+4*n {
		return nil, errors.New("the Spec ID event is cut short")
	}
	sizes := map[uint16]int{}
	for i := 0; i < n; i++ {
		sizes[binary.LittleEndian.Uint16(ev[28+4*i:])] = int(binary.LittleEndian.Uint16(ev[30+4*i:]))
	}
	return sizes, nil
}

// event2Size is the length of the TCG_PCR_EVENT2 at the start of b: PCR,
// type, digest count, the digests (algorithm ID and digest), event size,
// event.
func event2Size(b []byte, sizes map[uint16]int) (int, error) {
	if len(b) < 12 {
		return 0, errors.New("cut short")
	}
	off := 12
	for range binary.LittleEndian.Uint32(b[8:]) {
		if len(b) < off+2 {
			return 0, errors.New("cut short")
		}
		s, ok := sizes[binary.LittleEndian.Uint16(b[off:])]
		if !ok {
			return 0, fmt.Errorf("digest algorithm %#x not in the Spec ID event", binary.LittleEndian.Uint16(b[off:]))
		}
		off += 2 + s
	}
	if len(b) < off+4 {
		return 0, errors.New("cut short")
	}
	off += 4 + int(binary.LittleEndian.Uint32(b[off:]))
	if off > len(b) {
		return 0, errors.New("cut short")
	}
	return off, nil
}

// arm64Extras are the arm64 boots' .extra.d/ files: a credential and a
// system extension (PCR 12 and 13).
var arm64Extras = []extraFile{testExtras[0], testExtras[1]}

// TestBootArm64 (cases 16 and 17): arm64 UKIs under AAVMF with Secure Boot
// (our PK, KEK and db) and a swtpm. The guest's kernel has no TPM driver,
// so the TPM side is read from the host, independently of the predictor:
// the PCRs by replaying the extend commands swtpm logged, the event log
// from guest memory after the guest powered off. UKIs signed with the db
// key on Debian's arm64 stubs 262, 257 and 252 boot; PCR 11 equals
// "ukibuild measure"; the firmware measured Secure Boot with our keys
// (PCR 7 of the log replays to the TPM's); "ukibuild eventlog verify"
// matches PCR 4, 7, 9, 11, 12 and 13 of the log with a credential and a
// system extension in .extra.d/, and the log replays to the TPM's values
// (16). The UKI unsigned, and signed with a key not in db, is refused
// (17).
func TestBootArm64(t *testing.T) {
	e := setup(t)
	e.arm64(t)
	for _, version := range []string{"262", "257", "252"} {
		t.Run(version, func(t *testing.T) {
			name := "16 arm64 signed UKI, stub " + version
			dir := e.workDir(t)
			efi := filepath.Join(dir, "uki.efi")
			e.buildSigned(t, efi, e.sb.db, e.arm64UKIArgs(t, version)...)
			want := parseCalculate(e.run(t, "measure", efi, "--bank=sha1", "--bank=sha256", "--phase=:"))
			res, pcrs := e.bootArm64(t, efi, arm64Extras)
			for _, bank := range []string{"sha1", "sha256"} {
				ok := res.pcr11[bank] == want[bank] && want[bank] != ""
				record(t, name, "PCR 11 "+bank+" (swtpm's extends replayed) = ukibuild measure", want[bank], res.pcr11[bank], ok)
				if !ok {
					t.Errorf("stub %s: PCR 11 %s: predicted %s, the TPM has %s (serial log %s)", version, bank, want[bank], res.pcr11[bank], res.serial)
				}
			}
			e.checkSecureBoot(t, name, res, e.sb.db.c)
			e.verifyArm64(t, name, efi, res, pcrs, arm64Extras)
		})
	}
	dir := e.workDir(t)
	signed := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, signed, e.sb.db, e.arm64UKIArgs(t, "262")...)
	unsigned := filepath.Join(dir, "uki.unsigned.efi")
	if err := stripSignature(signed, unsigned); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "uki.wrong-key.efi")
	e.run(t, "sign", signed, "-o", wrong, "--replace", "--key", e.sb.wrong.key, "--cert", e.sb.wrong.cert)
	for _, c := range []struct{ sub, name, efi string }{
		{"unsigned", "17 arm64 unsigned UKI", unsigned},
		{"wrong-key", "17 arm64 UKI signed, key not in db", wrong},
	} {
		t.Run(c.sub, func(t *testing.T) {
			r := e.qemuOn(t, aa64, aa64.esp(c.efi, nil), newTPMState(t, e.workDir(t)), 10*time.Minute, nil)
			checkRefused(t, c.name, "firmware (AAVMF)", `refused: "Access Denied"`, "", r)
		})
	}
}

// verifyArm64 runs "ukibuild eventlog verify" on an arm64 boot's event log
// (read from guest memory) for PCR 4, 7, 9, 11, 12 and 13, with the PCR
// values swtpm's log replays to as the quoted values: every PCR must
// match the prediction and the log must replay to the TPM's values. It
// also checks that the guest found the extras in /.extra.
func (e *env) verifyArm64(t *testing.T, name, efi string, res *bootResult, pcrs map[string]map[int][]byte, extras []extraFile, extraArgs ...string) {
	t.Helper()
	dir := e.workDir(t)
	writeExtras(t, efi, extras)
	log, quote, dbx := filepath.Join(dir, "eventlog.bin"), filepath.Join(dir, "quote.txt"), filepath.Join(dir, "dbx.esl")
	var q strings.Builder
	indexes := []int{4, 7, 9, 11, 12, 13}
	for _, i := range indexes {
		fmt.Fprintf(&q, "%d:sha256=%x\n", i, pcrs["sha256"][i])
	}
	for path, data := range map[string][]byte{log: res.evlog, quote: []byte(q.String()), dbx: virtFwVarsDBX()} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := slices.Concat([]string{"eventlog", "verify", log, "--uki", efi, "--pcrs", "4,7,9,11,12,13", "--quote-pcrs", quote,
		"--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert, "--db", e.sb.db.cert, "--db", e.sb.hsm.CertPEM, "--dbx", dbx}, extraArgs)
	b, err := exec.Command(e.ukibuild, args...).CombinedOutput()
	out := string(b)
	ok := err == nil
	var missing []string
	for _, i := range indexes {
		for _, s := range []string{fmt.Sprintf("PCR %d: match", i), fmt.Sprintf("PCR %d sha256: the log replays to the quoted value", i)} {
			if !strings.Contains(out, s) {
				ok = false
				missing = append(missing, s)
			}
		}
	}
	record(t, name, "eventlog verify --pcrs 4,7,9,11,12,13 (log from guest memory) --quote-pcrs (swtpm's extends replayed)",
		"PCR 4, 7, 9, 11, 12, 13: match; the log replays to the TPM's values", oneLine(out), ok)
	if !ok {
		t.Errorf("%s: ukibuild %s: %v; lacks %q:\n%s", name, strings.Join(args, " "), err, missing, out)
	}
	var seen []string
	for _, x := range extras {
		found := false
		for p := range res.extra {
			found = found || filepath.Base(p) == x.name
		}
		if found {
			seen = append(seen, x.name)
		}
	}
	ok = len(seen) == len(extras)
	record(t, name, "extras in /.extra (guest)", fmt.Sprintf("%d files", len(extras)), strings.Join(seen, " "), ok)
	if !ok {
		t.Errorf("%s: the guest's /.extra has %v, want all of %v", name, res.extra, extras)
	}
}

// chid is the Computer Hardware ID of SMBIOS fields (Microsoft's CHIDs,
// as fwupd and systemd-stub compute them): a name-based (SHA-1) UUID in
// the namespace 70ffd812-4c7f-4c7d-0000-000000000000 of the fields in
// UTF-16LE joined by "&". Hand-written (a few lines): no library in
// go.mod computes CHIDs; TestBootArm64DTBAuto checks it against the
// CHIDs of a real machine in systemd's hwids files first.
func chid(fields ...string) string {
	h := sha1.New()
	h.Write([]byte{0x70, 0xff, 0xd8, 0x12, 0x4c, 0x7f, 0x4c, 0x7d, 0, 0, 0, 0, 0, 0, 0, 0})
	for i, f := range fields {
		if i > 0 {
			h.Write([]byte{'&', 0})
		}
		for _, r := range utf16.Encode([]rune(f)) {
			h.Write([]byte{byte(r), byte(r >> 8)})
		}
	}
	s := h.Sum(nil)[:16]
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// TestBootArm64DTBAuto (case 18): a stub 262 UKI with two .dtbauto
// sections, the ThinkPad X13s's devicetree first and QEMU's own virt
// devicetree (dumped by QEMU) second, and a .hwids made from two
// descriptions: the X13s's as systemd ships it, and one naming the virt
// devicetree's compatible for CHID 9 (manufacturer & product name) of the
// SMBIOS strings QEMU is given. AAVMF installs no devicetree of its own,
// so only the .hwids match picks one: the stub must pick the second,
// Linux boots with it (the guest's /sys/firmware/devicetree shows
// linux,dummy-virt), and PCR 11, replayed from swtpm's log, equals
// "ukibuild measure --dtbauto 1" and not --dtbauto 0; "eventlog verify
// --dtbauto 1" matches PCR 4, 7, 9, 11, 12 and 13.
func TestBootArm64DTBAuto(t *testing.T) {
	const name = "18 arm64 .dtbauto picked by .hwids"
	e := setup(t)
	e.arm64(t)
	need(t, "fdtput")
	hwidsSrc := filepath.Join(e.tools.Path(t, "UKIBUILD_SID_ROOT"), "usr/lib/systemd/boot/hwids/aa64")
	// The CHID code against fwupd's CHIDs of a real machine: the Yoga
	// C630 is manufacturer "LENOVO", product "81JL".
	c630, err := os.ReadFile(filepath.Join(hwidsSrc, "sdm850-lenovo-yoga-c630.json"))
	if err != nil {
		t.Fatal(err)
	}
	if id := chid("LENOVO", "81JL"); !strings.Contains(string(c630), `"`+id+`"`) {
		t.Fatalf("CHID 9 of LENOVO&81JL is %s, which systemd's Yoga C630 description does not list: the test's CHID code is wrong", id)
	}
	dir := e.workDir(t)
	virtDTB := filepath.Join(dir, "qemu-virt.dtb")
	if out, err := exec.Command(aa64.qemu, "-machine", "virt,dumpdtb="+virtDTB, "-cpu", "cortex-a57", "-m", "1024",
		"-display", "none", "-nic", "none").CombinedOutput(); err != nil {
		t.Fatalf("dumping QEMU's devicetree: %v\n%s", err, out)
	}
	// AAVMF keeps the PL031 RTC and the PL061 GPIO (the power button)
	// for itself and hides them from the OS; in the devicetree QEMU
	// describes they are there, and Linux faults reading the PL061. Disable
	// them (fdtput, Debian package device-tree-compiler).
	for _, node := range []string{"/pl061@9030000", "/pl031@9010000", "/gpio-keys"} {
		if out, err := exec.Command("fdtput", "-t", "s", virtDTB, node, "status", "disabled").CombinedOutput(); err != nil {
			t.Fatalf("fdtput %s: %v\n%s", node, err, out)
		}
	}
	const manufacturer, product = "ukibuild", "e2e-virt"
	hwids := filepath.Join(dir, "hwids")
	if err := os.MkdirAll(hwids, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(hwidsSrc, "sc8280xp-lenovo-thinkpad-x13s-21bx.json"), filepath.Join(hwids, "x13s.json"))
	desc := fmt.Sprintf(`{"type": "devicetree", "name": "QEMU virt (ukibuild e2e)", "compatible": "linux,dummy-virt", "hwids": [%q]}`,
		chid(manufacturer, product))
	if err := os.WriteFile(filepath.Join(hwids, "qemu-virt.json"), []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
	efi := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, efi, e.sb.db, slices.Concat(e.arm64UKIArgs(t, "262"), []string{
		"--devicetree-auto", e.tools.Path(t, "UKIBUILD_DTB_AA64_X13S"), "--devicetree-auto", virtDTB, "--hwids", hwids})...)
	want := parseCalculate(e.run(t, "measure", efi, "--bank=sha256", "--phase=:", "--dtbauto", "1"))
	other := parseCalculate(e.run(t, "measure", efi, "--bank=sha256", "--phase=:", "--dtbauto", "0"))
	res, pcrs := e.bootArm64(t, efi, arm64Extras, "-smbios", "type=1,manufacturer="+manufacturer+",product="+product)
	var dt string
	for _, l := range res.lines {
		if v, ok := strings.CutPrefix(l, "dt-compatible "); ok {
			dt = v
		}
	}
	ok := dt == "linux,dummy-virt"
	record(t, name, "devicetree Linux booted with (guest)", "linux,dummy-virt (the second .dtbauto)", dt, ok)
	if !ok {
		t.Errorf("the guest's devicetree compatible is %q, want linux,dummy-virt (serial log %s)", dt, res.serial)
	}
	ok = want["sha256"] != "" && res.pcr11["sha256"] == want["sha256"] && other["sha256"] != want["sha256"]
	record(t, name, "PCR 11 sha256 (swtpm's extends replayed) = ukibuild measure --dtbauto 1", want["sha256"]+" (--dtbauto 0: "+other["sha256"]+")", res.pcr11["sha256"], ok)
	if !ok {
		t.Errorf("PCR 11: the TPM has %s; predicted %s with --dtbauto 1, %s with --dtbauto 0 (serial log %s)", res.pcr11["sha256"], want["sha256"], other["sha256"], res.serial)
	}
	e.checkSecureBoot(t, name, res, e.sb.db.c)
	e.verifyArm64(t, name, efi, res, pcrs, arm64Extras, "--dtbauto", "1")
}
