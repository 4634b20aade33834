#!/usr/bin/env bash
# Install the Debian packages the tests need (idempotent; apt runs only when
# something is missing). Needs root (or sudo) when anything is missing.
set -euo pipefail
pkgs=(
  python3                       # runs ukify (the reference) with sid's pefile
  python3-zstandard python3-lz4 # let ukify decompress zstd and lz4 kernels
  bzip2 gzip xz-utils zstd lz4  # compress test kernels with the real tools
  binutils                      # readelf, which ukify calls to detect uname
  debian-archive-keyring        # verifies the Debian archive in fetch.sh
  gcc libc6-dev libssl-dev       # cgo build of the go-tpm-tools TPM simulator (pcr tests)
  sbsigntool osslsigncode openssl # Authenticode reference signers and verifiers (sign tests)
  faketime                      # freezes the clock for sbsign under ukify (signingTime byte identity)
  softhsm2 opensc               # a real PKCS#11 token for the sign/pkcs11 tests
  qemu-system-x86 ovmf swtpm swtpm-tools busybox-static  # the boot tests (internal/e2e)
  ca-certificates git
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
