package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ukibuild/ukibuild/creds"
	"github.com/ukibuild/ukibuild/internal/atomicfile"
)

// credsCmd groups the systemd-creds equivalents; the work is done by the
// creds package.
type credsCmd struct {
	Encrypt      credsEncryptCmd      `cmd:"" help:"Encrypt a systemd credential offline, for another machine (systemd-creds encrypt)."`
	Decrypt      credsDecryptCmd      `cmd:"" help:"Decrypt a systemd credential (systemd-creds decrypt)."`
	Inspect      credsInspectCmd      `cmd:"" help:"Show what a systemd credential's headers say (never its secret)."`
	SetupHostKey credsSetupHostKeyCmd `cmd:"" name:"setup-host-key" help:"Create a host key file as systemd writes /var/lib/systemd/credential.secret."`
}

type credsEncryptCmd struct {
	Input         string  `arg:"" optional:"" default:"-" help:"Payload file, - for standard input." placeholder:"IN"`
	Output        string  `arg:"" optional:"" default:"-" help:"Credential file to write, - for standard output." placeholder:"OUT"`
	Name          *string `help:"Name embedded in the credential; default: OUT's file name without .cred (PID 1 imports NAME.cred as NAME), or IN's when OUT is -." placeholder:"NAME"`
	WithKey       string  `name:"with-key" required:"" enum:"null,host,tpm2,host+tpm2" help:"Key type: null, host, tpm2 or host+tpm2."`
	DeviceKey     string  `name:"tpm2-device-key" help:"The target TPM's storage key, a TPM2B_PUBLIC (systemd-analyze srk; for --target-systemd=255-261 systemd's legacy primary)." placeholder:"FILE"`
	PublicKey     string  `name:"tpm2-public-key" help:"PCR public key (PEM): bind to PCR policies signed by its private key (a UKI's .pcrsig)." placeholder:"FILE"`
	PublicKeyPCRs string  `name:"tpm2-public-key-pcrs" help:"PCRs the signed policies cover (default 11)." placeholder:"PCR[+PCR...]"`
	PCRs          string  `name:"tpm2-pcrs" help:"Literal PCR values to bind to, SHA-256 bank, e.g. 7:sha256=HEX+11:sha256=HEX." placeholder:"PCR:sha256=HEX[,...]"`
	Timestamp     string  `help:"Creation time to record (@SECONDS, RFC 3339, or 'none'); default SOURCE_DATE_EPOCH or now." placeholder:"TIME"`
	NotAfter      string  `name:"not-after" help:"Expiry time (@SECONDS, RFC 3339); default never." placeholder:"TIME"`
	HostKey       string  `name:"host-key" help:"The target's host key file (/var/lib/systemd/credential.secret) for --with-key=host and host+tpm2." placeholder:"FILE"`
	TargetSystemd int     `name:"target-systemd" default:"262" help:"systemd version of the target: 262+ pins the SRK; 255-261 use the legacy primary; 252-254 take host and null keys only." placeholder:"VERSION"`
}

// parseTime reads a time option (creds.ParseTime).
func parseTime(flag, s string) (time.Time, error) {
	t, err := creds.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s=%s: %w", flag, s, err)
	}
	return t, nil
}

var errTooLarge = errors.New("file too large")

// readInput reads a file or standard input ("-").
func readInput(path string, limit int64) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w (%d bytes)", path, errTooLarge, limit)
	}
	return b, nil
}

