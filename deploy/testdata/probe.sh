#!/bin/bash
# Runs inside the systemd-nspawn container that container_test.go's
# TestServiceUnderSystemd boots, as the oneshot probe.service, once
# gatewayd.socket and gatewayd.service have been started by systemd itself.
# It does what an admin would do on a Pi and writes one KEY=VALUE line per
# observation to /out/results, for the Go test to judge; then powers off.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=probe-lib.sh
source /opt/probe-lib.sh

wait_active gatewayd.service
say started_by_boot "$(systemctl is-active gatewayd.service)"
say user "$(ps -o user= -p "$(systemctl show -P MainPID gatewayd.service)")"
say groups "$(id -Gn gatewayd | tr ' ' ,)"
say status "$(systemctl show -P StatusText gatewayd.service)"
say triggered_by "$(systemctl show -P TriggeredBy gatewayd.service)"
say echo_v4 "$(echo_once 127.0.0.1 65432 hello-v4)"
say echo_v6 "$(echo_once ::1 65432 hello-v6)"
say journal_timestamps "$(journalctl -b -u gatewayd.service -o cat | grep -c '^time=')"
say exposure "$(systemd-analyze security gatewayd.service 2>/dev/null | sed -n 's/.*Overall exposure level for gatewayd.service: \([0-9.]*\).*/\1/p')"

# A client whose address is not on the allow-list (a documentation address
# on this container's own loopback, standing in for the Internet).
ip addr add 203.0.113.1/32 dev lo
if timeout 3 bash -c 'exec 3<>/dev/tcp/203.0.113.1/65432' 2>/dev/null; then
	say public_client connected
else
	say public_client refused
fi

# Reload: same process, config re-read.
pid=$(systemctl show -P MainPID gatewayd.service)
systemctl reload gatewayd.service
say reload_rc $?
sleep 0.5
say reload_same_pid "$([ "$(systemctl show -P MainPID gatewayd.service)" = "$pid" ] && echo yes || echo no)"
say reload_logged "$(journalctl -b -u gatewayd.service -o cat | grep -ci 'reload')"

# Restart under load: a client dials continuously while the service restarts;
# the socket stays in systemd, so no attempt may be refused or lose its echo.
# Each attempt is a new connection; refused counts failed connects, lost
# counts connections whose echo did not come back.
(
	ok=0 refused=0 lost=0
	end=$((SECONDS + 4))
	while [ $SECONDS -lt $end ]; do
		if ! exec 3<>/dev/tcp/127.0.0.1/65432; then
			refused=$((refused + 1))
			continue
		fi
		reply=
		printf ping >&3
		IFS= read -r -t 5 -N 4 reply <&3
		exec 3>&-
		if [ "$reply" = ping ]; then ok=$((ok + 1)); else lost=$((lost + 1)); fi
	done 2>/dev/null
	echo "$ok $refused $lost" >/tmp/load
) &
sleep 1
systemctl restart gatewayd.service
say restart_rc $?
wait
read -r ok refused lost </tmp/load
say load_ok "$ok"
say load_refused "$refused"
say load_lost "$lost"
say restarted_pid_changed "$([ "$(systemctl show -P MainPID gatewayd.service)" != "$pid" ] && echo yes || echo no)"

# Watchdog: a daemon that stops answering is killed and restarted. A drop-in
# shortens the 30s of the unit so the test is quick; SIGSTOP freezes the
# daemon as a hang would.
mkdir -p /etc/systemd/system/gatewayd.service.d
printf '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=1s\n' >/etc/systemd/system/gatewayd.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart gatewayd.service
wait_active gatewayd.service
hung=$(systemctl show -P MainPID gatewayd.service)
restarts=$(systemctl show -P NRestarts gatewayd.service)
kill -STOP "$hung"
for _ in $(seq 100); do
	pid=$(systemctl show -P MainPID gatewayd.service)
	[ "$pid" != "$hung" ] && [ "$pid" != 0 ] && break
	sleep 0.1
done
wait_active gatewayd.service
say watchdog_restarted "$([ "$(systemctl show -P NRestarts gatewayd.service)" -gt "$restarts" ] && echo yes || echo no)"
say watchdog_logged "$(journalctl -b -u gatewayd.service -o cat | grep -c 'Watchdog timeout')"
say watchdog_echo "$(echo_once 127.0.0.1 65432 after-watchdog)"
rm -r /etc/systemd/system/gatewayd.service.d
systemctl daemon-reload

# Without the socket the service binds listen: from its config itself.
systemctl stop gatewayd.socket gatewayd.service
systemctl start gatewayd.service
wait_active gatewayd.service
say without_socket "$(systemctl is-active gatewayd.service)"
say without_socket_triggered "$(systemctl is-active gatewayd.socket)"
say without_socket_echo "$(echo_once 127.0.0.1 65432 alone)"

systemctl stop gatewayd.service
say stop_result "$(systemctl show -P Result gatewayd.service)"
say stop_exit "$(systemctl show -P ExecMainStatus gatewayd.service)"
journalctl -b -u gatewayd.service -u gatewayd.socket -o short-monotonic --no-pager >/out/journal
say finished yes
systemctl poweroff
