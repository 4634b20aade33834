#!/usr/bin/env bash
# Fetch the reference tools the tests compare against: Debian's systemd stubs
# (252 bookworm, 254 bookworm-backports, 257 trixie, 262.x sid), ukify and
# systemd's sid binaries with the sid libraries they need, and a Debian kernel.
#
# Nothing is installed on the host: a private apt configuration (its own
# sources, lists and cache under the target directory) downloads the .deb
# files and dpkg -x unpacks each into its own directory. The host's systemd is
# never touched.
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
cat > "$apt_root/etc/sources.list" <<SRC
deb [arch=amd64 signed-by=$keyring] $mirror bookworm main
deb [arch=amd64 signed-by=$keyring] $mirror bookworm-updates main
deb [arch=amd64 signed-by=$keyring] $mirror bookworm-backports main
deb [arch=amd64 signed-by=$keyring] $mirror trixie main
deb [arch=amd64,i386 signed-by=$keyring] $mirror sid main
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
  -o "APT::Architectures=amd64,i386"
  -o "Acquire::Check-Valid-Until=false"
  -o "Acquire::Languages=none"
  -o "Acquire::Retries=3"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
)

stamp=$dest/.apt-updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  echo "reftools: updating private apt lists in $apt_root" >&2
  apt-get "${apt_opts[@]}" -q update >&2
  touch "$stamp"
fi

# madison prints the suite as e.g. "deb.debian.org/debian sid/main amd64 Packages";
# match on " SUITE/main".
candidate() {
  apt-cache "${apt_opts[@]}" madison "$2" 2>/dev/null |
    awk -F'|' -v s="$1" '{gsub(/^ +| +$/, "", $2)} index($3, " " s "/main ") > 0 {print $2}' |
    sort -V | tail -n1
}

# get NAME SUITE PKG: download PKG from SUITE and unpack it into $dest/NAME.
get() {
  local name=$1 suite=$2 pkg=$3 ver
  ver=$(candidate "$suite" "$pkg")
  if [ -z "$ver" ]; then
    echo "reftools: $pkg is not published in $suite" >&2
    return 1
  fi
  local marker=$dest/$name/.deb-$pkg
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$ver" ]; then
    return 0
  fi
  echo "reftools: $suite $pkg $ver -> $name" >&2
  (cd "$dest/debs" && apt-get "${apt_opts[@]}" -q download "$pkg=$ver" >&2)
  local base=${pkg%%:*} arch=amd64 deb
  [ "$base" = "$pkg" ] || arch=${pkg#*:}
  deb=$(ls -t "$dest"/debs/"${base}"_*_"$arch".deb "$dest"/debs/"${base}"_*_all.deb 2>/dev/null | head -n1 || true)
  [ -n "$deb" ] || { echo "reftools: downloaded $pkg but cannot find its .deb" >&2; return 1; }
  mkdir -p "$dest/$name"
  if [ "$name" = kernel ]; then
    # Only the kernel image is needed, not the modules.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest/$name" --wildcards './boot/vmlinuz-*'
  else
    dpkg -x "$deb" "$dest/$name"
  fi
  echo "$ver" > "$marker"
}

get stub-252 bookworm systemd-boot-efi
get stub-254 bookworm-backports systemd-boot-efi
get stub-257 trixie systemd-boot-efi
get sid sid systemd-boot-efi
get sid-ia32 sid systemd-boot-efi:i386
get sid sid systemd-ukify
get sid sid python3-pefile
get sid sid libc6
get sid sid libssl3t64
get sid sid libsystemd-shared
get sid sid systemd-tpm
get sid sid systemd-repart
get sid sid libcrypt1
get sid sid libacl1
get sid sid libcap2
get sid sid libblkid1
get sid sid libmount1
get sid sid libselinux1
get sid sid libpcre2-8-0
get sid sid libzstd1
get sid sid liblzma5
get sid sid libseccomp2
get sid sid libaudit1
get sid sid libcap-ng0
get sid sid libgcrypt20
get sid sid libgpg-error0
get sid sid liblz4-1
get sid sid libkmod2

# The newest bookworm unsigned kernel image (vmlinuz only is used).
kpkg=$(apt-cache "${apt_opts[@]}" search '^linux-image-[0-9.]+-[0-9]+-amd64-unsigned$' 2>/dev/null | awk '{print $1}' | sort -V | tail -n1)
[ -n "$kpkg" ] || { echo "reftools: no linux-image-*-amd64-unsigned found" >&2; exit 1; }
get kernel bookworm "$kpkg"

vmlinuz=$(ls "$dest"/kernel/boot/vmlinuz-* | head -n1)
libdirs="$dest/sid/usr/lib/x86_64-linux-gnu:$dest/sid/lib/x86_64-linux-gnu:$dest/sid/usr/lib/x86_64-linux-gnu/systemd:$dest/sid/usr/lib/systemd"
cat > "$dest/env.sh" <<ENV
# Written by internal/reftools/fetch.sh; paths to the reference tools.
UKIBUILD_STUB_252=$dest/stub-252/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_254=$dest/stub-254/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_257=$dest/stub-257/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_262=$dest/sid/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UKIBUILD_STUB_262_IA32=$dest/sid-ia32/usr/lib/systemd/boot/efi/linuxia32.efi.stub
UKIBUILD_ADDON_STUB_262=$dest/sid/usr/lib/systemd/boot/efi/addonx64.efi.stub
UKIBUILD_UKIFY=$dest/sid/usr/lib/systemd/ukify
UKIBUILD_SID_ROOT=$dest/sid
UKIBUILD_SID_LIBRARY_PATH=$libdirs
UKIBUILD_SID_PYTHONPATH=$dest/sid/usr/lib/python3/dist-packages
UKIBUILD_KERNEL=$vmlinuz
ENV
echo "reftools: ready in $dest" >&2
