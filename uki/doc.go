// Package uki composes and inspects Unified Kernel Images: a systemd-stub PE
// image with the kernel (.linux), initrd (.initrd), command line (.cmdline),
// os-release (.osrel) and other parts appended as PE sections, as described by
// the UAPI group's "Unified Kernel Image" specification.
//
// The output is byte-identical to systemd's ukify 262.1 for the same inputs
// (Compose mirrors ukify's pe_add_sections, Prepare its make_uki). Section
// data is streamed from its source to the output: the kernel and initrds are
// never held in memory. Output is written atomically.
//
// Besides plain UKIs it builds PE add-ons (no kernel: the add-on stub),
// profile PEs and multi-profile UKIs (Config.Profile, JoinProfiles,
// SignProfiles), and the hardware-matched parts of ARM laptops' UKIs:
// .dtbauto devicetrees, the .hwids table (EncodeHWIDs, HWIDsFromDir) and
// .efifw firmware (EFIFW, EFIFWFromDir).
//
// The simplest use is Build with a Config; Prepare, Compose and Image.WriteTo
// give control over each step. Inspect prints what "ukify inspect" prints.
//
// A program that takes ukify's options gets ukify's rules and defaults for
// them: PCRKeyOptions.Apply turns --pcr-private-key, --phases,
// --sign-initrd-pcrs, --policy-digest and --pcr-banks into the Config's key
// groups and .pcrpkey, SecureBootOptions.Check applies ukify's Secure Boot
// option rules; refusals are *OptionError values.
package uki
