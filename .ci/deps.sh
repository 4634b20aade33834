#!/usr/bin/env bash
# Install the Debian packages the tests need (idempotent; apt runs only when
# something is missing). Needs root (or sudo) when anything is missing.
set -euo pipefail
pkgs=(
  python3                       # runs ukify (the reference) with sid's pefile
  python3-zstandard python3-lz4 # let ukify decompress zstd and lz4 kernels
  bzip2 gzip xz-utils zstd lz4  # compress test kernels with the real tools
  binutils                      # readelf, which ukify calls to detect uname
  binutils-aarch64-linux-gnu    # aarch64-linux-gnu-objcopy: the sections of arm64 PE images (shim tests, shimaa64.efi)
  debian-archive-keyring        # verifies the Debian archive in fetch.sh
  gcc libc6-dev libssl-dev       # cgo build of the go-tpm-tools TPM simulator (pcr tests)
  sbsigntool osslsigncode openssl # Authenticode reference signers and verifiers (sign tests)
  faketime                      # freezes the clock for sbsign under ukify (signingTime byte identity)
  softhsm2 opensc               # a real PKCS#11 token for the sign/pkcs11 tests
  libengine-pkcs11-openssl      # OpenSSL's pkcs11 engine: ukify --signing-engine=pkcs11 through sid's systemd-measure (cmd/ukibuild TestUkifyPCRKeyPKCS11Engine)
  qemu-system-x86 ovmf swtpm swtpm-tools busybox-static  # the boot tests (internal/e2e)
  qemu-system-arm qemu-efi-aarch64 # the arm64 boot tests (internal/e2e, AAVMF with Secure Boot)
  device-tree-compiler          # fdtput: QEMU's devicetree as the arm64 boot tests' .dtbauto
  tpm2-tools libtss2-tcti-swtpm0 # tpm2_createak and tpm2_quote against swtpm: independent quotes (pcr tests)
  fdisk dosfstools mtools       # sfdisk, mkfs.vfat, mmd/mcopy: a GPT ESP disk image for the boot tests (internal/e2e case 12)
  efitools                      # cert-to-efi-sig-list, hash-to-efi-sig-list, sign-efi-sig-list: independent EFI signature lists and .auth files (secureboot tests)
  ca-certificates git
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Secure Boot boot tests (internal/e2e): virt-fw-vars (python3-virt-firmware)
# enrolls the tests' PK, KEK and db into a copy of OVMF's varstore. Bookworm
# has it only in bookworm-backports: add that suite (signed by the Debian
# archive keyring) and take only this package from it (-t), so nothing else,
# systemd in particular, is upgraded. Later releases have it in main.
if ! dpkg-query -W -f='${Status}' python3-virt-firmware 2>/dev/null | grep -q "install ok installed"; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  target=()
  if [ "$codename" = bookworm ]; then
    src=/etc/apt/sources.list.d/ukibuild-backports.sources
    if ! grep -qs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/*; then
      printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm-backports" \
        "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" | $sudo tee "$src" >/dev/null
    fi
    target=(-t bookworm-backports)
  fi
  echo "deps: installing python3-virt-firmware ${target[*]}" >&2
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${target[@]}" python3-virt-firmware
fi
