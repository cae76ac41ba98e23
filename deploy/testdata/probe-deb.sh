#!/bin/bash
# Runs inside the systemd-nspawn container that container_test.go's
# TestDebUnderSystemd boots: dpkg installs, removes, reinstalls, upgrades and
# purges the Debian package against a live systemd, as apt would on a Pi, so
# the maintainer scripts really start and stop the units. The packages are in
# /pkg. One KEY=VALUE line per observation goes to /out/results; then power
# off.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=probe-lib.sh
source /opt/probe-lib.sh

# The build machine's /usr may carry a container image's policy-rc.d that
# forbids starting services; a Pi has none.
rm -f /usr/sbin/policy-rc.d

# dpkg_ ACTION... runs dpkg as apt would, logging to /out/dpkg.log. The
# container has an empty dpkg database, so the Depends (systemd, which is
# here) cannot be seen.
dpkg_() { dpkg --force-depends "$@" >>/out/dpkg.log 2>&1; }

# path_of UNIT: the program its ExecStart runs.
path_of() { systemctl show -P ExecStart "$1" | sed -n 's/.*path=\([^ ;]*\).*/\1/p'; }

dpkg_ --install /pkg/gatewayd-1.deb
say install_rc $?
# No waiting: postinst's start returns once the service said READY=1.
say install_service "$(systemctl is-active gatewayd.service)"
say install_socket "$(systemctl is-active gatewayd.socket)"
say install_enabled "$(systemctl is-enabled gatewayd.service gatewayd.socket | tr '\n' ,)"
say install_execstart "$(path_of gatewayd.service)"
say ctl_path "$(command -v gatewayctl)"
say ctl_send "$(gatewayctl send hello-ctl 2>&1)"
say version_same "$([ "$(gatewayd -version | cut -d' ' -f2)" = "$(dpkg-query -W -f='${Version}' gatewayd)" ] && echo yes || echo no)"
say man_gatewayd "$(man -w gatewayd 2>&1)"
say man_yaml "$(man -w gatewayd.yaml 2>&1)"
say man_ctl "$(man -w gatewayctl 2>&1)"
say man_title "$(MANWIDTH=80 man -P cat gatewayd.yaml 2>/dev/null | head -n1 | tr -s ' ')"
say documentation "$(systemctl show -P Documentation gatewayd.service)"
systemctl status --no-pager gatewayd.service >/out/status.txt 2>&1

dpkg_ --remove gatewayd
say remove_rc $?
say removed_service "$(systemctl is-active gatewayd.service)"
say removed_socket "$(systemctl is-active gatewayd.socket)"
say removed_binary "$([ -e /usr/sbin/gatewayd ] && echo present || echo gone)"

# The reinstall: dpkg passes the last configured version, as on an upgrade.
dpkg_ --install /pkg/gatewayd-1.deb
say reinstall_rc $?
say reinstall_service "$(systemctl is-active gatewayd.service)"
say reinstall_socket "$(systemctl is-active gatewayd.socket)"
say reinstall_echo "$(echo_once 127.0.0.1 65432 after-reinstall)"

# The upgrade: the service restarts on the new binary, the socket stays.
pid=$(systemctl show -P MainPID gatewayd.service)
sock_since=$(systemctl show -P ActiveEnterTimestampMonotonic gatewayd.socket)
dpkg_ --install /pkg/gatewayd-2.deb
say upgrade_rc $?
say upgrade_version "$(dpkg-query -W -f='${Version}' gatewayd)"
say upgrade_restarted "$([ "$(systemctl show -P MainPID gatewayd.service)" != "$pid" ] && echo yes || echo no)"
say upgrade_socket_kept "$([ "$(systemctl show -P ActiveEnterTimestampMonotonic gatewayd.socket)" = "$sock_since" ] && echo yes || echo no)"
say upgrade_echo "$(echo_once 127.0.0.1 65432 after-upgrade)"

dpkg_ --purge gatewayd
say purge_rc $?
say purged_service "$(systemctl is-active gatewayd.service)"
say purged_config "$([ -e /etc/gatewayd ] && echo present || echo gone)"

journalctl -b -u gatewayd.service -u gatewayd.socket -o short-monotonic --no-pager >/out/journal
say finished yes
systemctl poweroff