// writeOutput writes data to path atomically, or to stdout for "-".
func writeOutput(e *env, path string, perm fs.FileMode, data []byte) error {
	if path == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	return atomicfile.Write(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

func (c *credsEncryptCmd) Run(e *env) error {
	o := &creds.Options{TargetSystemd: c.TargetSystemd}
	var err error
	if o.Key, err = creds.ParseKeyType(c.WithKey); err != nil {
		return err
	}
	o.Name = creds.DefaultName(c.Input, c.Output)
	if c.Name != nil {
		o.Name = *c.Name
	}
	if o.Name != "" {
		if err := creds.ValidName(o.Name); err != nil {
			return fmt.Errorf("--name: %w", err)
		}
	}
	if c.Output != "-" {
		if base := filepath.Base(c.Output); o.Name != creds.ImportName(c.Output) {
			e.warnf("%s: the embedded name %q is not the output file name without .cred: PID 1 imports %s as %q and systemd refuses the mismatch (systemd-creds decrypt compares with %q)",
				c.Output, o.Name, base, creds.ImportName(c.Output), base)
		}
	}
	ts := c.Timestamp
	if ts == "" {
		if sde := e.getenv("SOURCE_DATE_EPOCH"); sde != "" {
			ts = "@" + sde
		} else {
			ts = "@" + strconv.FormatInt(time.Now().Unix(), 10)
		}
	}
	if o.Timestamp, err = parseTime("timestamp", ts); err != nil {
		return err
	}
	if o.NotAfter, err = parseTime("not-after", c.NotAfter); err != nil {
		return err
	}
	if c.HostKey != "" {
		if o.HostKey, err = creds.ReadHostKeyFile(c.HostKey); err != nil {
			return err
		}
	}
	if c.DeviceKey != "" {
		b, err := readInput(c.DeviceKey, 4096)
		if err != nil {
			return err
		}
		if o.Parent, err = creds.ParseParent(b); err != nil {
			return fmt.Errorf("%s: %w", c.DeviceKey, err)
		}
		if c.TargetSystemd >= 262 && o.Parent.LegacyPrimary() {
			e.warnf("%s has the attributes of systemd's legacy primary key, not of the SRK systemd %d seals to (systemd-analyze srk): the target will not decrypt it unless this key is its SRK at 0x81000001", c.DeviceKey, c.TargetSystemd)
		}
	}
	if c.PublicKey != "" {
		if o.PCRPublicKey, err = readInput(c.PublicKey, 1<<20); err != nil {
			return err
		}
	}
	if c.PublicKeyPCRs != "" {
		if o.PCRPublicKeyPCRs, err = creds.ParsePCRList(c.PublicKeyPCRs); err != nil {
			return fmt.Errorf("--tpm2-public-key-pcrs=%s: %w", c.PublicKeyPCRs, err)
		}
	}
	if c.PCRs != "" {
		if o.PCRs, err = creds.ParsePCRValues(c.PCRs); err != nil {
			return fmt.Errorf("--tpm2-pcrs=%s: %w", c.PCRs, err)
		}
	}
	payload, err := readInput(c.Input, creds.MaxPayload)
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("%s: %w", c.Input, creds.ErrTooLarge)
	} else if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := creds.Encrypt(&out, bytes.NewReader(payload), o); err != nil {
		// Name the file a refusal is about.
		var srkErr *creds.SRKError
		var inErr *creds.InputError
		switch {
		case errors.As(err, &srkErr) && c.DeviceKey != "":
			return fmt.Errorf("%s: %w", c.DeviceKey, err)
		case errors.As(err, &inErr) && inErr.Field == "PCR public key" && c.PublicKey != "":
			return fmt.Errorf("%s: %w", c.PublicKey, err)
		case errors.As(err, &inErr) && inErr.Field == "host key" && c.HostKey != "":
			return fmt.Errorf("%s: %w", c.HostKey, err)
		}
		return err
	}
	return writeOutput(e, c.Output, 0o600, out.Bytes())
}

type credsDecryptCmd struct {
	Input     string  `arg:"" optional:"" default:"-" help:"Credential file, - for standard input." placeholder:"IN"`
	Output    string  `arg:"" optional:"" default:"-" help:"Payload file to write, - for standard output." placeholder:"OUT"`
	Name      *string `help:"Name the credential must embed; default IN's file name, with or without .cred; empty: no check." placeholder:"NAME"`
	HostKey   string  `name:"host-key" help:"Host key file for host and host+tpm2 credentials (default /var/lib/systemd/credential.secret when needed)." placeholder:"FILE"`
	Device    string  `name:"tpm2-device" help:"TPM for tpm2 credentials: a device (/dev/tpmrm0) or swtpm:path=SOCKET." placeholder:"DEVICE"`
	Signature string  `name:"tpm2-signature" help:"Signed PCR policy JSON (.pcrsig) for credentials bound to a PCR public key." placeholder:"FILE"`
}

func (c *credsDecryptCmd) Run(e *env) error {
	data, err := readInput(c.Input, 4<<20)
	if err != nil {
		return err
	}
	o := &creds.DecryptOptions{}
	if c.Name != nil {
		o.Name = *c.Name
	}
	info, err := creds.Inspect(bytes.NewReader(data))
	if err != nil && !errors.Is(err, creds.ErrAuthentication) {
		return fmt.Errorf("%s: %w", c.Input, err)
	}
	if info != nil && info.KeyType.UsesHostKey() {
		hk := c.HostKey
		if hk == "" {
			hk = creds.DefaultHostKeyPath
		}
		if o.HostKey, err = creds.ReadHostKeyFile(hk); err != nil {
			return err
		}
	}
	if info != nil && info.KeyType.UsesTPM() {
		tpm, err := creds.OpenTPM(c.Device)
		if err != nil {
			return fmt.Errorf("opening the TPM %q: %w", c.Device, err)
		}
		defer tpm.Close()
		o.TPM = tpm
		if c.Signature != "" {
			if o.Signature, err = readInput(c.Signature, 4<<20); err != nil {
				return err
			}
		}
	}
	var out bytes.Buffer
	got, err := creds.Decrypt(&out, bytes.NewReader(data), o)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Input, err)
	}
	// Without --name, the file name is the expected name, as for
	// systemd-creds decrypt; NAME.cred may also embed NAME, the name PID 1
	// imports it under.
	if c.Name == nil && c.Input != "-" {
		if err := creds.CheckFileName(got.Name, c.Input); err != nil {
			return fmt.Errorf("%s: %w", c.Input, err)
		}
	}
	return writeOutput(e, c.Output, 0o600, out.Bytes())
}

