package uki

// ukify 262's PCR policy options as files and names, with its checks and
// defaults (ukify.py: the key group checks of finalize_options, the extra
// enter-initrd group of --sign-initrd-pcrs, the .pcrpkey it embeds), so
// that a Go program given ukify's options builds what ukify builds.

import (
	"crypto"
	"fmt"
	"slices"
	"strings"

	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
	"github.com/ukibuild/ukibuild/sign"
)

// OptionError is a ukify option, or a combination of them, that ukify
// refuses, or a file an option names that cannot be used. Option is the
// option as on ukify's command line ("--pcr-public-key").
type OptionError struct {
	Option string
	// Msg is the whole message of a refused combination (Err is nil).
	Msg string
	// Err is why the option's file cannot be used.
	Err error
}

func (e *OptionError) Error() string {
	if e.Err != nil {
		return e.Option + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *OptionError) Unwrap() error { return e.Err }

func refuse(option, format string, args ...any) error {
	return &OptionError{Option: option, Msg: fmt.Sprintf(format, args...)}
}

// PCRKeyOptions are ukify's options for signed PCR policies. Each entry of
// PrivateKeys is one key group; the other lists, when given, have one
// entry per group ("" for a group that does not set it, as a group of a
// configuration file's [PCRSignature:NAME] section may not).
type PCRKeyOptions struct {
	PrivateKeys  []string // --pcr-private-key, opened by Open
	PublicKeys   []string // --pcr-public-key (PEM files)
	Certificates []string // --pcr-certificate (PEM files)
	Phases       []string // --phases: each a list of phase paths (space or comma separated)
	PolicyRefs   []string // --policyref
	// Banks is --pcr-banks (space or comma separated); "" for all four.
	Banks string
	// SignInitrdPCRs (--sign-initrd-pcrs) adds a key group, the first
	// one's key, for enter-initrd with the policy reference "initrd"
	// (with PolicyDigest: its unsigned policies).
	SignInitrdPCRs bool
	// PolicyDigest (--policy-digest) puts unsigned policies for the one
	// PublicKeys or Certificates key into .pcrsig.
	PolicyDigest bool
	// Open opens a private key: a PEM file or whatever else the caller
	// supports (ukibuild: pkcs11: URIs).
	Open func(name string) (crypto.Signer, error)
}

// Apply sets cfg's PCRKeys, PCRBanks (when Banks names any), PolicyDigestKey and
// PolicyDigestInitrd from the options, and cfg.PCRPKey, when it is nil, to
// the public key ukify embeds: with PolicyDigest, the PublicKeys file as it
// is or the certificate's key; else the key of a single key group when
// SignInitrdPCRs adds its extra group. Refusals are *OptionError values.
func (o PCRKeyOptions) Apply(cfg *Config) error {
	groups, err := o.groups()
	if err != nil {
		return err
	}
	cfg.PCRKeys = groups
	if o.PolicyDigest {
		if cfg.PolicyDigestKey, err = o.policyDigestKey(); err != nil {
			return err
		}
		cfg.PolicyDigestInitrd = o.SignInitrdPCRs
		if cfg.PCRPKey == nil {
			if len(o.PublicKeys) == 1 {
				if cfg.PCRPKey, err = File(o.PublicKeys[0]); err != nil {
					return &OptionError{Option: "--pcr-public-key", Err: err}
				}
			} else {
				pemKey, err := pcrsig.PublicKeyPEM(cfg.PolicyDigestKey)
				if err != nil {
					return err
				}
				cfg.PCRPKey = Bytes("PCR public key", pemKey)
			}
		}
	} else if o.SignInitrdPCRs {
		if len(cfg.PCRKeys) == 0 {
			return refuse("--sign-initrd-pcrs", "--sign-initrd-pcrs requires --pcr-private-key or --policy-digest")
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
	var banks []pcr.Bank
	for _, name := range SplitList(o.Banks) {
		bank, err := pcr.ParseBank(name)
		if err != nil {
			return &OptionError{Option: "--pcr-banks", Err: err}
		}
		banks = append(banks, bank)
	}
	if banks != nil {
		cfg.PCRBanks = banks
	}
	return nil
}

// PhasePaths are the phase paths of all key groups together (ukify's
// --measure prints the PCR values of these).
func (o PCRKeyOptions) PhasePaths() []string {
	var phases []string
	for _, g := range o.Phases {
		phases = append(phases, SplitList(g)...)
	}
	return phases
}

// groups builds the key groups, with ukify's consistency checks.
func (o PCRKeyOptions) groups() ([]PCRKey, error) {
	n := len(o.PrivateKeys)
	switch {
	case len(o.PublicKeys) > 0 && len(o.Certificates) > 0:
		return nil, refuse("--pcr-public-key", "--pcr-public-key and --pcr-certificate cannot be used at the same time")
	case n > 0 && len(o.PublicKeys) > 0 && len(o.PublicKeys) != n:
		return nil, refuse("--pcr-public-key", "--pcr-public-key specifications must match --pcr-private-key")
	case n > 0 && len(o.Certificates) > 0 && len(o.Certificates) != n:
		return nil, refuse("--pcr-certificate", "--pcr-certificate specifications must match --pcr-private-key")
	case len(o.Phases) > 0 && len(o.Phases) != n:
		return nil, refuse("--phases", "--phases specifications must match --pcr-private-key")
	case len(o.PolicyRefs) > 0 && len(o.PolicyRefs) != n:
		return nil, refuse("--policyref", "--policyref specifications must match --pcr-private-key")
	}
	var groups []PCRKey
	for i, path := range o.PrivateKeys {
		var g PCRKey
		var err error
		open := o.Open
		if open == nil {
			open = func(path string) (crypto.Signer, error) { return keys.PrivateKey(path, nil) }
		}
		if g.Signer, err = open(path); err != nil {
			return nil, &OptionError{Option: "--pcr-private-key", Err: err}
		}
		if len(o.PublicKeys) > 0 && o.PublicKeys[i] != "" {
			if g.PublicKey, err = keys.PublicKey(o.PublicKeys[i]); err != nil {
				return nil, &OptionError{Option: "--pcr-public-key", Err: err}
			}
			if g.PublicKeyFile, err = File(o.PublicKeys[i]); err != nil {
				return nil, &OptionError{Option: "--pcr-public-key", Err: err}
			}
		}
		if len(o.Certificates) > 0 && o.Certificates[i] != "" {
			cert, err := keys.Certificate(o.Certificates[i])
			if err != nil {
				return nil, &OptionError{Option: "--pcr-certificate", Err: err}
			}
			g.PublicKey = cert.PublicKey
		}
		if len(o.Phases) > 0 {
			g.Phases = SplitList(o.Phases[i])
			if err := CheckPhasePaths(g.Phases); err != nil {
				return nil, &OptionError{Option: "--phases", Err: err}
			}
		}
		if len(o.PolicyRefs) > 0 {
			g.PolicyRef = o.PolicyRefs[i]
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// policyDigestKey is the one public key PolicyDigest needs.
func (o PCRKeyOptions) policyDigestKey() (crypto.PublicKey, error) {
	switch {
	case len(o.PrivateKeys) > 0:
		return nil, refuse("--pcr-private-key", "--pcr-private-key cannot be specified with --policy-digest")
	case len(o.PublicKeys) == 1 && len(o.Certificates) == 0:
		return keys.PublicKey(o.PublicKeys[0])
	case len(o.Certificates) == 1 && len(o.PublicKeys) == 0:
		cert, err := keys.Certificate(o.Certificates[0])
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, refuse("--policy-digest", "--policy-digest requires exactly one --pcr-public-key or --pcr-certificate")
}

// SecureBootOptions are ukify's options for Secure Boot signing, as names.
// ukibuild signs in-process: of ukify's signing tools it takes sbsign's and
// systemd-sbsign's options, and of OpenSSL's engines and providers only
// "pkcs11" with pkcs11: URIs.
type SecureBootOptions struct {
	Key                 string // --secureboot-private-key: a PEM file or a pkcs11: URI
	Certificate         string // --secureboot-certificate: a PEM file, or a pkcs11: URI with CertificateProvider
	CertificateName     string // --secureboot-certificate-name (pesign's; refused)
	Signtool            string // --signtool: "", sbsign or systemd-sbsign (pesign is refused)
	SigningEngine       string // --signing-engine: "" or pkcs11
	SigningProvider     string // --signing-provider: "" or pkcs11
	CertificateProvider string // --certificate-provider: "" or pkcs11 (with systemd-sbsign)
	// SignatureProfile is --signature-profile ("" or "default": the
	// reproducible one, or systemd-sbsign's with Signtool systemd-sbsign).
	SignatureProfile string
	SignKernel       *bool    // --sign-kernel
	PCRPrivateKeys   []string // --pcr-private-key (ukify hands the engine to both)
	// CheckCertificateURI, when set, checks that a certificate URI names
	// the key's own certificate (sign/pkcs11.CheckCertificateURI).
	CheckCertificateURI func(keyURI, certURI string) error
}

// SecureBootPlan is what to load for signing.
type SecureBootPlan struct {
	// Certificate is the certificate file; "" for the key's certificate
	// on its token.
	Certificate string
	// Profile is the signature profile's name (sign.ParseProfile).
	Profile string
}

// Check applies ukify's rules to the options: nil (and no error) when no
// signing is asked for; refusals are *OptionError values.
func (o SecureBootOptions) Check() (*SecureBootPlan, error) {
	pkcs11Key := strings.HasPrefix(o.Key, "pkcs11:")
	switch {
	case o.CertificateName != "":
		return nil, refuse("--secureboot-certificate-name", "--secureboot-certificate-name: pesign's NSS databases are not supported; give --secureboot-private-key and --secureboot-certificate (a PEM file or a pkcs11: URI)")
	case o.Signtool == "pesign":
		return nil, refuse("--signtool", "--signtool=pesign is not supported: ukibuild signs in-process like sbsign; give --secureboot-private-key and --secureboot-certificate")
	case o.Signtool != "" && o.Signtool != "sbsign" && o.Signtool != "systemd-sbsign":
		return nil, refuse("--signtool", "--signtool: unknown signing tool %q (ukify knows sbsign, pesign, systemd-sbsign)", o.Signtool)
	case o.SigningEngine != "" && o.SigningProvider != "":
		return nil, refuse("--signing-engine", "only one of --signing-engine and --signing-provider may be given")
	case o.Certificate != "" && o.Key == "":
		return nil, refuse("--secureboot-certificate", "--secureboot-private-key and --secureboot-certificate must be given together")
	case o.Key != "" && o.Certificate == "" && !pkcs11Key:
		return nil, refuse("--secureboot-certificate", "--secureboot-private-key and --secureboot-certificate must be given together (only a pkcs11: key may take its certificate from the token)")
	case o.SignKernel != nil && *o.SignKernel && o.Key == "":
		return nil, refuse("--sign-kernel", "--sign-kernel requires --secureboot-private-key and --secureboot-certificate")
	}
	certPath := o.Certificate
	if o.CertificateProvider != "" {
		switch {
		case o.Signtool != "systemd-sbsign":
			return nil, refuse("--certificate-provider", "--certificate-provider= can only be used with --signtool=systemd-sbsign")
		case o.CertificateProvider != "pkcs11":
			return nil, refuse("--certificate-provider", "--certificate-provider=%s: OpenSSL providers are not available (ukibuild signs in-process with Go's crypto and reaches tokens through PKCS #11 itself); only 'pkcs11' maps onto that, with --secureboot-certificate a pkcs11: URI", o.CertificateProvider)
		case !pkcs11Key || !strings.HasPrefix(o.Certificate, "pkcs11:"):
			return nil, refuse("--certificate-provider", "--certificate-provider=pkcs11 needs --secureboot-private-key and --secureboot-certificate as pkcs11: URIs")
		}
		if o.CheckCertificateURI != nil {
			if err := o.CheckCertificateURI(o.Key, o.Certificate); err != nil {
				return nil, &OptionError{Option: "--certificate-provider=pkcs11", Err: err}
			}
		}
		certPath = "" // the key's certificate, read from the token
	}
	for _, e := range []struct{ option, value string }{{"--signing-engine", o.SigningEngine}, {"--signing-provider", o.SigningProvider}} {
		switch {
		case e.value == "":
		case e.value != "pkcs11":
			return nil, refuse(e.option, "%s=%s: OpenSSL engines and providers are not used; ukibuild takes PEM files and pkcs11: URIs (with %s=pkcs11)", e.option, e.value, e.option)
		case !pkcs11Key && !slices.ContainsFunc(o.PCRPrivateKeys, func(k string) bool { return strings.HasPrefix(k, "pkcs11:") }):
			// ukify passes the engine or provider to sbsign and to
			// systemd-measure alike.
			return nil, refuse(e.option, "%s=pkcs11 needs a pkcs11: URI in --secureboot-private-key or --pcr-private-key", e.option)
		}
	}
	if o.Key == "" {
		return nil, nil
	}
	profile := o.SignatureProfile
	if profile == "" {
		profile = "default"
	}
	if o.Signtool == "systemd-sbsign" && profile == "default" {
		// What ukify's --signtool=systemd-sbsign writes.
		profile = sign.ProfileSystemdSbsign.String()
	}
	return &SecureBootPlan{Certificate: certPath, Profile: profile}, nil
}
