#!/usr/bin/env bash
# The end-to-end demo: with Debian's systemd-stub 262.1 and a Debian kernel
# (both fetched by internal/reftools/fetch.sh), create demo keys, build a UKI
# that is Secure Boot signed and carries signed PCR 11 policies, predict its
# PCR 11 values, verify its signature and show what is inside.
set -euo pipefail
reftools=${1:-.cache/reftools}
. "$reftools/env.sh"
out=${UKIBUILD_DEMO_OUT:-out}
mkdir -p "$out"
keys="$out/keys"
set -x
if [ ! -e "$keys/db.key" ]; then
  mkdir -p "$keys"
  bin/ukibuild genkey \
    --secureboot-private-key "$keys/db.key" --secureboot-certificate "$keys/db.crt" \
    --secureboot-certificate-common-name "ukibuild demo db" \
    --pcr-private-key "$keys/pcr.key" --pcr-public-key "$keys/pcr.pub"
fi
bin/ukibuild build \
  --stub "$UKIBUILD_STUB_262" \
  --linux "$UKIBUILD_KERNEL" \
  --cmdline "console=ttyS0 quiet" \
  --secureboot-private-key "$keys/db.key" --secureboot-certificate "$keys/db.crt" \
  --pcr-private-key "$keys/pcr.key" --pcr-public-key "$keys/pcr.pub" \
  --output "$out/demo.efi"
bin/ukibuild measure "$out/demo.efi" --bank sha256
bin/ukibuild verify "$out/demo.efi" --cert "$keys/db.crt"
bin/ukibuild inspect "$out/demo.efi"