type credsInspectCmd struct {
	File    string `arg:"" help:"Credential file, - for standard input." placeholder:"FILE"`
	JSON    bool   `help:"Print JSON."`
	HostKey string `name:"host-key" help:"Host key file: also show the name and times of host-key credentials." placeholder:"FILE"`
}

func (c *credsInspectCmd) Run(e *env) error {
	data, err := readInput(c.File, 4<<20)
	if err != nil {
		return err
	}
	var hk *creds.HostKey
	if c.HostKey != "" {
		if hk, err = creds.ReadHostKeyFile(c.HostKey); err != nil {
			return err
		}
	}
	in, err := creds.InspectHostKey(bytes.NewReader(data), hk)
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	var b bytes.Buffer // written whole: nothing on an error
	if c.JSON {
		err = in.WriteJSON(&b)
	} else {
		err = in.WriteText(&b)
	}
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}

type credsSetupHostKeyCmd struct {
	Output    string `arg:"" help:"Host key file to create (refused if it exists), for the target's /var/lib/systemd/credential.secret (mode 0400)." placeholder:"FILE"`
	MachineID string `name:"machine-id" help:"The target's machine ID (/etc/machine-id); default this machine's." placeholder:"ID"`
}

func (c *credsSetupHostKeyCmd) Run(e *env) error {
	mid := c.MachineID
	if mid == "" {
		b, err := os.ReadFile(filepath.Join(e.root, "/etc/machine-id"))
		if err != nil {
			return fmt.Errorf("--machine-id not given and %w", err)
		}
		mid = string(b)
	}
	id, err := creds.ParseMachineID(mid)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(c.Output); err == nil {
		return fmt.Errorf("%s: exists; a host key in use is never replaced", c.Output)
	}
	k, err := creds.NewHostKey(nil, id)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := k.WriteTo(&b); err != nil {
		return err
	}
	return writeOutput(e, c.Output, 0o400, b.Bytes())
}
