#!/bin/bash
# Build the gatewayd Debian package with dpkg-deb alone (no debhelper, no
# fakeroot: --root-owner-group makes every file root's).
#
#   deploy/build-deb.sh ARCH VERSION OUTDIR [BINARY]
#
# ARCH is a Debian architecture: arm64 (Pi 3/4/5, Zero 2 W on a 64-bit OS),
# armhf (Raspberry Pi OS 32-bit: its armhf is ARMv6 hard-float, so the armv6
# binary, which also runs on every later Pi) or amd64 (a PC). BINARY defaults
# to the Makefile's cross build for ARCH in bin/. VERSION is any version
# string, e.g. from `git describe`; it is turned into a valid Debian version
# (v1.2.3-4-gabcdef -> 1.2.3+4+gitabcdef, a bare commit abcdef -> 0~gitabcdef).
# Prints the path of the .deb it wrote.
set -euo pipefail
umask 022

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

die() {
	echo "$prog: $*" >&2
	exit 1
}

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $prog ARCH VERSION OUTDIR [BINARY]" >&2
	exit 2
fi
arch=$1 version=$2 outdir=$3

case $arch in
arm64) default_bin=gatewayd-linux-arm64 ;;
armhf) default_bin=gatewayd-linux-armv6 ;;
amd64) default_bin=gatewayd-linux-amd64 ;;
*) die "architecture $arch: want arm64, armhf or amd64" ;;
esac
binary=${4:-$top/bin/$default_bin}
[ -f "$binary" ] || die "binary $binary: missing (make cross)"

# debian_version turns a git describe string into a Debian version: digits
# first, no hyphen (there is no Debian revision), ~ sorting before releases.
debian_version() {
	local v=${1#v}
	v=${v//-/+}
	v=${v//_/.}
	# A release looks like 1.2...; anything else (a bare commit) sorts
	# before every release.
	[[ $v =~ ^[0-9]+\. ]] || v=0~git$v
	printf '%s\n' "${v//+g/+git}"
}
debver=$(debian_version "$version")
dpkg --validate-version "$debver" 2>/dev/null || die "version $version: gives invalid Debian version $debver"

# Catch a binary built for the wrong machine before a Pi does: `file` is not
# always there, the ELF header is. Byte 18 (e_machine): 0xb7 aarch64,
# 0x28 arm, 0x3e x86-64.
want_machine=$(case $arch in arm64) echo b7 ;; armhf) echo 28 ;; amd64) echo 3e ;; esac)
got_machine=$(od -An -tx1 -j18 -N1 "$binary" | tr -d ' \n')
[ "$got_machine" = "$want_machine" ] || die "binary $binary: ELF machine 0x$got_machine, want 0x$want_machine for $arch"

mkdir -p "$outdir"
stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$binary" "$stage/usr/bin/gatewayd"
install -D -m 0644 "$top/configs/gatewayd.yaml" "$stage/etc/gatewayd/gatewayd.yaml"
install -D -m 0644 "$here/gatewayd.service" "$stage/lib/systemd/system/gatewayd.service"
install -D -m 0644 "$here/gatewayd.socket" "$stage/lib/systemd/system/gatewayd.socket"
install -D -m 0644 "$here/gatewayd.sysusers" "$stage/usr/lib/sysusers.d/gatewayd.conf"
install -D -m 0644 "$here/avahi/gatewayd.service" "$stage/etc/avahi/services/gatewayd.service"

mkdir -p "$stage/DEBIAN"
for script in postinst prerm postrm; do
	install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
done
# dpkg keeps an edited config on upgrade and asks before replacing it.
printf '%s\n' /etc/gatewayd/gatewayd.yaml /etc/avahi/services/gatewayd.service >"$stage/DEBIAN/conffiles"
(cd "$stage" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# The binary is static (CGO_ENABLED=0): no libc dependency. systemd-sysusers
# creates the user, as dh_installsysusers arranges on newer Debian.
cat >"$stage/DEBIAN/control" <<EOF
Package: gatewayd
Version: $debver
Architecture: $arch
Maintainer: gatewayd maintainers <maintainers@gatewayd.invalid>
Installed-Size: $installed_size
Depends: systemd | systemd-standalone-sysusers | systemd-sysusers
Section: net
Priority: optional
Homepage: https://github.com/gatewayd/gatewayd
Description: IoT gateway: TCP echo server with GPIO status LEDs
 gatewayd echoes every byte its clients send and shows connections,
 messages and its own health on LEDs wired to a Raspberry Pi's GPIO pins.
 It runs as a hardened, socket-activated systemd service under its own
 user; the configuration is /etc/gatewayd/gatewayd.yaml.
EOF

deb=$outdir/gatewayd_${debver}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
