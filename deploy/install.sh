#!/bin/bash
# Install gatewayd from a built binary on a systemd host (a Raspberry Pi
# without the Debian package, or a PC), or uninstall it.
#
#   sudo deploy/install.sh [GATEWAYD [GATEWAYCTL]]  install or update
#                                                (default ./gatewayd, and gatewayctl
#                                                beside it: bin/gatewayd -> bin/gatewayctl,
#                                                bin/gatewayd-linux-arm64 -> bin/gatewayctl-linux-arm64)
#   sudo deploy/install.sh --uninstall           remove it, keep /etc/gatewayd
#   sudo deploy/install.sh --uninstall --purge   remove it, /etc/gatewayd and /var/lib/gatewayd
#   deploy/install.sh --root DIR [...]           the same into a scratch root
#                                                (DESTDIR=DIR works too)
#
# What goes where (the Debian package owns /usr and /lib instead; the two
# are not meant to be mixed, so this script refuses to run over the package):
#   /usr/local/sbin/gatewayd                         the daemon
#   /usr/local/bin/gatewayctl                        the client
#   /usr/local/share/man/man{1,5,8}/*.gz             gatewayctl(1), gatewayd.yaml(5), gatewayd(8)
#   /usr/local/share/doc/gatewayd/examples/cloud-broker.conf  a drop-in for a broker outside the LAN
#   /usr/local/lib/systemd/system/gatewayd.{service,socket}
#   /usr/local/lib/sysusers.d/gatewayd.conf          the gatewayd user, gpio group
#   /etc/gatewayd/gatewayd.yaml                      the config, never overwritten
#   /etc/gatewayd/gatewayd.yaml.dist                 a newer default, when yours differs
#   /etc/avahi/services/gatewayd.service             the mDNS advert, never overwritten
#
# It is idempotent: a second run changes nothing but the binary and units
# (restarting the service if it runs, while the socket keeps accepting). Units
# are enabled only by the first install, so an admin's `systemctl disable` of
# one of them survives updates.
#
# With --root the host is left alone: no systemctl calls that reach the
# running manager and nothing written outside DIR. The user and group are
# created with `systemd-sysusers --root=DIR`, which edits DIR/etc/passwd and
# friends without chrooting (so DIR needs no shell or libraries), and the
# units are enabled with `systemctl --root=DIR enable`, which only creates
# symlinks in DIR. Both are the very commands a real install runs, so a test
# against a scratch root exercises the real code path.
#
# The system user is kept on --purge, as Debian does: files it owned would
# otherwise be left to whoever gets its uid next.
set -euo pipefail
# Whatever the caller's umask, installed files and directories are readable
# by the gatewayd user (the files' own modes are set explicitly).
umask 022

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat >&2 <<EOF
usage: $prog [--root DIR] [GATEWAYD [GATEWAYCTL]]
       $prog [--root DIR] --uninstall [--purge]
EOF
	exit 2
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

root=${DESTDIR:-}
uninstall=0
purge=0
binary=
ctl=
while [ $# -gt 0 ]; do
	case $1 in
	--root)
		[ $# -ge 2 ] || usage
		root=$2
		shift 2
		;;
	--root=*)
		root=${1#--root=}
		shift
		;;
	--uninstall)
		uninstall=1
		shift
		;;
	--purge)
		purge=1
		shift
		;;
	-h | --help) usage ;;
	-*) echo "$prog: unknown flag $1" >&2; usage ;;
	*)
		if [ -z "$binary" ]; then
			binary=$1
		elif [ -z "$ctl" ]; then
			ctl=$1
		else
			usage
		fi
		shift
		;;
	esac
done
[ "$purge" = 0 ] || [ "$uninstall" = 1 ] || die "--purge goes with --uninstall"

if [ -n "$root" ]; then
	[ -d "$root" ] || die "root $root: not a directory"
	root=$(cd "$root" && pwd)
	[ "$root" != / ] || root=
fi

