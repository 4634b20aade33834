package uki

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/internal/kernel"
	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pystr"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
)

// Config describes a UKI (or PE add-on) to build, with the inputs and the
// semantics of ukify 262's "build" verb. A nil Content means "no such
// section". Use the helpers (DefaultStubPath, DefaultOSRelease, TextOrFile)
// for ukify's defaults and argument conventions.
type Config struct {
	// Stub is the path of systemd's linux<arch>.efi.stub (or
	// addon<arch>.efi.stub when Linux is empty).
	Stub string
	// EFIArch, when set, is the EFI architecture (one of EFIArches) the
	// UKI is for: the stub must be built for it. Whether set or not, the
	// kernel and the profile PEs to join must be for the stub's machine
	// (an x86-64 kernel also fits an ia32 stub); a mismatch is an
	// *ArchMismatchError. ukify checks neither.
	EFIArch string
	// Linux is the path of the kernel. A PE kernel (including an EFI zboot
	// image) is used as it is; a compressed non-PE kernel (gzip, zstd, xz,
	// lz4, bzip2, lzma) is decompressed first, as ukify does.
	Linux string
	// Initrds are concatenated into .initrd (see JoinInitrds).
	Initrds []Content
	// Microcode becomes .ucode.
	Microcode Content
	// Cmdline becomes .cmdline, OSRelease .osrel, Devicetree .dtb,
	// Splash .splash and PCRPKey .pcrpkey.
	Cmdline, OSRelease, Devicetree, Splash, PCRPKey Content
	// Uname becomes .uname. nil means: detect it from the kernel (the x86
	// boot header, an ELF note, or a "Linux version" string); a detection
	// failure is reported through Warnf and leaves .uname out. A pointer to
	// "" leaves .uname out without detection.
	Uname *string
	// SBAT are the user's SBAT texts; each must be valid SBAT CSV starting
	// with the sbat header record. They are merged after the stub's and the
	// kernel's .sbat records. Empty means sbat.DefaultUKI (or
	// sbat.DefaultAddon for an add-on).
	SBAT []Content
	// Sections are extra sections, added after the standard ones and before
	// .sbat.
	Sections []Section
	// DevicetreeAuto become .dtbauto sections, one each: the stub picks the
	// one matching the machine (ukify's --devicetree-auto). PCR policies
	// are signed for each.
	DevicetreeAuto []Content
	// HWIDs becomes .hwids, the table mapping hardware IDs to devicetrees
	// and firmware (see HWIDsFromDir, EncodeHWIDs).
	HWIDs Content
	// EFIFW become .efifw sections, one each (see EFIFWFromDir, EFIFW).
	EFIFW []Content
	// Profile becomes .profile (ukify's --profile; empty content counts as
	// none). Without JoinProfiles the result is a profile PE: .profile
	// first, no .sbat and no PCR signatures. With JoinProfiles it is the
	// base profile's (default "ID=main"), after the shared sections.
	Profile Content
	// JoinProfiles are profile PEs whose sections (.profile, .linux,
	// .osrel (when the base has one), .cmdline, .initrd, .efifw, .ucode,
	// .splash, .dtb, .uname, .sbat) are appended as further profiles, each
	// followed by its .pcrsig when PCR keys are given (ukify's
	// --join-profile).
	JoinProfiles []string
	// SignProfiles, when not empty, limits PCR signing to the profiles
	// with these IDs (ukify's --sign-profile; the base profile too).
	SignProfiles []string
	// TempDir holds the decompressed kernel while building; default
	// os.TempDir().
	TempDir string
	// PCRKeys are the PCR signing key groups (ukify's --pcr-private-key
	// with --pcr-public-key or --pcr-certificate, --phases and
	// --policyref). Each signs the PCR 11 policies of its phases into
	// .pcrsig. The measured sections and their order are those of the
	// stub's systemd version (read from its .sdmagic section or LoaderInfo string).
	PCRKeys []PCRKey
	// PCRBanks are the banks to sign policies for; none means all four.
	PCRBanks []pcr.Bank
	// PolicyDigestKey, when set, makes .pcrsig hold the unsigned policies
	// for offline signing (ukify's --policy-digest with --pcr-public-key or
	// --pcr-certificate): each carries "tbs", the data to sign, and the
	// section is padded with 1024 spaces per policy so that JoinPCRSig can
	// later put the signatures in place. PCRKeys must be empty.
	PolicyDigestKey crypto.PublicKey
	// PolicyDigestInitrd adds the policies for enter-initrd with the policy
	// reference "initrd" to the PolicyDigestKey ones (ukify's
	// --sign-initrd-pcrs with --policy-digest).
	PolicyDigestInitrd bool
	// SecureBoot, when set, signs the output for UEFI Secure Boot (and,
	// by its SignKernel rule, the kernel inside it, before anything is
	// measured). See Plan.WriteFile.
	SecureBoot *SecureBoot
	// Warnf receives warnings (nil: discarded).
	Warnf func(format string, args ...any)
}

