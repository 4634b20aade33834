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
	"unicode"

	"github.com/alecthomas/kong"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
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

// knownPhases are the boot phases ukify accepts (ukify.py, KNOWN_PHASES).
var knownPhases = []string{"enter-initrd", "leave-initrd", "sysinit", "ready", "shutdown", "final"}

// splitList splits like ukify's parse_banks/parse_phase_paths: on commas or
// whitespace, with one trailing comma allowed.
func splitList(s string) []string {
	s = strings.TrimSuffix(strings.TrimSpace(s), ",")
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// pcrKeys builds the PCR key groups from the ukify options, with ukify's
// consistency checks. closeFn releases the token keys among them.
func (b *buildCmd) pcrKeys() (groups []uki.PCRKey, closeFn func(), err error) {
	var closers []func()
	closeFn = func() {
		for _, c := range closers {
			c()
		}
	}
	groups, err = b.pcrKeyGroups(func(path string) (crypto.Signer, error) {
		s, c, err := openKey(path, b.PKCS11Module)
		if err == nil {
			closers = append(closers, c)
		}
		return s, err
	})
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return groups, closeFn, nil
}

// pcrKeyGroups is pcrKeys with open opening each private key.
func (b *buildCmd) pcrKeyGroups(open func(string) (crypto.Signer, error)) ([]uki.PCRKey, error) {
	n := len(b.PCRPrivateKey)
	switch {
	case len(b.PCRPublicKey) > 0 && len(b.PCRCertificate) > 0:
		return nil, fmt.Errorf("--pcr-public-key and --pcr-certificate cannot be used at the same time")
	case n > 0 && len(b.PCRPublicKey) > 0 && len(b.PCRPublicKey) != n:
		return nil, fmt.Errorf("--pcr-public-key specifications must match --pcr-private-key")
	case n > 0 && len(b.PCRCertificate) > 0 && len(b.PCRCertificate) != n:
		return nil, fmt.Errorf("--pcr-certificate specifications must match --pcr-private-key")
	case len(b.Phases) > 0 && len(b.Phases) != n:
		return nil, fmt.Errorf("--phases specifications must match --pcr-private-key")
	case len(b.PolicyRef) > 0 && len(b.PolicyRef) != n:
		return nil, fmt.Errorf("--policyref specifications must match --pcr-private-key")
	}
	var groups []uki.PCRKey
	for i, path := range b.PCRPrivateKey {
		var g uki.PCRKey
		var err error
		if g.Signer, err = open(path); err != nil {
			return nil, fmt.Errorf("--pcr-private-key: %w", err)
		}
		// An empty entry is a key group of a configuration file that
		// does not set this key (see config.go).
		if len(b.PCRPublicKey) > 0 && b.PCRPublicKey[i] != "" {
			if g.PublicKey, err = keys.PublicKey(b.PCRPublicKey[i]); err != nil {
				return nil, fmt.Errorf("--pcr-public-key: %w", err)
			}
			if g.PublicKeyFile, err = uki.File(b.PCRPublicKey[i]); err != nil {
				return nil, fmt.Errorf("--pcr-public-key: %w", err)
			}
		}
		if len(b.PCRCertificate) > 0 && b.PCRCertificate[i] != "" {
			cert, err := keys.Certificate(b.PCRCertificate[i])
			if err != nil {
				return nil, fmt.Errorf("--pcr-certificate: %w", err)
			}
			g.PublicKey = cert.PublicKey
		}
		if len(b.Phases) > 0 {
			g.Phases = splitList(b.Phases[i])
			for _, path := range g.Phases {
				for _, w := range strings.Split(path, ":") {
					if !slices.Contains(knownPhases, w) {
						return nil, fmt.Errorf("--phases: unknown boot phase %q in %q (known: %s)", w, path, strings.Join(knownPhases, ", "))
					}
				}
			}
		}
		if len(b.PolicyRef) > 0 {
			g.PolicyRef = b.PolicyRef[i]
		}
		groups = append(groups, g)
	}
	return groups, nil
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
		name, val, ok := cutSection(s)
		if !ok {
			return fmt.Errorf("--section: cannot parse %q: want NAME:TEXT or NAME:@FILE", s)
		}
		c := text("section", val, false)
		if err == nil && c == nil {
			c = uki.Text("--section "+name, "")
		}
		cfg.Sections = append(cfg.Sections, uki.Section{Name: name, Content: c})
	}
	if err != nil {
		return err
	}
	var closePCRKeys func()
	if cfg.PCRKeys, closePCRKeys, err = b.pcrKeys(); err != nil {
		return err
	}
	defer closePCRKeys()
	if b.PolicyDigest {
		if cfg.PolicyDigestKey, err = b.policyDigestKey(); err != nil {
			return err
		}
		cfg.PolicyDigestInitrd = b.SignInitrdPCRs
		// ukify embeds the single public key as .pcrpkey: the
		// --pcr-public-key file as it is, or the certificate's key.
		if cfg.PCRPKey == nil {
			if len(b.PCRPublicKey) == 1 {
				cfg.PCRPKey = file("pcr-public-key", b.PCRPublicKey[0])
			} else {
				pemKey, perr := pcr.PublicKeyPEM(cfg.PolicyDigestKey)
				if perr != nil {
					return perr
				}
				cfg.PCRPKey = uki.Bytes("PCR public key", pemKey)
			}
			if err != nil {
				return err
			}
		}
	} else if b.SignInitrdPCRs {
		if len(cfg.PCRKeys) == 0 {
			return fmt.Errorf("--sign-initrd-pcrs requires --pcr-private-key or --policy-digest")
		}
		// ukify embeds the key of a single key group as .pcrpkey,
		// not counting the extra group it adds for enter-initrd only.
		if cfg.PCRPKey == nil && len(cfg.PCRKeys) == 1 {
			if cfg.PCRPKey, err = cfg.PCRKeys[0].PublicKeyContent(); err != nil {
				return err
			}
		}
		extra := cfg.PCRKeys[0]
		extra.Phases, extra.PolicyRef = []string{"enter-initrd"}, "initrd"
		cfg.PCRKeys = append(cfg.PCRKeys, extra)
	}
	for _, name := range splitList(b.PCRBanks) {
		bank, err := pcr.ParseBank(name)
		if err != nil {
			return fmt.Errorf("--pcr-banks: %w", err)
		}
		cfg.PCRBanks = append(cfg.PCRBanks, bank)
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
	closeFn = func() {}
	pkcs11Key := strings.HasPrefix(b.SBKey, "pkcs11:")
	switch {
	case b.SBCertName != "":
		return nil, nil, fmt.Errorf("--secureboot-certificate-name: pesign's NSS databases are not supported; give --secureboot-private-key and --secureboot-certificate (a PEM file or a pkcs11: URI)")
	case b.Signtool == "pesign":
		return nil, nil, fmt.Errorf("--signtool=pesign is not supported: ukibuild signs in-process like sbsign; give --secureboot-private-key and --secureboot-certificate")
	case b.Signtool != "" && b.Signtool != "sbsign" && b.Signtool != "systemd-sbsign":
		return nil, nil, fmt.Errorf("--signtool: unknown signing tool %q (ukify knows sbsign, pesign, systemd-sbsign)", b.Signtool)
	case b.SigningEngine != "" && b.SigningProvider != "":
		return nil, nil, fmt.Errorf("only one of --signing-engine and --signing-provider may be given")
	case b.SBCert != "" && b.SBKey == "":
		return nil, nil, fmt.Errorf("--secureboot-private-key and --secureboot-certificate must be given together")
	case b.SBKey != "" && b.SBCert == "" && !pkcs11Key:
		return nil, nil, fmt.Errorf("--secureboot-private-key and --secureboot-certificate must be given together (only a pkcs11: key may take its certificate from the token)")
	case b.SignKernel != nil && *b.SignKernel && b.SBKey == "":
		return nil, nil, fmt.Errorf("--sign-kernel requires --secureboot-private-key and --secureboot-certificate")
	}
	certPath := b.SBCert
	if b.CertificateProvider != "" {
		switch {
		case b.Signtool != "systemd-sbsign":
			return nil, nil, fmt.Errorf("--certificate-provider= can only be used with --signtool=systemd-sbsign")
		case b.CertificateProvider != "pkcs11":
			return nil, nil, fmt.Errorf("--certificate-provider=%s: OpenSSL providers are not available (ukibuild signs in-process with Go's crypto and reaches tokens through PKCS #11 itself); only 'pkcs11' maps onto that, with --secureboot-certificate a pkcs11: URI", b.CertificateProvider)
		case !pkcs11Key || !strings.HasPrefix(b.SBCert, "pkcs11:"):
			return nil, nil, fmt.Errorf("--certificate-provider=pkcs11 needs --secureboot-private-key and --secureboot-certificate as pkcs11: URIs")
		}
		if err := sameTokenObject(b.SBKey, b.SBCert); err != nil {
			return nil, nil, fmt.Errorf("--certificate-provider=pkcs11: %w", err)
		}
		certPath = "" // the key's certificate, read from the token
	}
	for _, o := range []struct{ flag, value string }{{"signing-engine", b.SigningEngine}, {"signing-provider", b.SigningProvider}} {
		switch {
		case o.value == "":
		case o.value != "pkcs11":
			return nil, nil, fmt.Errorf("--%s=%s: OpenSSL engines and providers are not used; ukibuild takes PEM files and pkcs11: URIs (with --%s=pkcs11)", o.flag, o.value, o.flag)
		case !pkcs11Key && !slices.ContainsFunc(b.PCRPrivateKey, func(k string) bool { return strings.HasPrefix(k, "pkcs11:") }):
			// ukify passes the engine or provider to sbsign and to
			// systemd-measure alike.
			return nil, nil, fmt.Errorf("--%s=pkcs11 needs a pkcs11: URI in --secureboot-private-key or --pcr-private-key", o.flag)
		}
	}
	if b.SBKey == "" {
		return nil, closeFn, nil
	}
	signer, cert, closeFn, err := loadSigner(e, b.SBKey, certPath, b.PKCS11Module)
	if err != nil {
		return nil, nil, fmt.Errorf("--secureboot-private-key: %w", err)
	}
	profile := b.SignatureProfile
	if b.Signtool == "systemd-sbsign" && profile == "default" {
		// What ukify's --signtool=systemd-sbsign writes.
		profile = sign.ProfileSystemdSbsign.String()
	}
	opts, err := signOptions(cert, b.SBChain, b.SignatureHash, profile)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return &uki.SecureBoot{Signer: signer, Options: opts, SignKernel: b.SignKernel}, closeFn, nil
}

// printMeasure prints what ukify's --measure prints: for each PCR variant
// (profile, .dtbauto and .efifw), systemd-measure calculate for the phases of all
// key groups together, plus a newline.
func (b *buildCmd) printMeasure(e *env, plan *uki.Plan, banks []pcr.Bank) error {
	var phases []string
	for _, g := range b.Phases {
		phases = append(phases, splitList(g)...)
	}
	mode := map[string]pcr.MeasureJSON{"off": pcr.MeasureJSONOff, "short": pcr.MeasureJSONShort, "pretty": pcr.MeasureJSONPretty}[b.JSON]
	if b.JSONPretty {
		mode = pcr.MeasureJSONPretty
	}
	for _, v := range plan.Variants {
		preds, err := plan.PredictVariant(context.Background(), v, banks, phases)
		if err != nil {
			return err
		}
		if err := pcr.FormatCalculate(e.stdout, e.stderr, preds, mode); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(e.stdout); err != nil {
			return err
		}
	}
	return nil
}

// policyDigestKey is the one public key --policy-digest needs.
func (b *buildCmd) policyDigestKey() (crypto.PublicKey, error) {
	switch {
	case len(b.PCRPrivateKey) > 0:
		return nil, fmt.Errorf("--pcr-private-key cannot be specified with --policy-digest")
	case len(b.PCRPublicKey) == 1 && len(b.PCRCertificate) == 0:
		return keys.PublicKey(b.PCRPublicKey[0])
	case len(b.PCRCertificate) == 1 && len(b.PCRPublicKey) == 0:
		cert, err := keys.Certificate(b.PCRCertificate[0])
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("--policy-digest requires exactly one --pcr-public-key or --pcr-certificate")
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
	err := uki.JoinPCRSig(b.JoinPCRSig, text, b.Output, opts)
	var se *uki.SignedError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: give --existing-signature=drop (with --secureboot-private-key and --secureboot-certificate to sign it again)", err)
	}
	return err
}

// cutSection splits ukify's NAME:CONTENT: exactly one colon.
func cutSection(s string) (name, content string, ok bool) {
	name, content, ok = strings.Cut(s, ":")
	if !ok || name == "" {
		return "", "", false
	}
	if _, _, more := strings.Cut(content, ":"); more {
		return "", "", false
	}
	return name, content, true
}

// sameTokenObject checks that the certificate URI names the key's own
// certificate: the same token attributes, and the key's id or object
// label. Only that certificate is read from a token (pkcs11.Key.Certificate).
func sameTokenObject(keyURI, certURI string) error {
	k, err := pkcs11.ParseURI(keyURI)
	if err != nil {
		return err
	}
	c, err := pkcs11.ParseURI(certURI)
	if err != nil {
		return err
	}
	if t, ok := c.Path("type"); ok && t != "cert" {
		return fmt.Errorf("the certificate URI %s has type=%s, not cert", c, t)
	}
	for _, a := range []string{"token", "manufacturer", "model", "serial"} {
		kv, _ := k.Path(a)
		cv, _ := c.Path(a)
		if kv != cv {
			return fmt.Errorf("the certificate URI %s names another token than the key's (%s %q, not %q)", c, a, cv, kv)
		}
	}
	matched := false
	for _, a := range []string{"id", "object"} {
		kv, kok := k.Path(a)
		cv, cok := c.Path(a)
		if cok && (!kok || kv != cv) {
			return fmt.Errorf("the certificate URI %s names another object than the key's (%s %q): only the key's own certificate is read from a token", c, a, cv)
		}
		matched = matched || cok
	}
	if !matched {
		return fmt.Errorf("the certificate URI %s names no object (give the key's id or object label)", c)
	}
	return nil
}
