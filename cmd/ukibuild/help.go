package main

// The help text: build's options in groups, each with the configuration
// key that sets it, and the exit codes. Done on the built model so that the
// option definitions (build.go, genkey.go) stay as they are and options
// added later simply show up ungrouped.

import (
	"slices"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/ukibuild/ukibuild/ukiconf"
)

// exitCodesHelp documents the exit codes of every command.
const exitCodesHelp = "Exit codes: 0 success, 1 the command failed (the message names the file and what is wrong), 2 usage error (unknown option, bad argument), 3 eventlog verify found nothing that differs but could not verify some PCRs offline (neither a match nor a mismatch); measure calculate|sign|policy-digest refuse as systemd-measure 262.1 does (its messages, exit code 1)."

// helpGroups lists build's option groups and their options' long names.
var helpGroups = []struct {
	group kong.Group
	flags []string
}{
	{kong.Group{Key: "sections", Title: "UKI sections:"}, []string{"linux", "initrd", "microcode", "cmdline", "os-release", "uname", "splash",
		"devicetree", "devicetree-auto", "hwids", "efifw", "pcrpkey", "sbat", "section", "profile", "join-profile"}},
	{kong.Group{Key: "stub", Title: "Stub and output:"}, []string{"efi-arch", "stub", "output"}},
	{kong.Group{Key: "pcr", Title: "PCR policies ([PCRSignature:NAME] sections set one key group each):"}, []string{"pcr-private-key", "pcr-public-key",
		"pcr-certificate", "phases", "policyref", "pcr-banks", "sign-initrd-pcrs", "sign-profile", "policy-digest", "join-pcrsig", "pcrsig", "measure", "json", "pretty-json"}},
	{kong.Group{Key: "secureboot", Title: "Secure Boot signing:"}, []string{"secureboot-private-key", "secureboot-certificate", "secureboot-chain",
		"sign-kernel", "signature-profile", "signature-hash", "pkcs11-module", "signtool", "signing-engine", "signing-provider",
		"certificate-provider", "secureboot-certificate-name"}},
}

// helpOption groups build's options and appends the configuration key of
// every option that has one.
func helpOption() kong.Option {
	return kong.PostBuild(func(k *kong.Kong) error {
		for _, node := range k.Model.Children {
			for _, fl := range node.Flags {
				for i := range helpGroups {
					if node.Name == "build" && slices.Contains(helpGroups[i].flags, fl.Name) {
						fl.Group = &helpGroups[i].group
					}
				}
				for _, item := range ukiconf.Items() {
					if item.Option != fl.Name || !slices.Contains(item.Commands, node.Name) {
						continue
					}
					section, key, _ := strings.Cut(item.Key, "/")
					if strings.HasSuffix(section, ":") {
						section += "NAME"
					}
					fl.Help = strings.TrimSuffix(fl.Help, ".") + ". Config: [" + section + "] " + key + "=."
				}
			}
		}
		return nil
	})
}
