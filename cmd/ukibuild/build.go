package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign/pkcs11"
	"github.com/ukibuild/ukibuild/uki"
)

// optString is a string option that remembers whether it was given, for
// ukify's options where "not given" (use a default) differs from "" (leave
// the section out).
type optString struct {
	Set   bool
	Value string
}

func (o *optString) Decode(ctx *kong.DecodeContext) error {
	o.Set = true
	return ctx.Scan.PopValueInto("value", &o.Value)
}

type buildCmd struct {
	Linux      string    `help:"Kernel image (vmlinuz) [.linux section]; compressed non-PE kernels are decompressed." placeholder:"FILE"`
	Initrd     []string  `help:"Initrd file [part of .initrd section]; repeatable, concatenated." sep:"none" placeholder:"FILE"`
	Microcode  string    `help:"Microcode file [.ucode section]." placeholder:"FILE"`
	Cmdline    string    `help:"Kernel command line [.cmdline section]; whitespace in TEXT is collapsed." placeholder:"TEXT|@FILE"`
	OSRelease  optString `name:"os-release" help:"os-release [.osrel section]; default /etc/os-release (or /usr/lib/os-release) when --linux is given, '' to leave out." placeholder:"TEXT|@FILE"`
	Uname      optString `help:"Kernel version, as uname -r [.uname section]; detected from the kernel if not given, '' to leave out." placeholder:"VERSION"`
	Splash     string    `help:"Splash image (BMP) [.splash section]." placeholder:"FILE"`
	Devicetree string    `help:"Devicetree blob [.dtb section]." placeholder:"FILE"`
	PCRPKey    string    `name:"pcrpkey" help:"Public key to embed for PCR policies [.pcrpkey section]." placeholder:"FILE"`
	SBAT       []string  `name:"sbat" help:"SBAT records [.sbat section], merged after the stub's and the kernel's; repeatable." sep:"none" placeholder:"TEXT|@FILE"`
	Section    []string  `help:"Extra section NAME:TEXT or NAME:@FILE; repeatable." sep:"none" placeholder:"NAME:TEXT|@FILE"`
	EFIArch    string    `name:"efi-arch" help:"Target EFI architecture (ia32, x64, arm, aa64, riscv32, riscv64, loongarch32, loongarch64); default: this machine's." placeholder:"ARCH"`
	Stub       string    `help:"systemd-stub to use; default /usr/lib/systemd/boot/efi/linux<arch>.efi.stub." placeholder:"FILE"`
	Output     string    `short:"o" help:"Output file; default <kernel name>.unsigned.efi in the current directory." placeholder:"FILE"`

	DevicetreeAuto []string  `name:"devicetree-auto" help:"Devicetree for automatic selection by hardware [.dtbauto section]; repeatable." sep:"none" placeholder:"FILE"`
	HWIDs          optString `name:"hwids" help:"Directory of device descriptions (JSON) [.hwids section]; default /usr/lib/systemd/boot/hwids/<arch> when it exists, '' to leave out." placeholder:"DIR"`
	EFIFW          []string  `name:"efifw" help:"Directory holding one firmware file, named by the firmware ID [.efifw section]; repeatable." sep:"none" placeholder:"DIR"`
	Profile        string    `help:"Profile (os-release style, with ID= and TITLE=) [.profile section]; without --join-profile this builds a profile PE." placeholder:"TEXT|@FILE"`
	JoinProfile    []string  `name:"join-profile" help:"A profile PE (built with --profile) to add as a further profile; repeatable." sep:"none" placeholder:"FILE"`
	SignProfile    []string  `name:"sign-profile" help:"Sign PCR policies only for the profiles with this ID; repeatable." sep:"none" placeholder:"ID"`

	PCRPrivateKey     []string `name:"pcr-private-key" help:"PCR signing key (RSA): a PEM file or a pkcs11: URI; repeatable, one per key group." sep:"none" placeholder:"PATH|URI"`
	PCRPublicKey      []string `name:"pcr-public-key" help:"Public key of the matching --pcr-private-key." sep:"none" placeholder:"PATH"`
	PCRCertificate    []string `name:"pcr-certificate" help:"Certificate of the matching --pcr-private-key." sep:"none" placeholder:"PATH"`
	Phases            []string `help:"Phase paths to sign for, for the matching --pcr-private-key (space or comma separated)." sep:"none" placeholder:"PHASE-PATH..."`
	PolicyRef         []string `name:"policyref" help:"Policy reference for the matching --pcr-private-key." sep:"none" placeholder:"STRING"`
	PCRBanks          string   `name:"pcr-banks" help:"PCR banks to sign for (space or comma separated); default all four." placeholder:"BANK..."`
	SignInitrdPCRs    bool     `name:"sign-initrd-pcrs" negatable:"" help:"Also sign (or, with --policy-digest, prepare) policies for enter-initrd with the policy reference 'initrd'."`
	PolicyDigest      bool     `name:"policy-digest" negatable:"" help:"Put unsigned policies for offline signing into .pcrsig (needs one --pcr-public-key or --pcr-certificate) and print them."`
	JoinPCRSig        string   `name:"join-pcrsig" help:"A UKI built with --policy-digest to put the --pcrsig signatures into." placeholder:"UKI"`
	PCRSig            string   `name:"pcrsig" help:"Signed policies (JSON) for --join-pcrsig." placeholder:"TEXT|@FILE"`
	ExistingSignature string   `name:"existing-signature" help:"With --join-pcrsig: what to do with a UKI already signed for Secure Boot, whose signatures joining invalidates: refuse (the default) or drop (the output is unsigned, or signed again with --secureboot-private-key)." placeholder:"refuse|drop"`
	Measure           bool     `negatable:"" help:"Print the expected PCR 11 values (systemd-measure calculate)."`

	SBKey               string   `name:"secureboot-private-key" help:"Secure Boot signing key: a PEM file or a pkcs11: URI. Signs the UKI (and the kernel, see --sign-kernel)." placeholder:"FILE|URI"`
	SBCert              string   `name:"secureboot-certificate" help:"Secure Boot signing certificate (PEM); default for a pkcs11: key: the token's certificate." placeholder:"FILE"`
	SignKernel          *bool    `name:"sign-kernel" negatable:"" help:"Sign the embedded kernel too (default: when it is not signed yet)."`
	SignatureProfile    string   `name:"signature-profile" enum:"default,sbsign,osslsigncode,systemd-sbsign" default:"default" help:"Authenticode attribute set: default (reproducible), sbsign, osslsigncode or systemd-sbsign; --signtool=systemd-sbsign selects systemd-sbsign unless another is named here."`
	SignatureHash       string   `name:"signature-hash" enum:"sha256,sha384,sha512" default:"sha256" help:"Authenticode digest: sha256, sha384 or sha512."`
	SBChain             []string `name:"secureboot-chain" help:"Intermediate certificates to embed in the signatures; repeatable." sep:"none" placeholder:"FILE"`
	PKCS11Module        string   `name:"pkcs11-module" help:"PKCS#11 module for a pkcs11: key without module-path (else $UKIBUILD_PKCS11_MODULE)." placeholder:"PATH"`
	Signtool            string   `name:"signtool" help:"For ukify compatibility: sbsign or systemd-sbsign (ukibuild signs in-process either way; systemd-sbsign selects its signature profile); pesign is not supported." placeholder:"TOOL"`
	SigningEngine       string   `name:"signing-engine" help:"Accepted for ukify compatibility: only 'pkcs11' (with a pkcs11: key URI)." placeholder:"ENGINE"`
	CertificateProvider string   `name:"certificate-provider" help:"With --signtool=systemd-sbsign (as ukify requires): 'pkcs11' reads --secureboot-certificate, a pkcs11: URI of the key's own certificate object, from the token. Other OpenSSL providers are not available: ukibuild loads no OpenSSL." placeholder:"PROVIDER"`
	SigningProvider     string   `name:"signing-provider" help:"Accepted for ukify compatibility: only 'pkcs11' (with a pkcs11: key URI)." placeholder:"PROVIDER"`
	SBCertName          string   `name:"secureboot-certificate-name" help:"pesign's NSS certificate nickname: not supported (give --secureboot-private-key and --secureboot-certificate)." placeholder:"NAME"`
	JSON                string   `name:"json" enum:"pretty,short,off" default:"off" help:"Output format of --measure: pretty, short or off."`
	JSONPretty          bool     `short:"j" name:"pretty-json" help:"Same as --json=pretty (ukify's -j)."`
}

