package creds

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Field is one thing an Info says, as "ukibuild creds inspect" shows it:
// a key ("keyType", "pcrs", "name", ...) and its value (a string, bool,
// int or []uint32).
type Field struct {
	Key   string
	Value any
}

// Fields returns what in says, in the order WriteText writes it: the key
// type and ID, whether it is scoped, for TPM-bound credentials the parent
// key, the PCR policy and the PCR public key, and, once decrypted, the
// name, times ("none" when unset, else RFC 3339 in UTC) and payload size.
// The secret is never among them.
func (in *Info) Fields() []Field {
	var fields []Field
	add := func(k string, v any) { fields = append(fields, Field{k, v}) }
	add("keyType", in.KeyType.String())
	add("keyId", in.KeyID)
	if in.Scoped {
		add("scoped", true)
	}
	if in.KeyType.UsesTPM() {
		if in.PinnedSRK {
			add("parent", fmt.Sprintf("pinned SRK 0x%08x", in.SRKHandle))
			add("srkName", hex.EncodeToString(in.SRKName))
		} else {
			add("parent", "legacy primary (systemd 255-261)")
		}
		add("primaryAlg", in.PrimaryAlg)
		add("pcrBank", in.PCRBank)
		add("pcrs", MaskPCRs(in.PCRMask))
		add("policy", hex.EncodeToString(in.Policy))
		add("imported", in.Imported)
		if in.PublicKey != nil {
			add("publicKeyPcrs", MaskPCRs(in.PublicKeyPCRMask))
			add("publicKey", string(in.PublicKey))
		}
	}
	if in.Decrypted {
		add("name", in.Name)
		add("timestamp", fieldTime(in.Timestamp))
		add("notAfter", fieldTime(in.NotAfter))
		add("size", in.Size)
	}
	return fields
}

// fieldTime is "none" for the zero time, else RFC 3339 in UTC.
func fieldTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// WriteText writes in's Fields, a line each ("KEY: VALUE", the values
// aligned; a PCR list space-separated), and a last line saying the name
// and times are encrypted when they are not known.
func (in *Info) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, f := range in.Fields() {
		v := fmt.Sprint(f.Value)
		if s, ok := f.Value.([]uint32); ok {
			v = strings.Trim(fmt.Sprint(s), "[]")
		}
		fmt.Fprintf(bw, "%-14s %s\n", f.Key+":", strings.TrimSpace(v))
	}
	if !in.Decrypted {
		bw.WriteString("(name and times are encrypted)\n")
	}
	return bw.Flush()
}

// WriteJSON writes in's Fields as an indented JSON object (the keys
// sorted), with a final newline.
func (in *Info) WriteJSON(w io.Writer) error {
	m := map[string]any{}
	for _, f := range in.Fields() {
		m[f.Key] = f.Value
	}
	j, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(j, '\n'))
	return err
}
