package main

// Help is "eventlog verify --help"'s detail: the three outcomes, and what a
// verifier cannot know offline (kong.HelpProvider).
func (c *eventlogVerifyCmd) Help() string {
	return `Each PCR is reported as "match", as differing at its first diverging event (expected and seen), or as "unverifiable": neither a match nor a mismatch. The command exits 0 only when every PCR matches (and the log replays to --quote-pcrs and --quote), 1 when one differs or a replay fails, and 3 when nothing differs but some PCR is unverifiable.

What a verifier cannot know offline, and what to give:
  - the consoles systemd-stub appends to a command line without console= (PCR 9): --consoles; without it every outcome of the stub's rule is accepted and the one the log shows is named;
  - which .dtbauto and .efifw the stub picked (PCR 11; it matches the machine's SMBIOS CHIDs against .hwids): --dtbauto, --efifw;
  - a boot secret (PCR 9): systemd-stub 261+ adds /.extra/boot-secret to the initrd when a random seed table exists (systemd-boot, or an EFI RNG and a writable ESP), from an EFI variable the OS never sees; Linux measures that initrd. With --boot-secret the initrd event is checked for its type and tag only, the other events fully, and PCR 9 is "unverifiable" unless the log's initrd is the one without a secret. Without --boot-secret such a boot differs at the initrd event;
  - the firmware's and boot loaders' own configuration events, which are not predicted: PCR 1, 2, 3, 5, and what systemd-boot measures besides images (give --loader for their PCR 4 and 7 events).`
}
