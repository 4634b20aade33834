package attest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// pcrlockFile is systemd-pcrlock's component file (src/pcrlock/pcrlock.c
// in systemd 262, event_log_record_to_json and the .pcrlock writers):
// {"records":[{"pcr":N,"digests":[{"hashAlg":"sha256","digest":"HEX"}]}]},
// compact, with a final newline, as "systemd-pcrlock lock-uki" writes it.
type pcrlockFile struct {
	Records []pcrlockRecord `json:"records"`
}

type pcrlockRecord struct {
	PCR     int             `json:"pcr"`
	Digests []pcrlockDigest `json:"digests"`
}

type pcrlockDigest struct {
	HashAlg string `json:"hashAlg"`
	Digest  string `json:"digest"`
}

// PCRLock returns a systemd-pcrlock component (a .pcrlock file) for the
// UKI's boot: the records of the events of pcrs (all predicted PCRs when
// empty) whose source is the UKI, in the order the TPM sees them.
// systemd-pcrlock matches a component's records, in order, against the
// event log, and combines components to predict PCR values; the firmware's
// own events and the boot loaders' are other components (systemd ships
// some, "systemd-pcrlock lock-pe" makes one for a boot loader), so they
// are left out here. Unlike "systemd-pcrlock lock-uki", which records the
// UKI's PCR 4 image and PCR 11 sections in the section order of the
// systemd it runs from, this follows the stub version of the prediction
// and includes the add-ons' images, PCR 9, 12 and 13.
func (r *Reference) PCRLock(pcrs []int) ([]byte, error) {
	if len(pcrs) == 0 {
		pcrs = r.PCRs
	}
	doc := pcrlockFile{Records: []pcrlockRecord{}}
	for _, p := range pcrs {
		if !slices.Contains(r.PCRs, p) {
			return nil, fmt.Errorf("PCR %d is not in the reference", p)
		}
	}
	for i, ev := range r.events {
		if r.sources[i] != UKI || !slices.Contains(pcrs, ev.PCR) || ev.Type == eventlog.EvNoAction {
			continue
		}
		if why, ok := r.machineSpecific[i]; ok {
			return nil, fmt.Errorf("PCR %d: the event %q is machine-specific (%s): no .pcrlock can name it; leave out PCR %d", ev.PCR, ev.Description, why, ev.PCR)
		}
		if len(r.alts[i]) > 0 {
			return nil, fmt.Errorf("PCR %d: the event %q depends on what the machine has (%d alternatives; give the machine's details, e.g. its consoles)", ev.PCR, ev.Description, len(r.alts[i]))
		}
		rec := pcrlockRecord{PCR: ev.PCR}
		for _, v := range ev.Digests {
			rec.Digests = append(rec.Digests, pcrlockDigest{HashAlg: v.Bank.Name, Digest: hex.EncodeToString(v.Digest)})
		}
		doc.Records = append(doc.Records, rec)
	}
	if len(doc.Records) == 0 {
		return nil, fmt.Errorf("no event of the UKI's boot in PCR %v", pcrs)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// KeylimePolicy returns Keylime's tpm_policy for the reference: the value
// each predicted PCR has after its events in bank b, as
// {"11":["HEX"],"mask":"0x800"}: PCR numbers with lists of allowed values
// (several where events have alternatives),
// and the mask of the PCRs (Keylime's TPM_Utilities.check_mask reads it
// with Python's int(mask, 0)). The whole
// PCR is predicted, firmware events included, so the values hold for a
// machine whose firmware measures what the prediction assumes.
func (r *Reference) KeylimePolicy(b pcr.Bank) ([]byte, error) {
	if !slices.ContainsFunc(r.Banks, func(o pcr.Bank) bool { return o.Name == b.Name }) {
		return nil, fmt.Errorf("the reference has no %s digests", b.Name)
	}
	policy := map[string]any{}
	mask := 0
	for _, p := range r.PCRs {
		vs, err := r.Values(p, b)
		if err != nil {
			return nil, err
		}
		var list []string
		for _, v := range vs {
			list = append(list, hex.EncodeToString(v))
		}
		policy[strconv.Itoa(p)] = list
		mask |= 1 << p
	}
	policy["mask"] = fmt.Sprintf("%#x", mask)
	out, err := json.Marshal(policy)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