bindir=$root/usr/local/bin
sbindir=$root/usr/local/sbin
mandir=$root/usr/local/share/man
exampledir=$root/usr/local/share/doc/gatewayd/examples
manpages="man8/gatewayd.8.gz man5/gatewayd.yaml.5.gz man1/gatewayctl.1.gz"
unitdir=$root/usr/local/lib/systemd/system
sysusersdir=$root/usr/local/lib/sysusers.d
confdir=$root/etc/gatewayd
units="gatewayd.socket gatewayd.service"

# host is true when this run manages the live system: then systemctl talks to
# the running manager (if there is one).
host() { [ -z "$root" ]; }
have_systemd() { host && [ -d /run/systemd/system ]; }
# systemctl for enable/disable: offline with --root, live otherwise.
sysctl_offline() {
	if host; then systemctl "$@"; else systemctl --root="$root" "$@"; fi
}

if [ "$(id -u)" != 0 ]; then
	# A scratch root may belong to the caller; the host needs root.
	host && die "run as root (sudo $0 $*)"
fi
if host && dpkg-query -W -f='${Status}' gatewayd 2>/dev/null | grep -q 'ok installed'; then
	die "the gatewayd Debian package is installed; update it with apt, or remove it first"
fi

# install_file MODE SRC DST: copy through a temporary file and rename, so a
# running binary is replaced, never rewritten in place, and a half-written
# file is never seen.
install_file() {
	local mode=$1 src=$2 dst=$3 tmp
	mkdir -p "$(dirname "$dst")"
	tmp=$(mktemp "$dst.XXXXXX")
	cp "$src" "$tmp"
	chmod "$mode" "$tmp"
	mv -f "$tmp" "$dst"
}

do_uninstall() {
	if [ -e "$unitdir/gatewayd.service" ]; then
		if have_systemd; then
			# shellcheck disable=SC2086 # two unit names
			systemctl disable --now $units || true
		elif host; then
			# shellcheck disable=SC2086
			systemctl disable $units || true
		else
			# shellcheck disable=SC2086
			systemctl --root="$root" disable $units
		fi
	fi
	rm -f "$unitdir/gatewayd.service" "$unitdir/gatewayd.socket" \
		"$sysusersdir/gatewayd.conf" "$sbindir/gatewayd" "$bindir/gatewayctl"
	for page in $manpages; do
		rm -f "$mandir/$page"
	done
	rm -f "$exampledir/cloud-broker.conf"
	rmdir "$exampledir" "${exampledir%/examples}" 2>/dev/null || true
	if have_systemd; then
		systemctl daemon-reload
	fi
	# An unedited Avahi service file goes: it would advertise a gateway
	# that is no longer there.
	if [ "$purge" = 1 ] || cmp -s "$here/avahi/gatewayd.service" "$root/etc/avahi/services/gatewayd.service"; then
		rm -f "$root/etc/avahi/services/gatewayd.service"
	fi
	if [ "$purge" = 1 ]; then
		# The state directory holds the MQTT bridge's disk queue.
		rm -rf "$confdir" "$root/var/lib/gatewayd"
		echo "$prog: removed gatewayd, its configuration and its queue"
	else
		echo "$prog: removed gatewayd; configuration kept in ${confdir}"
	fi
}

