#!/usr/bin/env bash
# Fetch the reference tools the tests compare against: Debian's systemd stubs
# (252 bookworm, 254 bookworm-backports, 257 trixie, 262.x sid; x86-64, arm64
# and riscv64), ukify and systemd's sid binaries with the sid libraries they
# need, GNU cpio 2.15 (trixie) and Debian kernels (amd64 bookworm, trixie
# and sid; arm64 bookworm; riscv64 trixie).
#
# Nothing is installed on the host: a private apt configuration (its own
# sources, lists and cache under the target directory) downloads the .deb
# files and dpkg -x unpacks each into its own directory. The host's systemd is
# never touched. Foreign architectures (i386, arm64, riscv64) are known to the
# private configuration only: the host's dpkg architectures stay as they are.
#
# Usage: fetch.sh [DIR]   (default: $UKIBUILD_REFTOOLS or <repo>/.cache/reftools)
# Afterwards DIR/env.sh describes what was fetched (sourced by the tests'
# locator in internal/reftools).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dest=${1:-${UKIBUILD_REFTOOLS:-$repo/.cache/reftools}}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
apt_root=$dest/apt
mkdir -p "$apt_root/lists/partial" "$apt_root/archives/partial" "$apt_root/etc/preferences.d" "$dest/debs"