// PCRKey is one PCR signing key group.
type PCRKey struct {
	// Signer signs the policies (RSA only: systemd verifies RSASSA).
	Signer crypto.Signer
	// PublicKey, when set, is the key whose fingerprint the policies carry
	// (from --pcr-public-key or --pcr-certificate).
	PublicKey crypto.PublicKey
	// PublicKeyFile is the --pcr-public-key file: with a single key group,
	// ukify embeds it as .pcrpkey as it is.
	PublicKeyFile Content
	// Phases are the boot phase paths to sign for; none means
	// systemd-measure's default set.
	Phases []string
	// PolicyRef binds the signatures to a policy reference ("": none).
	PolicyRef string
}

// PublicKeyContent is the key group's public key as ukify embeds it as
// .pcrpkey: the PublicKeyFile as it is, else the key of the certificate or
// of the private key in PEM, as systemd-keyutil extract-public prints it.
func (k PCRKey) PublicKeyContent() (Content, error) {
	if k.PublicKeyFile != nil {
		return k.PublicKeyFile, nil
	}
	pub := k.PublicKey
	if pub == nil && k.Signer != nil {
		pub = k.Signer.Public()
	}
	b, err := pcrsig.PublicKeyPEM(pub)
	if err != nil {
		return nil, fmt.Errorf(".pcrpkey: %w", err)
	}
	return Bytes("PCR public key", b), nil
}

// Plan is a resolved Config: the stub is read, the kernel decompressed if
// needed, uname detected and SBAT merged. Close it to remove temporary files.
type Plan struct {
	Stub     *Stub
	Sections []Section
	// Uname is the .uname value used ("" when there is none).
	Uname string
	// PolicyDigest is the unsigned .pcrsig text when Config.PolicyDigestKey
	// was set (ukify prints it for offline signing).
	PolicyDigest []byte
	// Variants are the sets of sections PCR 11 is predicted (and, with
	// keys, signed) for: per measured profile, one per .dtbauto and, with a
	// stub that selects firmware, per .efifw or none (see PCRVariant).
	Variants []PCRVariant
	// SecureBoot is Config.SecureBoot: Plan.WriteFile signs with it.
	SecureBoot *SecureBoot
	// KernelSigned reports whether the kernel was signed (SecureBoot's
	// SignKernel rule) before it was measured and embedded.
	KernelSigned bool
	temps        []string
}

