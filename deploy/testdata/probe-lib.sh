#!/bin/bash
# Shared by the probes that container_test.go boots under systemd-nspawn
# (probe.sh, probe-install.sh), which source it from /opt/probe-lib.sh.
# Observations go to /out/results as KEY=VALUE lines, for the Go test.
out=/out/results
: >"$out"

# say KEY VALUE records one observation.
say() { echo "$1=$2" >>"$out"; }

# echo_once ADDR PORT MSG: one connection, one message, prints the echo.
echo_once() {
	local reply=
	exec 3<>"/dev/tcp/$1/$2" || return 1
	printf '%s' "$3" >&3
	IFS= read -r -t 5 -N ${#3} reply <&3
	exec 3>&-
	printf '%s' "$reply"
}

# wait_active UNIT waits up to 10s for UNIT to be active.
wait_active() {
	for _ in $(seq 100); do
		[ "$(systemctl is-active "$1")" = active ] && return 0
		sleep 0.1
	done
	return 1
}
