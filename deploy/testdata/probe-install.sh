#!/bin/bash
# Runs inside the systemd-nspawn container that container_test.go's
# TestInstallScriptUnderSystemd boots: deploy/install.sh against a live
# systemd, as an admin would run it on a Pi without the package. The
# repository is at /src (read-only), the built gatewayd and gatewayctl in
# /src-bin.
# One KEY=VALUE line per observation goes to /out/results; then power off.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=probe-lib.sh
source /opt/probe-lib.sh

/src/deploy/install.sh /src-bin/gatewayd >/out/install1.log 2>&1
say install_rc $?
wait_active gatewayd.service
say service "$(systemctl is-active gatewayd.service)"
say socket "$(systemctl is-active gatewayd.socket)"
say enabled "$(systemctl is-enabled gatewayd.service gatewayd.socket | tr '\n' ,)"
say execstart "$(systemctl show -P ExecStart gatewayd.service | sed -n 's/.*path=\([^ ;]*\).*/\1/p')"
say echo "$(echo_once 127.0.0.1 65432 first)"
say execreload "$(systemctl show -P ExecReload gatewayd.service | sed -n 's/.*path=\([^ ;]*\).*/\1/p')"
systemctl reload gatewayd.service >/out/reload.txt 2>&1
say reload_rc $?
say ctl_path "$(command -v gatewayctl)"
# readlink: Debian links /usr/local/man to share/man, and man may name either.
say man_gatewayd "$(readlink -f "$(man -w gatewayd 2>&1)")"

# An update: the service restarts on the new binary, the socket stays up.
pid=$(systemctl show -P MainPID gatewayd.service)
sock_since=$(systemctl show -P ActiveEnterTimestampMonotonic gatewayd.socket)
echo '# edited' >>/etc/gatewayd/gatewayd.yaml
/src/deploy/install.sh /src-bin/gatewayd >/out/install2.log 2>&1
say update_rc $?
wait_active gatewayd.service
say update_restarted "$([ "$(systemctl show -P MainPID gatewayd.service)" != "$pid" ] && echo yes || echo no)"
say update_socket_kept "$([ "$(systemctl show -P ActiveEnterTimestampMonotonic gatewayd.socket)" = "$sock_since" ] && echo yes || echo no)"
say update_config_kept "$(tail -n1 /etc/gatewayd/gatewayd.yaml)"
say update_echo "$(echo_once 127.0.0.1 65432 second)"

/src/deploy/install.sh --uninstall >/out/uninstall.log 2>&1
say uninstall_rc $?
say uninstalled_service "$(systemctl is-active gatewayd.service)"
say uninstalled_socket "$(systemctl is-active gatewayd.socket)"
say uninstalled_binary "$([ -e /usr/local/sbin/gatewayd ] && echo present || echo gone)"
say uninstalled_config "$([ -e /etc/gatewayd/gatewayd.yaml ] && echo kept || echo gone)"
if echo_once 127.0.0.1 65432 x >/dev/null 2>&1; then say uninstalled_port open; else say uninstalled_port closed; fi
say finished yes
systemctl poweroff
