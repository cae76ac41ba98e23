#!/bin/bash
# Runs inside the systemd-nspawn container that container_test.go's
# TestFieldUnderSystemd boots, with the package's files and a writable
# /etc/gatewayd. What an admin does on a Pi after the install, as the README
# says it: TLS with the pki in /etc/gatewayd/pki, made by one pki init; then
# an MQTT broker outside the LAN (a public address on this container's own
# loopback), first refused by the unit's IP filter, then reached through
# the shipped cloud-broker.conf drop-in. One KEY=VALUE line per observation
# goes to /out/results; then it powers off.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=probe-lib.sh
source /opt/probe-lib.sh
conf=/etc/gatewayd/gatewayd.yaml
pki=/etc/gatewayd/pki

wait_active gatewayd.service
say started "$(systemctl is-active gatewayd.service)"

# TLS: one pki init makes the place the daemon can read.
gatewayctl pki init /etc/gatewayd/pki >/out/pki-init.txt 2>&1
say pki_init_rc $?
gatewayctl pki board /etc/gatewayd/pki kitchen-1 >/dev/null 2>&1
say pki_board_rc $?
say pki_dir "$(stat -c '%a %U:%G' "$pki")"
say pki_server_key "$(stat -c '%a %U:%G' "$pki/server.key")"
say pki_ca_key "$(stat -c '%a %U:%G' "$pki/ca.key")"
sed -i -e 's|^framing: raw |framing: line |' \
	-e "s|^  cert_file: \"\" |  cert_file: $pki/server.crt |" \
	-e "s|^  key_file: \"\" |  key_file: $pki/server.key |" \
	-e "s|^  client_ca_file: \"\" |  client_ca_file: $pki/ca.crt |" "$conf"
systemctl restart gatewayd.service
wait_active gatewayd.service
say tls_active "$(systemctl is-active gatewayd.service)"
say tls_send "$(cd "$pki" && gatewayctl send -tls -ca ca.crt -cert boards/kitchen-1.crt -key boards/kitchen-1.key \
	-hello kitchen-1 -addr 127.0.0.1:65432 hello-tls 2>&1)"

# A broker on a public address (TEST-NET-3 on lo stands in for the cloud).
ip addr add 203.0.113.1/32 dev lo
printf 'listener 1883 203.0.113.1\nallow_anonymous true\nuser root\n' >/tmp/mosquitto.conf
mosquitto -c /tmp/mosquitto.conf -d
sed -i 's|^  broker: "" |  broker: mqtt://203.0.113.1:1883 |' "$conf"
systemctl restart gatewayd.service
wait_active gatewayd.service
# The filter fails the connect with EPERM, or drops the SYN so that it
# times out (connectTimeout, 10 s): either way the log names the fix.
for _ in $(seq 300); do
	journalctl -b -u gatewayd.service -o cat | grep -q 'broker unreachable.*IPAddressAllow=' && break
	sleep 0.1
done
say blocked_logged "$(journalctl -b -u gatewayd.service -o cat | grep -q 'broker unreachable.*IPAddressAllow=' && echo yes || echo no)"
gatewayctl status >/out/status-blocked.txt 2>&1
say blocked_status_rc $?
say blocked_health "$(sed -n 's/^health *//p' /out/status-blocked.txt)"

# The shipped drop-in, installed as its own comment says.
install -D -m 0644 /usr/share/doc/gatewayd/examples/cloud-broker.conf \
	/etc/systemd/system/gatewayd.service.d/cloud-broker.conf
systemctl daemon-reload
systemctl restart gatewayd.service
wait_active gatewayd.service
for _ in $(seq 100); do
	gatewayctl status >/out/status-cloud.txt 2>&1 && break
	sleep 0.2
done
say cloud_status_rc "$(gatewayctl status >/out/status-cloud.txt 2>&1; echo $?)"
say cloud_broker "$(sed -n 's/^broker *//p' /out/status-cloud.txt)"
timeout 10 mosquitto_sub -h 203.0.113.1 -t 'gatewayd/+/kitchen-1/up' -C 1 >/tmp/got &
sleep 0.5
(cd "$pki" && gatewayctl send -tls -ca ca.crt -cert boards/kitchen-1.crt -key boards/kitchen-1.key \
	-hello kitchen-1 -addr 127.0.0.1:65432 to-the-cloud >/dev/null 2>&1)
wait
say cloud_published "$(cat /tmp/got)"

journalctl -b -u gatewayd.service -o short-monotonic --no-pager >/out/journal
say finished yes
systemctl poweroff
