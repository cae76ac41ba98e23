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

exec "$(dirname "$0")/../install-deps.sh" qemu-system-arm apt dpkg ca-certificates
