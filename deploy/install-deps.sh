#!/bin/bash
# Install the Debian packages the deploy tests and `make lint` use. Idempotent:
# packages already installed are not fetched again, and apt is not touched at
# all when nothing is missing. Run as root (CI is); prints what it installs.
#
#   systemd:             systemd-analyze (verify, security), systemd-sysusers,
#                        systemctl --root, systemd-socket-activate
#   qemu-user-static:    qemu-aarch64-static, qemu-arm-static for the ARM builds
#   the linter package:  lints deploy/*.sh and the maintainer scripts
#   init-system-helpers: deb-systemd-helper, used by the maintainer scripts
#   util-linux:          setpriv and unshare for the PrivateUsers= check
#   systemd-container:   systemd-nspawn, to boot systemd with the package's units
#   iproute2:            ip, used inside that container
#   mosquitto(-clients): the real MQTT broker the gateway/bridge tests start
#   openssl:             s_client, which shows gateway/tlsconf's TLS 1.2 suite
#   lintian:             Debian's package checker, run on both .debs
#   man-db:              man, to render the manual pages with warnings on
#   g++, libssl-dev:     build the ESP32 example against deploy/esp32/hostshim (OpenSSL
#                        backs its TLS client)
#   arduino-builder, arduino-ctags:
#                        build that example as the Arduino IDE does, prototypes
#                        from ctags included, with the shim as the platform
#   avahi-daemon, avahi-utils, dbus:
#                        the package test's container publishes the Avahi
#                        service file and finds it with avahi-browse
# dpkg (dpkg-deb) and coreutils are essential: always there.
set -euo pipefail

pkgs=(systemd curl systemd-container iproute2 qemu-user-static shellcheck init-system-helpers util-linux mosquitto mosquitto-clients rabbitmq-server openssl lintian man-db g++ libssl-dev avahi-daemon avahi-utils dbus arduino-builder arduino-ctags chromium)
# Other scripts name their own packages: deploy/install-deps.sh PKG...
if [ $# -gt 0 ]; then
	pkgs=("$@")
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all present: ${pkgs[*]}"
	exit 0
fi

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
