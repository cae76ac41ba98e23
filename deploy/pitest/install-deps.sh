#!/bin/bash
# Install the Debian packages the emulated Raspberry Pi test (TestPi) needs.
# Idempotent: nothing is fetched, and apt's lists are not updated, when every
# package is already there. Run as root (CI is) or with sudo.
#
#   qemu-system-arm:  qemu-system-aarch64, which emulates the Pi 3 (-M raspi3b)
#   apt, dpkg:        apt-get and dpkg-deb fetch and unpack the arm64 kernel and
#                     busybox-static; the test does that itself, into its cache
#   ca-certificates:  for apt sources that use https
set -euo pipefail

pkgs=(qemu-system-arm apt dpkg ca-certificates)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "pitest install-deps: all present: ${pkgs[*]}"
	exit 0
fi

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "pitest install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
command -v qemu-system-aarch64 >/dev/null