do_install() {
	binary=${binary:-./gatewayd}
	if [ -z "$ctl" ]; then
		local base=${binary##*/}
		ctl=$(dirname "$binary")/${base/gatewayd/gatewayctl}
	fi
	local b
	for b in "$binary" "$ctl"; do
		if [ ! -f "$b" ] || [ ! -x "$b" ]; then
			die "binary $b: not an executable file (build both: make build)"
		fi
	done
	local conf_src=$here/../configs/gatewayd.yaml
	[ -f "$conf_src" ] || die "default config $conf_src: missing"
	command -v systemd-sysusers >/dev/null || die "systemd-sysusers not found: this script needs systemd"

	# The binary is installed last: its absence marks an install that has
	# not completed, so a rerun after a failure still enables the units.
	local fresh=0
	[ -e "$sbindir/gatewayd" ] || fresh=1

	# User and group first: the files below may be owned by them.
	install_file 0644 "$here/gatewayd.sysusers" "$sysusersdir/gatewayd.conf"
	mkdir -p "$root/etc"
	if host; then
		systemd-sysusers gatewayd.conf
	else
		systemd-sysusers --root="$root" gatewayd.conf
	fi

	# The config is the admin's once it exists: never overwritten. A changed
	# default lands beside it as .dist, to compare and merge by hand.
	mkdir -p "$confdir"
	chmod 0755 "$confdir"
	if [ ! -e "$confdir/gatewayd.yaml" ]; then
		install_file 0644 "$conf_src" "$confdir/gatewayd.yaml"
		rm -f "$confdir/gatewayd.yaml.dist"
	elif cmp -s "$conf_src" "$confdir/gatewayd.yaml"; then
		rm -f "$confdir/gatewayd.yaml.dist"
	else
		install_file 0644 "$conf_src" "$confdir/gatewayd.yaml.dist"
		echo "$prog: kept your $confdir/gatewayd.yaml; the new default is gatewayd.yaml.dist beside it"
	fi

	# The Avahi service file is the admin's too (its port and tls= follow
	# the config), so an existing one is kept.
	if [ ! -e "$root/etc/avahi/services/gatewayd.service" ]; then
		install_file 0644 "$here/avahi/gatewayd.service" "$root/etc/avahi/services/gatewayd.service"
	fi

	# Units: the same files as the package's, with the binary's local path.
	local tmp
	tmp=$(mktemp)
	sed -e 's|^ExecStart=/usr/sbin/gatewayd |ExecStart=/usr/local/sbin/gatewayd |' \
		-e 's|^ExecReload=/usr/bin/gatewayctl |ExecReload=/usr/local/bin/gatewayctl |' \
		"$here/gatewayd.service" >"$tmp"
	grep -q '^ExecStart=/usr/local/sbin/gatewayd ' "$tmp" || die "gatewayd.service: ExecStart not rewritten"
	grep -q '^ExecReload=/usr/local/bin/gatewayctl ' "$tmp" || die "gatewayd.service: ExecReload not rewritten"
	install_file 0644 "$tmp" "$unitdir/gatewayd.service"
	rm -f "$tmp"
	install_file 0644 "$here/gatewayd.socket" "$unitdir/gatewayd.socket"

	if [ "$fresh" = 1 ]; then
		# shellcheck disable=SC2086
		sysctl_offline enable $units
	fi

	# The manual pages, compressed as man-db expects; -n keeps the same page
	# byte for byte the same, so a rerun changes nothing.
	local page name
	for page in "$here"/man/*.[0-9]; do
		name=${page##*/}
		tmp=$(mktemp)
		gzip -9nc "$page" >"$tmp"
		install_file 0644 "$tmp" "$mandir/man${name##*.}/$name.gz"
		rm -f "$tmp"
	done
	# Examples: the drop-in for a broker outside the LAN.
	install_file 0644 "$here/systemd/cloud-broker.conf" "$exampledir/cloud-broker.conf"
	install_file 0755 "$ctl" "$bindir/gatewayctl"

	install_file 0755 "$binary" "$sbindir/gatewayd"

	if have_systemd; then
		systemctl daemon-reload
		if [ "$fresh" = 1 ]; then
			# Socket first, so the service is handed the listening socket.
			# shellcheck disable=SC2086
			systemctl start $units
		else
			# Only the service: the socket stays open and queues clients
			# while the new binary starts.
			systemctl try-restart gatewayd.service
		fi
		echo "$prog: installed; see: systemctl status gatewayd"
	elif host; then
		echo "$prog: installed, but systemd is not running here: nothing started"
	else
		echo "$prog: installed into $root"
	fi
}

if [ "$uninstall" = 1 ]; then
	do_uninstall
else
	do_install
fi