// pcrKeyOptions are the PCR policy options; open opens each private key.
func (b *buildCmd) pcrKeyOptions(open func(string) (crypto.Signer, error)) uki.PCRKeyOptions {
	return uki.PCRKeyOptions{PrivateKeys: b.PCRPrivateKey, PublicKeys: b.PCRPublicKey, Certificates: b.PCRCertificate,
		Phases: b.Phases, PolicyRefs: b.PolicyRef, Banks: b.PCRBanks, SignInitrdPCRs: b.SignInitrdPCRs,
		PolicyDigest: b.PolicyDigest, Open: open}
}

func (b *buildCmd) Run(e *env) error {
	if b.PCRSig != "" || b.JoinPCRSig != "" {
		sb, closeSigner, err := b.secureBoot(e)
		if err != nil {
			return err
		}
		defer closeSigner()
		return b.joinPCRSig(sb)
	}
	if b.ExistingSignature != "" {
		return fmt.Errorf("--existing-signature is for --join-pcrsig")
	}
	cfg := uki.Config{Linux: b.Linux, EFIArch: b.EFIArch, Warnf: e.warnf}
	arch := b.EFIArch
	if arch == "" {
		var err error
		if arch, err = uki.GuessEFIArch(); err != nil {
			return err
		}
	} else if !slices.Contains(uki.EFIArches, arch) {
		return fmt.Errorf("--efi-arch: unknown architecture %q (want one of %v)", arch, uki.EFIArches)
	}
	cfg.Stub = b.Stub
	if cfg.Stub == "" {
		cfg.Stub = uki.DefaultStubPath(arch, b.Linux == "")
	}

	var err error
	file := func(flag, path string) uki.Content {
		if err != nil || path == "" {
			return nil
		}
		var c uki.Content
		if c, err = uki.File(path); err != nil {
			err = fmt.Errorf("--%s: %w", flag, err)
		}
		return c
	}
	text := func(flag, arg string, collapse bool) uki.Content {
		if err != nil {
			return nil
		}
		var c uki.Content
		if c, err = uki.TextOrFile("--"+flag, arg, collapse); err != nil {
			err = fmt.Errorf("--%s: %w", flag, err)
		}
		return c
	}
	for _, p := range b.Initrd {
		if c := file("initrd", p); c != nil {
			cfg.Initrds = append(cfg.Initrds, c)
		}
	}
	cfg.Microcode = file("microcode", b.Microcode)
	cfg.Splash = file("splash", b.Splash)
	cfg.Devicetree = file("devicetree", b.Devicetree)
	cfg.PCRPKey = file("pcrpkey", b.PCRPKey)
	cfg.Cmdline = text("cmdline", b.Cmdline, true)
	switch {
	case b.OSRelease.Set:
		cfg.OSRelease = text("os-release", b.OSRelease.Value, false)
	case b.Linux != "":
		cfg.OSRelease = file("os-release", uki.DefaultOSRelease())
	}
	if b.Uname.Set {
		cfg.Uname = &b.Uname.Value
	}
	for _, s := range b.SBAT {
		if s == "" {
			return fmt.Errorf("--sbat: empty SBAT text")
		}
		if c := text("sbat", s, false); c != nil {
			cfg.SBAT = append(cfg.SBAT, c)
		}
	}
	if err == nil {
		err = b.profileOptions(&cfg, arch, e)
	}
	for _, s := range b.Section {
		sec, serr := uki.SectionArg("--section", s)
		if errors.Is(serr, uki.ErrSectionArg) {
			return serr
		} else if serr != nil && err == nil {
			err = serr // SectionArg names the option
		}
		cfg.Sections = append(cfg.Sections, sec)
	}
	if err != nil {
		return err
	}
	// Token keys opened for the policies are released when done.
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	if err := b.pcrKeyOptions(func(path string) (crypto.Signer, error) {
		s, c, err := openKey(path, b.PKCS11Module)
		if err == nil {
			closers = append(closers, c)
		}
		return s, err
	}).Apply(&cfg); err != nil {
		return err
	}

	sb, closeSigner, err := b.secureBoot(e)
	if err != nil {
		return err
	}
	defer closeSigner()
	cfg.SecureBoot = sb

	out := b.Output
	if out == "" {
		if b.Linux == "" {
			return fmt.Errorf("--output must be given when building a PE add-on (no --linux)")
		}
		out = filepath.Base(b.Linux) + ".unsigned.efi"
	}
	plan, err := uki.Prepare(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer plan.Close()
	if b.Measure {
		if err := b.printMeasure(e, plan, cfg.PCRBanks); err != nil {
			return err
		}
	}
	if plan.KernelSigned {
		fmt.Fprintf(e.stderr, "Signed the kernel %s before embedding it\n", b.Linux)
	}
	if err := plan.WriteFile(context.Background(), out); err != nil {
		return err
	}
	if sb != nil {
		fmt.Fprintf(e.stderr, "Wrote signed %s\n", out)
	} else {
		fmt.Fprintf(e.stderr, "Wrote unsigned %s\n", out)
	}
	if plan.PolicyDigest != nil {
		fmt.Fprintf(e.stdout, "%s\n", plan.PolicyDigest)
	}
	return nil
}

// secureBoot checks the Secure Boot options as ukify does and loads the key;
// nil when no signing was asked for. closeFn releases a token key.
func (b *buildCmd) secureBoot(e *env) (sb *uki.SecureBoot, closeFn func(), err error) {
	plan, err := uki.SecureBootOptions{Key: b.SBKey, Certificate: b.SBCert, CertificateName: b.SBCertName, Signtool: b.Signtool,
		SigningEngine: b.SigningEngine, SigningProvider: b.SigningProvider, CertificateProvider: b.CertificateProvider,
		SignatureProfile: b.SignatureProfile, SignKernel: b.SignKernel, PCRPrivateKeys: b.PCRPrivateKey,
		CheckCertificateURI: pkcs11.CheckCertificateURI}.Check()
	if err != nil || plan == nil {
		return nil, func() {}, err
	}
	k, err := loadSigner(e, b.SBKey, plan.Certificate, b.PKCS11Module)
	if err != nil {
		return nil, nil, fmt.Errorf("--secureboot-private-key: %w", err)
	}
	opts, err := signOptions(k.Certificate, b.SBChain, b.SignatureHash, plan.Profile)
	if err != nil {
		k.Close()
		return nil, nil, err
	}
	return &uki.SecureBoot{Signer: k.Signer, Options: opts, SignKernel: b.SignKernel}, k.Close, nil
}

// printMeasure prints what ukify's --measure prints (uki.Plan.WriteMeasure)
// for the phases of all key groups together.
func (b *buildCmd) printMeasure(e *env, plan *uki.Plan, banks []pcr.Bank) error {
	phases := b.pcrKeyOptions(nil).PhasePaths()
	mode := map[string]pcr.MeasureJSON{"off": pcr.MeasureJSONOff, "short": pcr.MeasureJSONShort, "pretty": pcr.MeasureJSONPretty}[b.JSON]
	if b.JSONPretty {
		mode = pcr.MeasureJSONPretty
	}
	return plan.WriteMeasure(context.Background(), e.stdout, e.stderr, banks, phases, mode)
}

// joinPCRSig is ukify's --join-pcrsig=UKI --pcrsig=JSON: no other input.
func (b *buildCmd) joinPCRSig(sb *uki.SecureBoot) error {
	switch {
	case b.JoinPCRSig == "":
		return fmt.Errorf("--pcrsig requires --join-pcrsig")
	case b.PCRSig == "":
		return fmt.Errorf("--join-pcrsig requires --pcrsig")
	case b.Linux != "" || len(b.Initrd) > 0 || b.Microcode != "" || len(b.SBAT) > 0 || b.Uname.Set || b.OSRelease.Set ||
		b.Cmdline != "" || b.Splash != "" || b.Devicetree != "" || len(b.PCRPrivateKey) > 0 || len(b.PCRPublicKey) > 0 ||
		len(b.PCRCertificate) > 0 || b.Profile != "" || len(b.JoinProfile) > 0 || b.HWIDs.Value != "" || len(b.DevicetreeAuto) > 0:
		return fmt.Errorf("--pcrsig and --join-pcrsig cannot be used with other sections")
	case b.Output == "":
		return fmt.Errorf("--output must be given with --join-pcrsig")
	}
	text, what := []byte(b.PCRSig), "--pcrsig"
	if p, ok := strings.CutPrefix(b.PCRSig, "@"); ok {
		var err error
		if text, err = os.ReadFile(p); err != nil {
			return fmt.Errorf("--pcrsig: %w", err)
		}
		what = "--pcrsig " + p
	}
	if _, err := pyjson.UnmarshalObject(text); err != nil {
		return fmt.Errorf("%s: not a JSON object: %w", what, err)
	}
	opts := uki.JoinOptions{SecureBoot: sb}
	switch b.ExistingSignature {
	case "", "refuse":
	case "drop":
		opts.Existing = uki.DropSignature
	default:
		return fmt.Errorf("--existing-signature: %q: want refuse or drop", b.ExistingSignature)
	}
	err := uki.JoinPCRSig(context.Background(), b.JoinPCRSig, text, b.Output, opts)
	var se *uki.SignedError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: give --existing-signature=drop (with --secureboot-private-key and --secureboot-certificate to sign it again)", err)
	}
	return err
}