// Close removes the temporary files of the plan.
func (p *Plan) Close() error {
	var errs []error
	for _, t := range p.temps {
		if err := atomicfile.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	p.temps = nil
	return errors.Join(errs...)
}

// Compose lays out the image (see Compose). The PCR policies of .pcrsig
// sections are computed first, from a read of the sections they cover;
// WriteFile instead computes them from the bytes it writes.
func (p *Plan) Compose(ctx context.Context) (*Image, error) {
	if err := p.resolvePCRSigs(ctx); err != nil {
		return nil, err
	}
	return Compose(p.Stub, p.Sections)
}

// Build resolves cfg and writes the UKI to output atomically (signed when
// cfg.SecureBoot is set): on any error no output file is created and an
// existing one is left untouched. Once ctx is done, Build stops before the
// next chunk it reads or writes and returns an error wrapping ctx.Err().
func Build(ctx context.Context, cfg Config, output string) error {
	plan, err := Prepare(ctx, cfg)
	if err != nil {
		return err
	}
	defer plan.Close()
	return plan.WriteFile(ctx, output)
}

// WriteFile writes img to path atomically (new files get mode 0644).
func WriteFile(path string, img *Image) error {
	err := atomicfile.Write(path, 0o644, func(f *os.File) error {
		_, err := img.WriteTo(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Prepare resolves cfg as ukify's make_uki does, without writing anything
// but a decompressed kernel. ctx stops the long steps (decompressing,
// signing and measuring the kernel and the other sections) between chunks.
func Prepare(ctx context.Context, cfg Config) (_ *Plan, err error) {
	warnf := cfg.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	if cfg.Stub == "" {
		return nil, errors.New("no stub given")
	}
	stub, err := ReadStub(cfg.Stub)
	if err != nil {
		return nil, err
	}
	if err := checkArch(&cfg, stub); err != nil {
		return nil, err
	}
	if off, n := stub.trailingData(); n > 0 {
		warnf("stub %s: %d bytes after its last section (from offset %#x) are not loaded, and in the UKI they lie between sections, where the Authenticode signature does not cover them", cfg.Stub, n, off)
	}
	plan := &Plan{Stub: stub, SecureBoot: cfg.SecureBoot}
	if sb := cfg.SecureBoot; sb != nil {
		if err := sb.check(); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			plan.Close()
		}
	}()

	var linux Content
	if cfg.Linux != "" {
		var temp string
		linux, temp, err = openKernel(ctx, cfg.Linux, cfg.TempDir, warnf)
		if temp != "" {
			plan.temps = append(plan.temps, temp)
		}
		if err != nil {
			return nil, err
		}
		if cfg.SecureBoot != nil {
			signed, temp, err := cfg.SecureBoot.signKernel(ctx, linux, cfg.TempDir)
			if temp != "" {
				plan.temps = append(plan.temps, temp)
			}
			if err != nil {
				return nil, err
			}
			if signed != nil {
				linux, plan.KernelSigned = signed, true
			}
		}
	}

	uname := ""
	if cfg.Uname != nil {
		uname = *cfg.Uname
	} else if linux != nil {
		path, _ := Path(linux)
		if v, err := kernel.DetectUname(path, warnf); err != nil {
			warnf("kernel %s: cannot detect its version, leaving .uname out: %v", cfg.Linux, err)
		} else {
			uname = v
		}
	}
	plan.Uname = uname
	var unameContent Content
	if uname != "" {
		unameContent = Text("uname", uname)
	}

	// With a single PCR key group and no --pcrpkey, ukify embeds the
	// public key: the --pcr-public-key file as it is, else the key of the
	// certificate or of the private key as systemd-keyutil extract-public
	// prints it.
	pcrpkey := cfg.PCRPKey
	if pcrpkey == nil && len(cfg.PCRKeys) == 1 {
		var err error
		if pcrpkey, err = cfg.PCRKeys[0].PublicKeyContent(); err != nil {
			return nil, err
		}
	}

	a := &assembler{ctx: ctx, cfg: &cfg, plan: plan, warnf: warnf}
	if err := a.assemble(linux, unameContent, pcrpkey); err != nil {
		return nil, err
	}
	return plan, nil
}

// Order returns the measured-section order of the plan's stub (by the
// version in its .sdmagic section or LoaderInfo string).
func (p *Plan) Order() (pcr.Order, error) {
	version := p.Stub.Version()
	if version == "" {
		return pcr.Order{}, fmt.Errorf("stub %s: no systemd-stub version (no .sdmagic section and no LoaderInfo string), so what it measures is unknown", p.Stub.Path)
	}
	order, err := pcr.OrderFor(version)
	if err != nil {
		return pcr.Order{}, fmt.Errorf("stub %s: %w", p.Stub.Path, err)
	}
	return order, nil
}

// Predict predicts PCR 11 for the plan's UKI as its stub measures it, as
// "systemd-measure calculate" does (banks none: all four; phases none:
// the default set): for the first of Plan.Variants (see PredictVariant),
// else for all sections.
func (p *Plan) Predict(ctx context.Context, banks []pcr.Bank, phases []string) ([]pcr.Prediction, error) {
	if len(p.Variants) > 0 {
		return p.PredictVariant(ctx, p.Variants[0], banks, phases)
	}
	order, err := p.Order()
	if err != nil {
		return nil, err
	}
	return pcr.PredictContext(ctx, order, pcrSections(p.Sections), banks, phases)
}

// PredictVariant predicts PCR 11 for one variant of the plan.
func (p *Plan) PredictVariant(ctx context.Context, v PCRVariant, banks []pcr.Bank, phases []string) ([]pcr.Prediction, error) {
	if err := v.checkLinux(); err != nil {
		return nil, err
	}
	order, err := p.Order()
	if err != nil {
		return nil, err
	}
	return pcr.PredictContext(ctx, order, v.Sections, banks, phases)
}

func pcrSections(sections []Section) []pcr.Section {
	secs := make([]pcr.Section, len(sections))
	for i, s := range sections {
		secs[i] = pcr.Section{Name: s.Name, Content: s.Content}
	}
	return secs
}

// CheckSectionName applies ukify's rule for user-named sections: printable
// ASCII, at most 8 bytes (systemd-stub does not support longer names).
func CheckSectionName(name string) error {
	if name == "" {
		return errors.New("empty section name")
	}
	for _, r := range name {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("bad section name %q: only printable ASCII is allowed", name)
		}
	}
	if len(name) > 8 {
		return fmt.Errorf("section name %q is too long: at most 8 characters", name)
	}
	return nil
}

// Why a kernel cannot be put into a UKI: the Err of a *KernelError wraps
// one of these (errors.Is).
var (
	// ErrKernelFormat: the kernel is not a PE image and its magic number
	// matches no compression format.
	ErrKernelFormat = kernel.ErrUnknownFormat
	// ErrKernelUnsupported: the compression is recognised but not
	// supported (LZO, an xz filter chain other than LZMA2, an unknown
	// zboot compression).
	ErrKernelUnsupported = kernel.ErrUnsupported
	// ErrKernelTooLarge: the decompressed kernel exceeds the size limit
	// (a decompression bomb?).
	ErrKernelTooLarge = kernel.ErrLimit
	// ErrKernelCorrupt: the compressed data or a header is truncated or
	// invalid.
	ErrKernelCorrupt = kernel.ErrCorrupt
)

// KernelError is a kernel image that Build cannot use: Err says why and
// wraps ErrKernelFormat, ErrKernelUnsupported, ErrKernelTooLarge or
// ErrKernelCorrupt, or the I/O error that occurred.
type KernelError struct {
	File string // the kernel's path
	Err  error
}

func (e *KernelError) Error() string { return "kernel " + e.File + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *KernelError) Unwrap() error { return e.Err }

// openKernel returns the kernel as content, decompressing a compressed
// non-PE kernel into a temporary file (whose path is returned).
func openKernel(ctx context.Context, path, tempDir string, warnf func(string, ...any)) (Content, string, error) {
	c, err := File(path)
	if err != nil {
		return nil, "", fmt.Errorf("kernel: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("kernel: %w", err)
	}
	defer f.Close()
	if kernel.IsPE(f, c.Size()) {
		return c, "", nil
	}
	format, err := kernel.Detect(f)
	if err != nil {
		return nil, "", &KernelError{File: path, Err: fmt.Errorf("not a PE image and %w", err)}
	}
	rc, err := kernel.Decompress(f, c.Size(), format)
	if err != nil {
		return nil, "", &KernelError{File: path, Err: err}
	}
	defer rc.Close()
	// A scratch file is removed when the build is interrupted, and a
	// leftover of a killed build is recognised and removed later.
	tmp, err := atomicfile.Scratch(tempDir, "linux-decompressed")
	if err != nil {
		return nil, "", fmt.Errorf("kernel %s: %w", path, err)
	}
	ok := false
	defer func() {
		tmp.Close()
		if !ok {
			atomicfile.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, ctxio.Reader(ctx, rc)); err != nil {
		return nil, "", &KernelError{File: path, Err: fmt.Errorf("decompressing %s: %w", format, err)}
	}
	if err := tmp.Close(); err != nil {
		return nil, "", err
	}
	warnf("%s is compressed (%s) and cannot be loaded by UEFI, decompressing", path, format)
	dc, err := File(tmp.Name())
	if err != nil {
		return nil, "", err
	}
	ok = true
	return &namedContent{Content: dc, name: path + " (decompressed)"}, tmp.Name(), nil
}

type namedContent struct {
	Content
	name string
}

func (n *namedContent) String() string { return n.name }

// contentSBAT returns the raw data of every .sbat section of c if c is a PE
// image (pefile's get_data: the whole SizeOfRawData), else nothing.
func contentSBAT(c Content) ([][]byte, error) {
	rc, err := c.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		return nil, nil
	}
	f, err := pe.Parse(ra, c.Size())
	if err != nil {
		return nil, nil
	}
	var out [][]byte
	total := int64(0)
	for i := range f.Sections {
		if f.Sections[i].NameString() != ".sbat" {
			continue
		}
		off, end := f.DataRange(i, -1)
		if end-off > MaxSBAT {
			return nil, fmt.Errorf(".sbat section is %d bytes, more than 1 MiB", end-off)
		}
		if total += end - off; total > MaxSBAT {
			return nil, fmt.Errorf(".sbat sections add up to more than 1 MiB")
		}
		b := make([]byte, end-off)
		if _, err := ra.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("reading .sbat: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

func readSmall(c Content, limit int64) ([]byte, error) {
	if c.Size() > limit {
		return nil, fmt.Errorf("%d bytes is too large (limit %d)", c.Size(), limit)
	}
	rc, err := c.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

// TextOrFile interprets a ukify TEXT|@PATH argument: "@PATH" is the file's
// content, verbatim; anything else is the text itself, with runs of
// whitespace collapsed to single spaces when collapse is set (ukify does so
// for --cmdline). Empty text gives nil: ukify leaves such sections out.
func TextOrFile(what, arg string, collapse bool) (Content, error) {
	if p, ok := strings.CutPrefix(arg, "@"); ok {
		c, err := File(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return c, nil
	}
	if collapse {
		arg = strings.Join(pystr.Fields(arg), " ")
	}
	if arg == "" {
		return nil, nil
	}
	return Text(what, arg), nil
}

// DefaultStubPath is where systemd installs the stub for arch (ukify's
// default): linux<arch>.efi.stub, or addon<arch>.efi.stub for add-ons.
func DefaultStubPath(arch string, addon bool) string {
	kind := "linux"
	if addon {
		kind = "addon"
	}
	return "/usr/lib/systemd/boot/efi/" + kind + arch + ".efi.stub"
}

// DefaultOSRelease is ukify's default .osrel source: /etc/os-release, or
// /usr/lib/os-release when the former does not exist.
func DefaultOSRelease() string {
	if _, err := os.Stat("/etc/os-release"); err == nil {
		return "/etc/os-release"
	}
	return "/usr/lib/os-release"
}

// GuessEFIArch returns the EFI architecture name of this machine as ukify's
// guess_efi_arch does, including the 32-bit firmware check on x86-64.
func GuessEFIArch() (string, error) {
	var arch, fallback string
	switch runtime.GOARCH {
	case "amd64":
		arch, fallback = "x64", "ia32"
	case "386":
		arch = "ia32"
	case "arm64":
		arch = "aa64"
	case "arm":
		arch = "arm"
	case "loong64":
		arch = "loongarch64"
	case "riscv64":
		arch = "riscv64"
	default:
		return "", fmt.Errorf("unsupported architecture %s", runtime.GOARCH)
	}
	if fallback != "" {
		if b, err := os.ReadFile("/sys/firmware/efi/fw_platform_size"); err == nil && strings.TrimSpace(string(b)) == "32" {
			arch = fallback
		}
	}
	return arch, nil
}

// EFIArches are the architectures ukify accepts for --efi-arch.
var EFIArches = []string{"ia32", "x64", "arm", "aa64", "riscv32", "riscv64", "loongarch32", "loongarch64"}
