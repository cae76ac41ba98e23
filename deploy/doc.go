// Package deploy holds no Go code of its own: it is the home of everything
// that puts gatewayd on a machine, and of the tests that check those files
// with the real tools.
//
//   - gatewayd.service, gatewayd.socket: the hardened, socket-activated
//     systemd units (checked with systemd-analyze verify and security).
//   - gatewayd.sysusers: the gatewayd user and gpio group, for
//     systemd-sysusers.
//   - install.sh: install from a built binary, or uninstall (tested against a
//     scratch root).
//   - build-deb.sh, debian/: the arm64 and armhf Debian packages (inspected
//     with dpkg-deb and lintian, built twice to show they are reproducible,
//     installed into a scratch root and under a real systemd with dpkg).
//     debian/copyright is checked against the Go modules in the binaries.
//   - man/: gatewayd(8), gatewayd.yaml(5) and gatewayctl(1), checked against
//     the programs' -h and the default configuration's keys.
//   - version.sh: the one version string the binaries and packages carry.
//   - install-deps.sh: the Debian packages these tests need.
//
// The tests also run the cross-compiled ARM daemons under qemu-user and echo
// through them. Subdirectories pitest (tests on a real Pi) and esp32 (the
// microcontroller client) have their own documentation.
package deploy
