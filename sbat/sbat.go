// Package sbat parses, validates, merges and formats SBAT (Secure Boot
// Advanced Targeting) metadata.
//
// SBAT is the revocation scheme used by shim: every boot component carries a
// ".sbat" PE section holding comma-separated ASCII records of the form
//
//	component_name,component_generation,vendor_name,vendor_package_name,vendor_version,vendor_url
//
// and shim refuses to run a component whose generation is lower than the
// minimum recorded for that component name in the SbatLevel UEFI variable.
// The first record is always the "sbat" record naming the version of the
// format itself (see Header). The format is specified in shim's SBAT.md:
// https://github.com/rhboot/shim/blob/main/SBAT.md
//
// Parse validates data strictly against the rules shim applies when it reads a
// .sbat section (parse_sbat_section and parse_csv_data in shim's sbat.c and
// csv.c), plus a few stricter checks for mistakes shim would accept silently;
// the rules are listed in the documentation of Parse. Format writes records in
// canonical form. MergeTexts builds the .sbat section of a UKI or addon exactly
// like systemd's ukify 262.1 does (its merge_sbat function).
package sbat

import (
	"strconv"
	"strings"
)

// Header is the text of the mandatory first SBAT record, without a line
// terminator. ukify always starts the .sbat section of a UKI or addon with it.
const Header = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md"

// DefaultUKI is the SBAT text ukify uses for a UKI when no --sbat is given
// (ukify's STUB_SBAT).
const DefaultUKI = Header + "\n" +
	"uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n"

// DefaultAddon is the SBAT text ukify uses for an addon (a PE built without a
// kernel) when no --sbat is given (ukify's ADDON_SBAT).
const DefaultAddon = Header + "\n" +
	"uki-addon,1,UKI Addon,addon,1,https://www.freedesktop.org/software/systemd/man/latest/systemd-stub.html\n"

// MaxGeneration is the largest generation shim can represent (it compares
// generations as 16-bit unsigned integers).
const MaxGeneration = 65535

// numFields is the number of comma-separated fields in a record.
const numFields = 6

// fieldName returns the name SBAT.md gives field i (0-based) of a record.
func fieldName(i int) string {
	switch i {
	case 0:
		return "component_name"
	case 1:
		return "component_generation"
	case 2:
		return "vendor_name"
	case 3:
		return "vendor_package_name"
	case 4:
		return "vendor_version"
	default:
		return "vendor_url"
	}
}

// fieldList is the field names in order, as written in error messages.
const fieldList = "component_name,component_generation,vendor_name,vendor_package_name,vendor_version,vendor_url"

// Record is one SBAT record (one line of a .sbat section). The field comments
// give the names SBAT.md uses.
type Record struct {
	Component     string // component_name: the name revocations match on
	Generation    int    // component_generation: the security generation, 1..MaxGeneration
	VendorName    string // vendor_name: human readable vendor name
	VendorPackage string // vendor_package_name: human readable package name
	VendorVersion string // vendor_version: human readable package version
	VendorURL     string // vendor_url: where to look things up or make contact
}

// String returns r as one line of SBAT CSV, without a line terminator. It
// does not validate r.
func (r Record) String() string {
	return r.Component + "," + strconv.Itoa(r.Generation) + "," + r.VendorName + "," +
		r.VendorPackage + "," + r.VendorVersion + "," + r.VendorURL
}

// Format returns records as canonical SBAT CSV: each record on its own line,
// every line (including the last) terminated by "\n", generations written
// without leading zeros. Format does not validate: records that Parse would
// reject (for example fields holding commas or line breaks) produce output
// that does not parse back. Format(nil) returns an empty, non-nil slice.
func Format(records []Record) []byte {
	var b strings.Builder
	for _, r := range records {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