mirror=${UKIBUILD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
for tool in apt-get apt-cache dpkg dpkg-deb tar; do
  command -v "$tool" >/dev/null || { echo "reftools: $tool is needed (a Debian or Ubuntu machine)" >&2; exit 1; }
done
if [ ! -f "$keyring" ]; then
  echo "reftools: $keyring is missing: apt-get install debian-archive-keyring" >&2
  exit 1
fi
cat > "$apt_root/etc/sources.list" <<SRC
deb [arch=amd64,arm64 signed-by=$keyring] $mirror bookworm main
deb [arch=amd64,arm64 signed-by=$keyring] $mirror bookworm-updates main
deb [arch=amd64,arm64 signed-by=$keyring] $mirror bookworm-backports main
deb [arch=amd64,arm64,riscv64 signed-by=$keyring] $mirror trixie main
deb [arch=amd64,i386,arm64,riscv64 signed-by=$keyring] $mirror sid main
SRC

apt_opts=(
  -o "Dir::Etc::SourceList=$apt_root/etc/sources.list"
  -o "Dir::Etc::SourceParts=/nonexistent"
  -o "Dir::Etc::Preferences=/nonexistent"
  -o "Dir::Etc::PreferencesParts=$apt_root/etc/preferences.d"
  -o "Dir::State=$apt_root"
  -o "Dir::State::Lists=$apt_root/lists"
  -o "Dir::State::status=/var/lib/dpkg/status"
  -o "Dir::Cache=$apt_root"
  -o "Dir::Cache::archives=$apt_root/archives"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures=amd64,i386,arm64,riscv64"
  -o "Acquire::Check-Valid-Until=false"
  -o "Acquire::Languages=none"
  -o "Acquire::Retries=3"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
)

# The lists are refreshed after 12 hours, or at once when the sources
# changed (the stamp records their checksum).
stamp=$dest/.apt-updated
sources_sum=$(sha256sum < "$apt_root/etc/sources.list" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ] ||
  [ "$(cat "$stamp")" != "$sources_sum" ]; then
  echo "reftools: updating private apt lists in $apt_root" >&2
  apt-get "${apt_opts[@]}" -q update >&2
  echo "$sources_sum" > "$stamp"
fi

# What to fetch: "NAME SUITE PACKAGE" (unpacked into $dest/NAME).
wanted=(
  "stub-252 bookworm systemd-boot-efi"
  "stub-254 bookworm-backports systemd-boot-efi"
  "stub-257 trixie systemd-boot-efi"
  "sid sid systemd-boot-efi"
  "sid-ia32 sid systemd-boot-efi:i386"
  # arm64 and riscv64 stubs (bookworm's 252 arm64 stub is a gnu-efi build
  # without .sdmagic or an add-on stub; Debian has no riscv64 before trixie).
  "stub-252-aa64 bookworm systemd-boot-efi:arm64"
  "stub-254-aa64 bookworm-backports systemd-boot-efi:arm64"
  "stub-257-aa64 trixie systemd-boot-efi:arm64"
  "sid-aa64 sid systemd-boot-efi:arm64"
  "stub-257-riscv64 trixie systemd-boot-efi:riscv64"
  "sid-riscv64 sid systemd-boot-efi:riscv64"
  "sid sid systemd-ukify"
  "sid sid python3-pefile"
  "sid sid systemd-tpm"
  # systemd-repart also ships systemd-sbsign (the sign tests' reference).
  "sid sid systemd-repart"
  # kernel-install and its plugins (the kernel-install tests), in a
  # directory of their own so that the sid tree above stays as it is.
  "sid-systemd sid systemd"
  # shim 16.1 (unsigned; the boot tests sign it with their db key and put
  # the UKI behind it as grubx64.efi).
  "shim-161 bookworm shim-unsigned"
  # The same shim built for arm64 (shimaa64.efi, mmaa64.efi), signed and
  # booted the same way under AAVMF.
  "shim-161-aa64 bookworm shim-unsigned:arm64"
)
# sid's runtime libraries, so that sid's binaries run through sid's ld.so.
for lib in libc6 libssl3t64 libsystemd-shared libcrypt1 libacl1 libcap2 libblkid1 libmount1 \
  libselinux1 libpcre2-8-0 libzstd1 liblzma5 libseccomp2 libaudit1 libcap-ng0 libgcrypt20 \
  libgpg-error0 liblz4-1 libkmod2 libtss2-esys-3.0.2-0t64 libtss2-mu-4.0.1-0t64 libtss2-rc0t64 \
  libtss2-sys1t64 libtss2-tctildr0t64 libtss2-tcti-device0t64 libtss2-tcti-swtpm0t64 \
  libfdisk1 libcryptsetup12 libdevmapper1.02.1 libargon2-1 libjson-c5 libuuid1 libudev1; do
  wanted+=("sid sid $lib")
done
# mkfs.erofs for sid's systemd-repart --make-ddi=sysext (the boot tests'
# signed Verity sysext): trixie's erofs-utils with its libraries, run through
# trixie's ld.so from this tree (sid's needs libcurl and its dependencies).
for p in erofs-utils libc6 libdeflate0 liblz4-1 liblzma5 libselinux1 libpcre2-8-0 libuuid1 libxxhash0 \
  libzstd1 zlib1g; do
  wanted+=("erofs-trixie trixie $p")
done
# systemd-measure of older releases, for the PCR tests: 252 (bookworm) and 254
# (bookworm-backports) run on bookworm's libraries, 257 on trixie's, each
# through its own suite's ld.so (like sid's 262 above).
wanted+=(
  "measure-252 bookworm systemd"
  "measure-252 bookworm libsystemd-shared"
  "measure-254 bookworm-backports systemd"
  "measure-254 bookworm-backports libsystemd-shared"
  "measure-257 trixie systemd"
  "measure-257 trixie libsystemd-shared"
)
# GNU cpio 2.15 (trixie), the reference for package cpio (mkosi's
# reproducible initrd recipe); it runs on trixie's libc from measure-257.
# bookworm's cpio 2.13 differs (directory nlink), so never the host's.
wanted+=("cpio-215 trixie cpio")
for lib in libc6 libssl3 libacl1 libblkid1 libcap2 libcrypt1 libgcrypt20 libgpg-error0 libip4tc2 \
  libkmod2 liblz4-1 libmount1 libpam0g libaudit1 libcap-ng0 libseccomp2 libselinux1 libpcre2-8-0 \
  libzstd1 liblzma5; do
  wanted+=("bookworm-libs bookworm $lib")
done
for lib in libc6 libssl3t64 libacl1 libblkid1 libcap2 libcrypt1 libmount1 libpam0g libaudit1 \
  libcap-ng0 libseccomp2 libselinux1 libpcre2-8-0 zlib1g libzstd1 libtss2-esys-3.0.2-0t64 libtss2-mu-4.0.1-0t64 \
  libtss2-rc0t64 libtss2-sys1t64 libtss2-tctildr0t64 libtss2-tcti-device0t64 libtss2-tcti-swtpm0t64; do
  wanted+=("measure-257 trixie $lib")
done
# The boot tests' systemd initrd (internal/e2e, TestBootSystemdInitrd): sid's
# systemd 262.1 and what it needs at run time (its libraries are dlopen()ed:
# libmount for PID 1, the tss2 libraries and libcrypto for systemd-pcrextend,
# libkmod to load efivarfs; udev makes dev-tpmrm0.device for tpm2.target;
# kmod's depmod indexes the efivarfs module when the test builds the tree),
# all unpacked into one tree without maintainer scripts. The versions are
# pinned ("PACKAGE=VERSION"): the initrd, and so its cpio's bytes, change only
# when a pin does; a pin sid no longer publishes is an error that names it.
for p in systemd=262.1-1 systemd-tpm=262.1-1 udev=262.1-1 libsystemd-shared=262.1-1 libc6=2.43-7 \
  libmount1=2.42.4-1 libblkid1=2.42.4-1 libcap2=1:2.78-1+b1 libselinux1=3.11-2.1+b1 libpcre2-8-0=10.49-1 \
  libkmod2=34.2-2+b2 libzstd1=1.5.7+dfsg-4 liblzma5=5.8.4-1 libacl1=2.4.0-1 libssl3t64=3.6.5-1 \
  libtss2-esys-3.0.2-0t64=4.2.0-2 libtss2-mu-4.0.1-0t64=4.2.0-2 libtss2-rc0t64=4.2.0-2 \
  libtss2-sys1t64=4.2.0-2 libtss2-tcti-device0t64=4.2.0-2 libtss2-tctildr0t64=4.2.0-2 libsystemd0=262.1-1 \
  zlib1g=1:1.3.dfsg+really1.3.2-4 kmod=34.2-2+b2 \
  libcryptsetup12=2:2.8.8-1 libdevmapper1.02.1=2:1.02.205-2+b2 dmsetup=2:1.02.205-2+b2 \
  libargon2-1=0~20190702+dfsg-6 libjson-c5=0.19+ds-1 libuuid1=2.42.4-1 libudev1=262.1-1; do
  wanted+=("initrd-262 sid $p")
done
# (libcryptsetup and its libraries: dlopen()ed by systemd-sysext to set up
# the signed sysext's dm-verity device; dmsetup for libdevmapper's udev rules,
# whose 95-dm-notify.rules confirms device-mapper events to libdevmapper.
# Not tried without it.)
# The newest bookworm unsigned kernel image (only vmlinuz is unpacked).
kpkg=$(apt-cache "${apt_opts[@]}" search '^linux-image-[0-9.]+-[0-9]+-amd64-unsigned$' 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
[ -n "$kpkg" ] || { echo "reftools: no linux-image-*-amd64-unsigned found" >&2; exit 1; }
wanted+=("kernel bookworm $kpkg")
# The same kernel's efivarfs module (a module in Debian's kernels, which
# systemd loads to read the stub's EFI variables: ConditionSecurity=measured-os)
# and its modules.* lists, for the systemd initrd.
wanted+=("initrd-kmod bookworm $kpkg")
# And the modules systemd-sysext needs for a signed Verity DDI: loop,
# device-mapper and dm-verity (with dm-bufio and reed_solomon), erofs (with
# libcrc32c and crc32c) and overlayfs, in a tree of their own.
wanted+=("initrd-dm bookworm $kpkg")
# Newer kernels for the PCR 9 boot tests: trixie's 6.12 and sid's (a
# linux-binary-* package; only vmlinuz is unpacked from each).
k612=$(apt-cache "${apt_opts[@]}" search '^linux-image-6\.12\.[0-9]+\+deb13-amd64-unsigned$' 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
ksid=$(apt-cache "${apt_opts[@]}" search '^linux-binary-[0-9.]+\+deb[0-9]+-amd64$' 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
[ -n "$k612" ] && [ -n "$ksid" ] || { echo "reftools: no trixie 6.12 or sid linux-binary kernel found" >&2; exit 1; }
wanted+=("kernel-612 trixie $k612" "kernel-sid sid $ksid")
# The newest bookworm arm64 kernel (an uncompressed Image with the EFI stub's
# PE header; vmlinuz and two devicetrees of laptops that sid's hwids/aa64
# describe are unpacked) and trixie's riscv64 one (a PE Image; Debian builds
# no unsigned/signed pair for riscv64).
kpkg=$(apt-cache "${apt_opts[@]}" search '^linux-image-[0-9.]+-[0-9]+-arm64-unsigned$' 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
[ -n "$kpkg" ] || { echo "reftools: no linux-image-*-arm64-unsigned found" >&2; exit 1; }
wanted+=("kernel-aa64 bookworm $kpkg:arm64")
kpkg=$(apt-cache "${apt_opts[@]}" search '^linux-image-[0-9.]+\+deb13-riscv64$' 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
[ -n "$kpkg" ] || { echo "reftools: no trixie linux-image-*+deb13-riscv64 found" >&2; exit 1; }
wanted+=("kernel-riscv64 trixie $kpkg:riscv64")

# One madison call for every package. It prints lines such as
#   systemd-boot-efi | 262.1-1 | http://deb.debian.org/debian sid/main amd64 Packages
# (a foreign-architecture package is listed as PKG:ARCH).
pkgs=()
for w in "${wanted[@]}"; do set -- $w; pkgs+=("${3%%=*}"); done
madison=$(apt-cache "${apt_opts[@]}" madison "${pkgs[@]}" 2>/dev/null)

# version SUITE PKG: the newest version of PKG published in SUITE.
version() {
  local suite=$1 base=${2%%:*} arch=amd64
  [ "$base" = "$2" ] || arch=${2#*:}
  printf '%s\n' "$madison" |
    awk -F'|' -v p="$2" -v s="$suite" -v a="$arch" '{
      gsub(/^ +| +$/, "", $1); gsub(/^ +| +$/, "", $2)
      if ($1 == p && index($3, " " s "/main " a " ") > 0) print $2 }' |
    sort -V | tail -n1
}

todo=() downloads=()
for w in "${wanted[@]}"; do
  set -- $w
  if [ "${3#*=}" != "$3" ]; then
    # A pinned version: the one published in the suite or an error.
    pin=${3#*=}
    set -- "$1" "$2" "${3%%=*}"
    ver=$(version "$2" "$3")
    [ "$ver" = "$pin" ] || {
      echo "reftools: $3 is pinned at $pin for $1, but $2 publishes ${ver:-no version}: update the pin" >&2
      exit 1
    }
  else
    ver=$(version "$2" "$3")
  fi
  [ -n "$ver" ] || { echo "reftools: $3 is not published in $2" >&2; exit 1; }
  marker=$dest/$1/.deb-$3
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$ver" ]; then
    continue
  fi
  echo "reftools: $2 $3 $ver -> $1" >&2
  todo+=("$1 $3 $ver")
  downloads+=("$3=$ver")
done

if [ ${#downloads[@]} -gt 0 ]; then
  (cd "$dest/debs" && apt-get "${apt_opts[@]}" -q download "${downloads[@]}" >&2)
fi
for t in "${todo[@]}"; do
  set -- $t
  name=$1 pkg=$2 ver=$3
  base=${pkg%%:*} arch=amd64
  [ "$base" = "$pkg" ] || arch=${pkg#*:}
  # apt names files PKG_VERSION_ARCH.deb with the epoch's colon as %3a.
  deb=$dest/debs/${base}_${ver//:/%3a}_$arch.deb
  [ -f "$deb" ] || deb=$dest/debs/${base}_${ver//:/%3a}_all.deb
  [ -f "$deb" ] || { echo "reftools: downloaded $pkg $ver but cannot find its .deb" >&2; exit 1; }
  mkdir -p "$dest/$name"
  if [ "$name" = kernel ] || [ "$name" = kernel-612 ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './boot/vmlinuz-*'
  elif [ "$name" = initrd-kmod ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './lib/modules/*/kernel/fs/efivarfs/efivarfs.ko' \
      './lib/modules/*/modules.order' './lib/modules/*/modules.builtin' './lib/modules/*/modules.builtin.modinfo'
  elif [ "$name" = initrd-dm ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './lib/modules/*/kernel/drivers/block/loop.ko' \
      './lib/modules/*/kernel/drivers/md/dm-mod.ko' './lib/modules/*/kernel/drivers/md/dm-bufio.ko' \
      './lib/modules/*/kernel/drivers/md/dm-verity.ko' './lib/modules/*/kernel/lib/reed_solomon/reed_solomon.ko' \
      './lib/modules/*/kernel/fs/erofs/erofs.ko' './lib/modules/*/kernel/lib/libcrc32c.ko' \
      './lib/modules/*/kernel/crypto/crc32c_generic.ko' './lib/modules/*/kernel/fs/overlayfs/overlay.ko'
  elif [ "$name" = kernel-sid ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './usr/lib/modules/*/vmlinuz'
  elif [ "$name" = kernel-aa64 ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './boot/vmlinuz-*' \
      './usr/lib/linux-image-*/qcom/sc8280xp-lenovo-thinkpad-x13s.dtb' \
      './usr/lib/linux-image-*/qcom/sdm850-lenovo-yoga-c630.dtb'
  elif [ "$name" = kernel-riscv64 ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './boot/vmlinu[xz]-*'
  else
    dpkg -x "$deb" "$dest/$name"
  fi
  echo "$ver" > "$dest/$name/.deb-$pkg"
done

vmlinuz=$(ls "$dest"/kernel/boot/vmlinuz-* | head -n1)
vmlinuz612=$(ls "$dest"/kernel-612/boot/vmlinuz-* | head -n1)
vmlinuzsid=$(ls "$dest"/kernel-sid/usr/lib/modules/*/vmlinuz | head -n1)
vmlinuz_aa64=$(ls "$dest"/kernel-aa64/boot/vmlinuz-* | head -n1)
vmlinux_riscv64=$(ls "$dest"/kernel-riscv64/boot/vmlinu[xz]-* | head -n1)
dtbs_aa64=$(ls -d "$dest"/kernel-aa64/usr/lib/linux-image-* | head -n1)
libdirs="$dest/sid/usr/lib/x86_64-linux-gnu:$dest/sid/lib/x86_64-linux-gnu:$dest/sid/usr/lib/x86_64-linux-gnu/systemd:$dest/sid/usr/lib/systemd"
cat > "$dest/env.sh" <<ENV
# Written by internal/reftools/fetch.sh; paths to the reference tools.
UKIBUILD_STUB_252=$dest/stub-252/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_254=$dest/stub-254/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_257=$dest/stub-257/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_262=$dest/sid/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_262_IA32=$dest/sid-ia32/usr/lib/systemd/boot/efi/linuxia32.efi.stub
UKIBUILD_ADDON_STUB_262=$dest/sid/usr/lib/systemd/boot/efi/addonx64.efi.stub
UKIBUILD_STUB_252_AA64=$dest/stub-252-aa64/usr/lib/systemd/boot/efi/linuxaa64.efi.stub
UKIBUILD_STUB_254_AA64=$dest/stub-254-aa64/usr/lib/systemd/boot/efi/linuxaa64.efi.stub
UKIBUILD_STUB_257_AA64=$dest/stub-257-aa64/usr/lib/systemd/boot/efi/linuxaa64.efi.stub
UKIBUILD_STUB_262_AA64=$dest/sid-aa64/usr/lib/systemd/boot/efi/linuxaa64.efi.stub
UKIBUILD_ADDON_STUB_254_AA64=$dest/stub-254-aa64/usr/lib/systemd/boot/efi/addonaa64.efi.stub
UKIBUILD_ADDON_STUB_257_AA64=$dest/stub-257-aa64/usr/lib/systemd/boot/efi/addonaa64.efi.stub
UKIBUILD_ADDON_STUB_262_AA64=$dest/sid-aa64/usr/lib/systemd/boot/efi/addonaa64.efi.stub
UKIBUILD_STUB_257_RISCV64=$dest/stub-257-riscv64/usr/lib/systemd/boot/efi/linuxriscv64.efi.stub
UKIBUILD_STUB_262_RISCV64=$dest/sid-riscv64/usr/lib/systemd/boot/efi/linuxriscv64.efi.stub
UKIBUILD_ADDON_STUB_257_RISCV64=$dest/stub-257-riscv64/usr/lib/systemd/boot/efi/addonriscv64.efi.stub
UKIBUILD_ADDON_STUB_262_RISCV64=$dest/sid-riscv64/usr/lib/systemd/boot/efi/addonriscv64.efi.stub
UKIBUILD_SYSTEMD_BOOT_262=$dest/sid/usr/lib/systemd/boot/efi/systemd-bootx64.efi
UKIBUILD_UKIFY=$dest/sid/usr/lib/systemd/ukify
UKIBUILD_SID_ROOT=$dest/sid
UKIBUILD_SID_LIBRARY_PATH=$libdirs
UKIBUILD_SID_PYTHONPATH=$dest/sid/usr/lib/python3/dist-packages
UKIBUILD_SID_SYSTEMD=$dest/sid-systemd
UKIBUILD_KERNEL_INSTALL=$dest/sid-systemd/usr/bin/kernel-install
UKIBUILD_SYSTEMD_SBSIGN=$dest/sid/usr/lib/systemd/systemd-sbsign
UKIBUILD_KERNEL=$vmlinuz
UKIBUILD_KERNEL_612=$vmlinuz612
UKIBUILD_KERNEL_SID=$vmlinuzsid
UKIBUILD_KERNEL_AA64=$vmlinuz_aa64
UKIBUILD_DTB_AA64_X13S=$dtbs_aa64/qcom/sc8280xp-lenovo-thinkpad-x13s.dtb
UKIBUILD_DTB_AA64_C630=$dtbs_aa64/qcom/sdm850-lenovo-yoga-c630.dtb
UKIBUILD_KERNEL_RISCV64=$vmlinux_riscv64
UKIBUILD_SHIM_161=$dest/shim-161/usr/lib/shim/shimx64.efi
UKIBUILD_SHIM_161_MM=$dest/shim-161/usr/lib/shim/mmx64.efi
UKIBUILD_SHIM_161_AA64=$dest/shim-161-aa64/usr/lib/shim/shimaa64.efi
UKIBUILD_SHIM_161_AA64_MM=$dest/shim-161-aa64/usr/lib/shim/mmaa64.efi
UKIBUILD_INITRD_262_ROOT=$dest/initrd-262
UKIBUILD_INITRD_KMOD=$dest/initrd-kmod
UKIBUILD_INITRD_DM=$dest/initrd-dm
UKIBUILD_MKFS_EROFS=$dest/erofs-trixie/usr/bin/mkfs.erofs
UKIBUILD_MKFS_EROFS_LOADER=$dest/erofs-trixie/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
UKIBUILD_MKFS_EROFS_LIBRARY_PATH=$dest/erofs-trixie/usr/lib/x86_64-linux-gnu:$dest/erofs-trixie/lib/x86_64-linux-gnu
ENV
# systemd-measure of each release: the binary, the ld.so to run it with and
# the library path (see reftools.Tools.MeasureVersion).
# measure_env VERSION DIR LIBROOT
measure_env() {
  local v=$1 dir=$2 root=$3 bin="" loader="" f
  for f in "$dir"/usr/lib/systemd/systemd-measure "$dir"/lib/systemd/systemd-measure; do
    if [ -z "$bin" ] && [ -f "$f" ]; then bin=$f; fi
  done
  for f in "$root"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root"/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
    if [ -z "$loader" ] && [ -e "$f" ]; then loader=$f; fi
  done
  [ -n "$bin" ] && [ -n "$loader" ] || { echo "reftools: no systemd-measure or ld.so in $dir, $root" >&2; exit 1; }
  echo "UKIBUILD_MEASURE_$v=$bin"
  echo "UKIBUILD_MEASURE_${v}_LOADER=$loader"
  echo "UKIBUILD_MEASURE_${v}_LIBRARY_PATH=$dir/usr/lib/x86_64-linux-gnu/systemd:$dir/usr/lib/systemd:$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu"
}
{
  measure_env 252 "$dest/measure-252" "$dest/bookworm-libs"
  measure_env 254 "$dest/measure-254" "$dest/bookworm-libs"
  measure_env 257 "$dest/measure-257" "$dest/measure-257"
  cpio_bin=""
  for f in "$dest"/cpio-215/usr/bin/cpio "$dest"/cpio-215/bin/cpio; do
    if [ -z "$cpio_bin" ] && [ -f "$f" ]; then cpio_bin=$f; fi
  done
  [ -n "$cpio_bin" ] || { echo "reftools: no cpio in $dest/cpio-215" >&2; exit 1; }
  echo "UKIBUILD_CPIO_215=$cpio_bin"
  echo "UKIBUILD_CPIO_215_LOADER=$dest/measure-257/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  echo "UKIBUILD_CPIO_215_LIBRARY_PATH=$dest/measure-257/usr/lib/x86_64-linux-gnu:$dest/measure-257/lib/x86_64-linux-gnu"
  echo "UKIBUILD_MEASURE_262=$dest/sid/usr/lib/systemd/systemd-measure"
  echo "UKIBUILD_MEASURE_262_LOADER=$dest/sid/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  echo "UKIBUILD_MEASURE_262_LIBRARY_PATH=$libdirs"
} >> "$dest/env.sh"
# systemd-creds of each release (the creds tests), run like systemd-measure
# above: 262 from sid's systemd package with sid's libraries, the older ones
# from the measure-* trees. sid's and trixie's libtss2-tcti-swtpm (fetched
# above) let 262 and 257 talk to swtpm (--tpm2-device=swtpm:path=SOCK); 252
# and 254 are only used for host and null keys.
# creds_env VERSION BINARY LOADER LIBRARY_PATH
creds_env() {
  [ -f "$2" ] && [ -e "$3" ] || { echo "reftools: no systemd-creds $1 at $2" >&2; exit 1; }
  echo "UKIBUILD_CREDS_$1=$2"
  echo "UKIBUILD_CREDS_$1_LOADER=$3"
  echo "UKIBUILD_CREDS_$1_LIBRARY_PATH=$4"
}
{
  . "$dest/env.sh"
  creds_env 252 "$dest/measure-252/bin/systemd-creds" "$UKIBUILD_MEASURE_252_LOADER" "$UKIBUILD_MEASURE_252_LIBRARY_PATH"
  creds_env 254 "$dest/measure-254/bin/systemd-creds" "$UKIBUILD_MEASURE_254_LOADER" "$UKIBUILD_MEASURE_254_LIBRARY_PATH"
  creds_env 257 "$dest/measure-257/usr/bin/systemd-creds" "$UKIBUILD_MEASURE_257_LOADER" "$UKIBUILD_MEASURE_257_LIBRARY_PATH"
  creds_env 262 "$dest/sid-systemd/usr/bin/systemd-creds" "$UKIBUILD_MEASURE_262_LOADER" "$UKIBUILD_MEASURE_262_LIBRARY_PATH"
} >> "$dest/env.sh"
echo "reftools: ready in $dest" >&2
