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

# Reload is `gatewayctl reload` over the control socket (ExecReload=): it
# waits for the outcome, so a good file reloads in place and exits 0...
conf=/etc/gatewayd/gatewayd.yaml
pid=$(systemctl show -P MainPID gatewayd.service)
systemctl reload gatewayd.service >/out/reload-good.txt 2>&1
say reload_good_rc $?
say reload_good_same_pid "$([ "$(systemctl show -P MainPID gatewayd.service)" = "$pid" ] && echo yes || echo no)"
# ... and a bad one fails the reload, changes nothing, and the problem (file,
# line and key) is in systemctl status, from gatewayctl's output, and in the
# journal at error priority, from the daemon.
cp "$conf" /tmp/good.yaml
sed -i 's/^  max_clients: 1024 /  max_clients: -3   /' "$conf"
systemctl reload gatewayd.service >/out/reload-bad.txt 2>&1
say reload_bad_rc $?
say reload_bad_said "$(grep -c '^Job for gatewayd.service failed' /out/reload-bad.txt)"
SYSTEMD_COLORS=0 systemctl status --no-pager -n 30 gatewayd.service >/out/reload-bad-status.txt 2>&1
say reload_bad_status_problem "$(grep -c "gatewayctl\\[[0-9]*\\]: .*$conf:[0-9]*: limits.max_clients" /out/reload-bad-status.txt)"
say reload_bad_active "$(systemctl is-active gatewayd.service)"
say reload_bad_same_pid "$([ "$(systemctl show -P MainPID gatewayd.service)" = "$pid" ] && echo yes || echo no)"
say reload_bad_echo "$(echo_once 127.0.0.1 65432 after-bad-reload)"
# journalctl -p warning: the daemon's error lines, none of its info lines.
journalctl -b -u gatewayd.service -p warning -o cat --no-pager >/out/journal-warning.txt
journalctl -b -u gatewayd.service -o cat --no-pager >/out/journal-all.txt
journalctl -p warning -u gatewayd --no-pager >/out/journal-warning-short.txt 2>&1
say warning_reload_failed "$(grep -c 'level=ERROR msg="reload failed; configuration unchanged"' /out/journal-warning.txt)"
say warning_problem "$(grep -c "level=ERROR msg=\"config problem\" problem=\"$conf:[0-9]*: limits.max_clients" /out/journal-warning.txt)"
say warning_info_lines "$(grep -c 'level=INFO' /out/journal-warning.txt)"
say all_info_lines "$(grep -c 'level=INFO' /out/journal-all.txt)"
cp /tmp/good.yaml "$conf"
systemctl reload gatewayd.service >>/out/reload-good.txt 2>&1
say reload_again_rc $?

# A member of the gatewayd group reaches the control socket without sudo;
# another user does not. (setpriv, as runuser and su need PAM, whose
# configuration this container's empty /etc lacks.)
systemd-sysusers - <<EOF2
u pi - "a Pi user" /nonexistent
m pi gatewayd
u stranger - "not in the group" /nonexistent
EOF2
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }
id pi >/out/id-pi.txt 2>&1
say group_boards "$(as pi gatewayctl boards 2>&1)"
say group_boards_rc "$(as pi gatewayctl boards >/dev/null 2>&1; echo $?)"
say stranger_boards_rc "$(as stranger gatewayctl boards >/out/stranger.txt 2>&1; echo $?)"
say stranger_denied "$(grep -c 'permission denied' /out/stranger.txt)"

# Discovery: avahi-daemon (with dbus) publishes the package's
# /etc/avahi/services/gatewayd.service. This container's /etc is empty, so
# what the avahi-daemon package would have put there is made here: its user,
# and a configuration that keeps it to lo (the container's only interface,
# given the multicast flag mDNS needs) and out of its chroot (which needs
# the package's files below /etc/avahi).
systemd-sysusers - <<<'u avahi - "Avahi mDNS/DNS-SD daemon" /nonexistent'
printf '[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\n' >/etc/avahi/avahi-daemon.conf
mkdir -p /run/systemd/system/avahi-daemon.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/sbin/avahi-daemon -s --no-chroot\n' >/run/systemd/system/avahi-daemon.service.d/no-chroot.conf
systemctl daemon-reload
# dbus is already up (logind pulled it in at boot) and skipped the policy that
# lets the then unknown user avahi own org.freedesktop.Avahi: read it again,
# as the avahi-daemon package's postinst does.
systemctl reload dbus.service 2>/dev/null || true
ip link set lo multicast on
systemctl start dbus.socket avahi-daemon.service >/out/avahi-start.txt 2>&1
say avahi_active "$(systemctl is-active avahi-daemon.service)"
for _ in $(seq 10); do
	[ "$(systemctl is-active avahi-daemon.service)" = active ] || break
	timeout 5 avahi-browse -rpt _gatewayd._tcp >/out/avahi-browse.txt 2>&1
	grep -q '^=' /out/avahi-browse.txt && break
	sleep 0.5
done
journalctl -b -u avahi-daemon.service -u dbus.service -o short-monotonic --no-pager >/out/avahi-journal.txt
# Its last words, for the test's report when it did not start.
say avahi_log "$(journalctl -b -u avahi-daemon.service -o cat --no-pager | tail -n 14 | tr '\n' '|')"
# =;IFACE;IPv4;NAME;_gatewayd._tcp;local;HOST;ADDRESS;PORT;"TXT" "TXT"
resolved=$(grep -m1 '^=' /out/avahi-browse.txt)
say avahi_type "$(echo "$resolved" | cut -d';' -f5)"
say avahi_port "$(echo "$resolved" | cut -d';' -f9)"
say avahi_txt "$(echo "$resolved" | cut -d';' -f10- | tr ' ' '\n' | sort | tr '\n' ' ')"
systemctl stop avahi-daemon.service avahi-daemon.socket

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
