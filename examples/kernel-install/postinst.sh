#!/bin/sh
# %post (RPM) / postinst (deb) snippet of a kernel package: kernel-install
# runs its plugins, and with layout=uki and uki_generator=ukibuild in
# /etc/kernel/install.conf, 60-ukibuild.install builds
# $BOOT/EFI/Linux/<entry-token>-<version>.efi with /etc/kernel/uki.conf.
# KVER is the version of the installed kernel.
set -e
KVER=${1:?kernel version}
if command -v kernel-install >/dev/null; then
    kernel-install add "$KVER" "/usr/lib/modules/$KVER/vmlinuz"
fi
