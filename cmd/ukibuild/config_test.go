package main

// Configuration files: the same scenarios run through "ukify build --config
// X" (ukify 262.1) and "ukibuild build --config X"; the outputs must be the
// same bytes. Together the scenarios set every key of ukify 262 that
// ukibuild implements; the keys it does not (yet) are refused, which is
// tested too.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// configVars are the $NAMES a scenario's configuration may use.
type configVars map[string]string

func (v configVars) expand(s string) string {
	return os.Expand(s, func(k string) string {
		if val, ok := v[k]; ok {
			return val
		}
		return "$" + k
	})
}

func newConfigVars(t *testing.T, f *fixture) configVars {
	t.Helper()
	kdir := t.TempDir()
	k1, p1 := rsaKeyPEM(t, kdir, "k1")
	k2, p2 := rsaKeyPEM(t, kdir, "k2")
	if err := os.MkdirAll(filepath.Join(kdir, "fw", "test-fw"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(filepath.Join(kdir, "fw", "test-fw"), "firmware.bin", randomBytes(7, 3000))
	return configVars{
		"HW":        hwidsDir(t, kdir),
		"DTB2":      writeFile(kdir, "dtb2", append([]byte{0xd0, 0x0d, 0xfe, 0xed}, randomBytes(10, 500)...)),
		"FW":        filepath.Join(kdir, "fw", "test-fw"),
		"D":         f.dir,
		"KERNEL":    f.kernel,
		"STUB":      f.stubs["262"],
		"STUB_IA32": f.stubs["262_IA32"],
		"STUB_257":  f.stubs["257"],
		"ADDON":     f.tools.Path(t, "UKIBUILD_ADDON_STUB_262"),
		"K1":        k1, "P1": p1, "K2": k2, "P2": p2,
		"CERT1": selfSignedCert(t, kdir, k1),
	}
}

type configCase struct {
	name string
	conf string   // the configuration file ($NAMES expanded)
	args []string // command-line arguments for both ($NAMES expanded)
	// stdout: compare what both print (--measure, --policy-digest).
	stdout bool
	// fails: both must fail; ours must name the file and this line.
	fails int
}

// configCases cover every implemented key of [UKI] and [PCRSignature:NAME],
// the configparser rules and the precedence of the command line.
var configCases = []configCase{
	{name: "all-uki-keys", conf: `[UKI]
Linux = $KERNEL
Initrd = $D/initrd1 $D/initrd2
Microcode = $D/ucode
Splash = $D/splash.bmp
DeviceTree = $D/dtb
Cmdline = console=ttyS0   root=/dev/vda1 # an inline comment
  quiet
Uname = 6.1.0-config
OSRelease = @$D/os-release
PCRPKey = $D/pcrpkey.pem
SBAT = sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md
  conf,1,Config,conf,1,https://conf.example/
EFIArch = x64
Stub = $STUB
`},
	{name: "file-cmdline-text-osrel", conf: `[UKI]
Linux=$KERNEL
Cmdline=@$D/cmdline
OSRelease=ID=conf
  VERSION_ID=2
Stub=$STUB
`},
	{name: "empty-osrel-and-uname-leave-them-out", conf: "[UKI]\nLinux=$KERNEL\nOSRelease=\nUname=\nStub=$STUB\n"},
	{name: "command-line-wins-lists-prepend", conf: `[UKI]
Linux=$KERNEL
Cmdline=from the config
Initrd=$D/initrd1
  $D/initrd3
SBAT=@$D/sbat.csv
Uname=config-uname
OSRelease=ID=config
Stub=$STUB_257
`, args: []string{"--cmdline", "from the command line", "--initrd", "$D/initrd2", "--uname", "cli-uname",
		"--sbat", "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nbaz,3,Baz,baz,3,https://baz.example/",
		"--stub", "$STUB", "--os-release", ""}},
	{name: "configparser-dialect", conf: "# a comment\r\n[UKI]\r\n  Linux   =   $KERNEL   \r\n" +
		"Cmdline=a#b   # c\r\n\r\n[DEFAULT]\r\nSomething=else\r\n[UKI]\r\nUname=first\r\nUname=second\r\nStub=$STUB\r\n" +
		"NotAKey=1\r\nOSRelease=ID=x\r\n\t# comment ends a value\r\n\tnot=a continuation\r\n"},
	// Firmware without PCR keys: with them, the .pcrsig has the policies
	// for each .efifw too, which ukify's lacks (TestEFIFWMeasureAndUnseal).
	{name: "dtbauto-hwids-firmware", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\nCmdline=quiet\nOSRelease=ID=x\n" +
		"DeviceTreeAuto=$D/dtb $DTB2\nHWIDs=$HW\nFirmware=$FW\nPCRBanks=sha256\n"},
	{name: "dtbauto-hwids-keys", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\nCmdline=quiet\nOSRelease=ID=x\n" +
		"DeviceTreeAuto=$D/dtb $DTB2\nHWIDs=$HW\nPCRBanks=sha256\n[PCRSignature:one]\nPCRPrivateKey=$K1\n"},
	{name: "profile-key", conf: "[UKI]\nStub=$ADDON\nProfile=ID=factory\n  TITLE=Factory reset\nCmdline=quiet factory-reset\n"},
	{name: "ia32", conf: "[UKI]\nLinux=$KERNEL\nEFIArch=ia32\nStub=$STUB_IA32\nCmdline=quiet\n"},
	{name: "pcr-groups", conf: `[UKI]
Linux=$KERNEL
Initrd=$D/initrd1
Stub=$STUB
OSRelease=@$D/os-release
PCRBanks=sha256, sha1,
[PCRSignature:initrd]
PCRPrivateKey=$K1
PCRPublicKey=$P1
Phases=enter-initrd
PolicyRef=initrd
[PCRSignature:system]
PCRPrivateKey=$K2
PCRPublicKey=$P2
Phases=enter-initrd:leave-initrd enter-initrd:leave-initrd:sysinit,
  enter-initrd:leave-initrd:sysinit:ready
PolicyRef=system
`},
	{name: "pcr-groups-follow-command-line", conf: `[UKI]
Linux=$KERNEL
Stub=$STUB
PCRBanks=sha256
[PCRSignature:second]
Phases=enter-initrd:leave-initrd
PCRPrivateKey=$K2
`, args: []string{"--pcr-private-key", "$K1", "--phases", "enter-initrd"}},
	{name: "pcr-certificate-and-initrd-pcrs", conf: `[UKI]
Linux=$KERNEL
Stub=$STUB
PCRBanks=sha384
SignInitrdPCRs=yes
[PCRSignature:one]
PCRPrivateKey=$K1
PCRCertificate=$CERT1
`},
	{name: "measure", conf: `[UKI]
Linux=$KERNEL
Stub=$STUB
Cmdline=quiet
PCRBanks=sha1 sha256
[PCRSignature:a]
PCRPrivateKey=$K1
Phases=enter-initrd,enter-initrd:leave-initrd
`, args: []string{"--measure", "--json=short"}, stdout: true},
	{name: "measure-pretty-no-policy-digest", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\nPCRBanks=sha256\nSignInitrdPCRs=no\n",
		args: []string{"--measure", "-j", "--no-policy-digest", "--no-sign-initrd-pcrs", "--tools", "/nonexistent"}, stdout: true},
	{name: "sign-initrd-pcrs-false-and-signtool", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\nSignInitrdPCRs=off\nSignKernel=no\nSecureBootSigningTool=sbsign\n"},

	// Errors: both fail; ours names the file and the line.
	{name: "bad-boolean", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\nSignKernel=maybe\n", fails: 4},
	{name: "bad-phase", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\n[PCRSignature:a]\nPCRPrivateKey=$K1\nPhases=enter-initrd:boot\n", fails: 6},
	{name: "empty-phases", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\n[PCRSignature:a]\nPCRPrivateKey=$K1\nPhases=\n", fails: 6},
	{name: "empty-bank-entry", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\nPCRBanks=sha256,,sha1\n", fails: 4},
	{name: "empty-group-name", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\n[PCRSignature:]\nPCRPrivateKey=$K1\n", fails: 4},
	{name: "two-colons", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\n[PCRSignature:a:b]\nPCRPrivateKey=$K1\n", fails: 4},
	{name: "no-section-header", conf: "Linux=$KERNEL\n", fails: 1},
	{name: "not-key-value", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\njust words\n", fails: 4},
	{name: "phases-groups-mismatch", conf: "[UKI]\nLinux=$KERNEL\nStub=$STUB\n[PCRSignature:a]\nPhases=enter-initrd\n[PCRSignature:b]\nPCRPrivateKey=$K1\n"},
}

func TestConfigMatchesUkify(t *testing.T) {
	f := getFixture(t)
	tools := sidToolsDir(t, f)
	vars := newConfigVars(t, f)
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			conf := writeFile(dir, "test.conf", []byte(vars.expand(c.conf)))
			args := []string{"build", "--config", conf}
			for _, a := range c.args {
				args = append(args, vars.expand(a))
			}
			ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
			ucode, uout, uerr := runUkify(t, f.tools, dir, append(args, "--tools", tools, "--output", ref)...)
			ocode, oout, oerr := runOurs(append(args, "--output", ours)...)
			if c.fails > 0 || c.name == "phases-groups-mismatch" {
				if ucode == 0 {
					t.Errorf("ukify accepted the configuration: %s", uerr)
				}
				if ocode == 0 {
					t.Errorf("ukibuild accepted the configuration: %s", oerr)
				}
				if want := conf + ":" + strconv.Itoa(c.fails) + ":"; c.fails > 0 && !strings.Contains(oerr, want) {
					t.Errorf("ukibuild's error does not name %s: %s", want, oerr)
				}
				if _, err := os.Stat(ours); err == nil {
					t.Errorf("ukibuild wrote an output after failing")
				}
				return
			}
			if ucode != 0 {
				t.Fatalf("ukify failed: %s", uerr)
			}
			if ocode != 0 {
				t.Fatalf("ukibuild failed: %s", oerr)
			}
			compareFiles(t, ref, ours)
			if c.stdout && uout != oout {
				t.Errorf("stdout differs:\n--- ukify\n%s\n--- ukibuild\n%s", uout, oout)
			}
			// ukify's messages about the configuration, ours alike.
			for _, msg := range []string{"Using config file: " + conf, "Unknown config setting [DEFAULT] Something=", "Unknown config setting [UKI] NotAKey="} {
				if strings.Contains(uerr, msg) != strings.Contains(strings.ReplaceAll(oerr, "unknown config setting", "Unknown config setting"), strings.TrimPrefix(msg, "Using config file: ")) {
					t.Errorf("ukify says %q (%v), ukibuild: %s", msg, strings.Contains(uerr, msg), oerr)
				}
			}
		})
	}
}

// TestConfigOfflinePCRSigningMatchesUkify: --policy-digest with the public
// key from a [PCRSignature:NAME] group, then UKI/PCRSig joins the
// signatures made offline.
func TestConfigOfflinePCRSigningMatchesUkify(t *testing.T) {
	f := getFixture(t)
	tools := sidToolsDir(t, f)
	vars := newConfigVars(t, f)
	dir := t.TempDir()
	conf := writeFile(dir, "digest.conf", []byte(vars.expand("[UKI]\nLinux=$KERNEL\nStub=$STUB\nPCRBanks=sha256\nSignInitrdPCRs=true\n[PCRSignature:offline]\nPCRPublicKey=$P1\n")))
	ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
	ucode, uout, uerr := runUkify(t, f.tools, dir, "build", "--config", conf, "--policy-digest", "--tools", tools, "--output", ref)
	ocode, oout, oerr := runOurs("build", "--config", conf, "--policy-digest", "--output", ours)
	if ucode != 0 || ocode != 0 {
		t.Fatalf("ukify: %s\nukibuild: %s", uerr, oerr)
	}
	compareFiles(t, ref, ours)
	if uout != oout {
		t.Fatalf("--policy-digest output differs:\n--- ukify\n%s\n--- ukibuild\n%s", uout, oout)
	}
	var policies map[string][]map[string]any
	if err := json.Unmarshal([]byte(uout), &policies); err != nil {
		t.Fatal(err)
	}
	for _, list := range policies {
		for _, p := range list {
			tbs, err := hex.DecodeString(p["tbs"].(string))
			if err != nil {
				t.Fatal(err)
			}
			sig, err := exec.Command("openssl", "dgst", "-sha256", "-sign", vars["K1"], writeFile(dir, "tbs", tbs)).Output()
			if err != nil {
				t.Fatalf("openssl dgst -sign: %v", err)
			}
			p["sig"] = base64.StdEncoding.EncodeToString(sig)
		}
	}
	signed, _ := json.Marshal(policies)
	join := writeFile(dir, "join.conf", []byte("[UKI]\nPCRSig=@"+writeFile(dir, "signed.json", signed)+"\n"))
	refJoined, oursJoined := filepath.Join(dir, "ukify-joined.efi"), filepath.Join(dir, "ours-joined.efi")
	if code, _, e := runUkify(t, f.tools, dir, "build", "--config", join, "--join-pcrsig", ref, "--output", refJoined); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	if code, _, e := runOurs("build", "--config", join, "--join-pcrsig", ours, "--output", oursJoined); code != 0 {
		t.Fatalf("ukibuild: %s", e)
	}
	compareFiles(t, refJoined, oursJoined)
}

// TestConfigSecureBootMatchesUkify: the Secure Boot keys from the
// configuration; ukify runs sbsign under a frozen clock, ukibuild writes
// sbsign's attribute set with that time.
func TestConfigSecureBootMatchesUkify(t *testing.T) {
	f := getFixture(t)
	tools := sidToolsDir(t, f)
	vars := newConfigVars(t, f)
	kdir := t.TempDir()
	vars["SBKEY"], vars["SBCERT"] = selfSignedKeyCert(t, kdir, "db")
	t.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(fakeTime.Unix(), 10))
	for name, conf := range map[string]string{
		"sign-kernel": "[UKI]\nLinux=$KERNEL\nStub=$STUB\nSecureBootPrivateKey=$SBKEY\nSecureBootCertificate=$SBCERT\nSecureBootSigningTool=systemd-sbsign\nSignKernel=1\n" +
			"SecureBootCertificateDir=/etc/pki/pesign\n[PCRSignature:x]\nPCRPrivateKey=$K1\n",
		"no-sign-kernel": "[UKI]\nLinux=$KERNEL\nStub=$STUB\nSecureBootPrivateKey=$SBKEY\nSecureBootCertificate=$SBCERT\nSignKernel=false\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			confPath := writeFile(dir, "sb.conf", []byte(vars.expand(conf)))
			ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
			// ukify runs sbsign, which is what systemd-sbsign's name
			// stands for here: ukibuild signs in-process either way.
			runUkifyFrozen(t, f, dir, "build", "--config", confPath, "--signtool", "sbsign", "--tools", tools, "--output", ref)
			code, _, e := runOurs("build", "--config", confPath, "--signature-profile", "sbsign", "--output", ours)
			if code != 0 {
				t.Fatalf("ukibuild: %s", e)
			}
			compareFiles(t, ref, ours)
		})
	}
}

// TestConfigGenkeyMatchesUkify: genkey takes the key files, the common name
// and the validity from the configuration, as ukify's genkey does.
func TestConfigGenkeyMatchesUkify(t *testing.T) {
	f := getFixture(t)
	conf := `[UKI]
SecureBootPrivateKey=$OUT/sb.key
SecureBootCertificate=$OUT/sb.crt
SecureBootCertificateCommonName=Config Test CN
SecureBootCertificateValidity=42
[PCRSignature:b]
PCRPrivateKey=$OUT/pcr-b.key
[PCRSignature:a]
PCRPrivateKey=$OUT/pcr-a.key
PCRPublicKey=$OUT/pcr-a.pub
`
	certOf := func(who string) (*x509.Certificate, []string) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		confPath := writeFile(dir, "genkey.conf", []byte(configVars{"OUT": out}.expand(conf)))
		var code int
		var e string
		if who == "ukify" {
			code, _, e = runUkify(t, f.tools, dir, "genkey", "--config", confPath)
		} else {
			code, _, e = runOurs("genkey", "--config", confPath)
		}
		if code != 0 {
			t.Fatalf("%s genkey: %s", who, e)
		}
		entries, _ := os.ReadDir(out)
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		data, err := os.ReadFile(filepath.Join(out, "sb.crt"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(data)
		if blk == nil {
			t.Fatalf("%s: sb.crt is not PEM", who)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert, names
	}
	ucert, unames := certOf("ukify")
	ocert, onames := certOf("ukibuild")
	if ucert.Subject.String() != ocert.Subject.String() {
		t.Errorf("subject %q, ukify's %q", ocert.Subject, ucert.Subject)
	}
	ud, od := ucert.NotAfter.Sub(ucert.NotBefore), ocert.NotAfter.Sub(ocert.NotBefore)
	if diff := ud - od; diff > time.Minute || diff < -time.Minute {
		t.Errorf("validity %v, ukify's %v", od, ud)
	}
	if strings.Join(unames, " ") != strings.Join(onames, " ") {
		t.Errorf("files %v, ukify wrote %v", onames, unames)
	}
}

// TestConfigCertificateProvider: CertificateProvider reaches
// --certificate-provider, whose providers other than pkcs11 are refused
// (ukibuild loads no OpenSSL), never silently dropped.
func TestConfigCertificateProvider(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(dir, "u.conf", []byte("[UKI]\nStub=/nonexistent\nSecureBootSigningTool=systemd-sbsign\nCertificateProvider=prov\n"+
		"SecureBootPrivateKey=pkcs11:token=t;object=k\nSecureBootCertificate=pkcs11:token=t;object=k;type=cert\n"))
	out := filepath.Join(dir, "out.efi")
	code, _, e := runOurs("build", "--config", conf, "--output", out)
	if code == 0 || !strings.Contains(e, "--certificate-provider=prov: OpenSSL providers are not available") {
		t.Errorf("exit %d, %s", code, e)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s was written", out)
	}
}

// TestConfigSearchPath: without --config the first of ukify's default files
// is read, and it is read as --config would read it (ukify's build with
// that file as --config is the reference). The files live below a scratch
// root (env.root).
func TestConfigSearchPath(t *testing.T) {
	f := getFixture(t)
	vars := newConfigVars(t, f)
	root := t.TempDir()
	write := func(p, cmdline string) string {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		return writeFile(filepath.Dir(full), filepath.Base(full), []byte(vars.expand("[UKI]\nLinux=$KERNEL\nStub=$STUB\nCmdline="+cmdline+"\n")))
	}
	write("usr/lib/systemd/ukify.conf", "usr-lib")
	write("usr/local/lib/systemd/ukify.conf", "usr-local-lib")
	want := write("run/systemd/ukify.conf", "run")
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd/ukify.conf"), 0o755); err != nil { // a directory is skipped
		t.Fatal(err)
	}
	dir := t.TempDir()
	ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
	if code, _, e := runUkify(t, f.tools, dir, "build", "--config", want, "--output", ref); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	var o, e bytes.Buffer
	if code := runEnv([]string{"build", "--output", ours}, &env{stdout: &o, stderr: &e, root: root}); code != 0 {
		t.Fatalf("ukibuild: %s", e.String())
	}
	if !strings.Contains(e.String(), "Using found config file: "+want) {
		t.Errorf("stderr does not name %s: %s", want, e.String())
	}
	compareFiles(t, ref, ours)

	// Verbs that read no configuration refuse --config.
	if code, _, e := runOurs("measure", "calculate", "--config", want, "--linux", f.kernel); code == 0 || !strings.Contains(e, "--config") {
		t.Errorf("measure --config: exit %d, %s", code, e)
	}
}
