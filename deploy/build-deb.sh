#!/bin/bash
# Build the gatewayd Debian package with dpkg-deb alone (no debhelper, no
# fakeroot: --root-owner-group makes every file root's).
#
#   deploy/build-deb.sh ARCH VERSION OUTDIR [GATEWAYD [GATEWAYCTL]]
#
# ARCH is a Debian architecture: arm64 (Pi 3/4/5, Zero 2 W on a 64-bit OS),
# armhf (Raspberry Pi OS 32-bit: its armhf is ARMv6 hard-float, so the armv6
# binaries, which also run on every later Pi) or amd64 (a PC). The binaries
# default to the Makefile's cross builds for ARCH in bin/. VERSION goes
# through deploy/version.sh (v1.2.3-4-gabcdef0 -> 1.2.3+4+gitabcdef0), the
# same script that stamps the binaries, so the package and `gatewayd
# -version` say the same thing.
#
# The package is reproducible: every date in it is SOURCE_DATE_EPOCH (the
# last commit's time when unset), gzip stores no name or time, and dpkg-deb
# sorts the archive and compresses on one thread, so two builds of one commit
# are byte for byte the same.
#
# Prints the path of the .deb it wrote.
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

die() {
	echo "$prog: $*" >&2
	exit 1
}

if [ $# -lt 3 ] || [ $# -gt 5 ]; then
	echo "usage: $prog ARCH VERSION OUTDIR [GATEWAYD [GATEWAYCTL]]" >&2
	exit 2
fi
arch=$1 version=$2 outdir=$3

case $arch in
arm64) goarch=arm64 ;;
armhf) goarch=armv6 ;;
amd64) goarch=amd64 ;;
*) die "architecture $arch: want arm64, armhf or amd64" ;;
esac
daemon=${4:-$top/bin/gatewayd-linux-$goarch}
ctl=${5:-$top/bin/gatewayctl-linux-$goarch}
for b in "$daemon" "$ctl"; do
	[ -f "$b" ] || die "binary $b: missing (make cross)"
done

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null) ||
		die "SOURCE_DATE_EPOCH is unset and $top is not a git checkout: set it to the release's date (seconds since 1970)"
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH: want seconds since 1970"
export SOURCE_DATE_EPOCH

debver=$("$here/version.sh" "$version") || die "version $version: not usable (see above)"
dpkg --validate-version "$debver" 2>/dev/null || die "version $version: gives invalid Debian version $debver"

# Catch a binary built for the wrong machine before a Pi does: `file` is not
# always there, the ELF header is. Byte 18 (e_machine): 0xb7 aarch64,
# 0x28 arm, 0x3e x86-64.
want_machine=$(case $arch in arm64) echo b7 ;; armhf) echo 28 ;; amd64) echo 3e ;; esac)
for b in "$daemon" "$ctl"; do
	got_machine=$(od -An -tx1 -j18 -N1 "$b" | tr -d ' \n')
	[ "$got_machine" = "$want_machine" ] || die "binary $b: ELF machine 0x$got_machine, want 0x$want_machine for $arch"
done

mkdir -p "$outdir"
stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT

doc=$stage/usr/share/doc/gatewayd
install -D -m 0755 "$daemon" "$stage/usr/sbin/gatewayd"
install -D -m 0755 "$ctl" "$stage/usr/bin/gatewayctl"
install -D -m 0644 "$top/configs/gatewayd.yaml" "$stage/etc/gatewayd/gatewayd.yaml"
install -D -m 0644 "$here/gatewayd.service" "$stage/lib/systemd/system/gatewayd.service"
install -D -m 0644 "$here/gatewayd.socket" "$stage/lib/systemd/system/gatewayd.socket"
install -D -m 0644 "$here/gatewayd.sysusers" "$stage/usr/lib/sysusers.d/gatewayd.conf"
install -D -m 0644 "$here/avahi/gatewayd.service" "$stage/etc/avahi/services/gatewayd.service"
install -D -m 0644 "$here/debian/copyright" "$doc/copyright"
install -D -m 0644 "$here/systemd/cloud-broker.conf" "$doc/examples/cloud-broker.conf"
install -D -m 0644 "$here/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/gatewayd"
for page in "$here"/man/*.[0-9]; do
	name=${page##*/}
	install -D -m 0644 "$page" "$stage/usr/share/man/man${name##*.}/$name"
	gzip -9n "$stage/usr/share/man/man${name##*.}/$name"
done

# The changelog: deploy/debian/changelog, under an entry for this build
# when it is not a release listed there, dated SOURCE_DATE_EPOCH like
# everything else. A native package (no Debian revision: the project is its
# own upstream) ships it as changelog.gz, not changelog.Debian.gz.
{
	if ! head -n1 "$here/debian/changelog" | grep -qF "gatewayd ($debver)"; then
		printf 'gatewayd (%s) unstable; urgency=medium\n\n' "$debver"
		printf '  * Development build of %s; see the git history for the\n' "$version"
		printf '    changes since the entry below.\n\n'
		printf ' -- gatewayd maintainers <maintainers@gatewayd.invalid>  %s\n\n' \
			"$(date -R -u -d "@$SOURCE_DATE_EPOCH")"
	fi
	cat "$here/debian/changelog"
} >"$doc/changelog"
gzip -9n "$doc/changelog"

mkdir -p "$stage/DEBIAN"
for script in postinst prerm postrm; do
	install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
done
# dpkg keeps an edited config on upgrade and asks before replacing it.
printf '%s\n' /etc/gatewayd/gatewayd.yaml /etc/avahi/services/gatewayd.service >"$stage/DEBIAN/conffiles"
(cd "$stage" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

# As dpkg-gencontrol counts it: each file's size in KiB rounded up, plus one
# for each directory, so the figure does not depend on the file system.
installed_size=$(cd "$stage" && find etc usr lib ! -type d -printf '%s\n' | awk '{ k += int(($1 + 1023) / 1024) } END { print k }')
installed_size=$((installed_size + $(cd "$stage" && find etc usr lib -type d | wc -l)))
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
 .
 gatewayctl, the client, sends messages, load-tests a gateway and shows
 the daemon's status.
EOF

# Every date in the archive is the release's; dpkg-deb dates the ar members
# with SOURCE_DATE_EPOCH itself.
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$outdir/gatewayd_${debver}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --threads-max=1 --build "$stage" "$deb" >/dev/null
echo "$deb"
