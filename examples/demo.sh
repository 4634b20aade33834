#!/usr/bin/env bash
# The end-to-end demo: build a UKI from Debian's systemd-stub 262.1 and a
# Debian kernel (both fetched by internal/reftools/fetch.sh) with ukibuild,
# then show what is inside with ukibuild inspect.
set -euo pipefail
reftools=${1:-.cache/reftools}
. "$reftools/env.sh"
out=${UKIBUILD_DEMO_OUT:-out}
mkdir -p "$out"
set -x
bin/ukibuild build \
  --stub "$UKIBUILD_STUB_262" \
  --linux "$UKIBUILD_KERNEL" \
  --cmdline "console=ttyS0 quiet" \
  --output "$out/demo.efi"
bin/ukibuild inspect "$out/demo.efi"
