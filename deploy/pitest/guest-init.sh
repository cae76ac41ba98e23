#!/bin/busybox sh
# /init of the emulated Raspberry Pi that pitest_test.go boots.
#
# It drives gatewayd through one session and reports what the kernel says about
# the LED lines, one fact a line on the serial console:
#
#   PITEST pid NAME PID            a gatewayd started under NAME
#   PITEST wait STAGE ok|timeout   whether the state awaited before STAGE came
#   PITEST gpio STAGE LINE         a line of /sys/kernel/debug/gpio at STAGE
#   PITEST pin STAGE LINE          a line of the pin controller's debugfs "pins"
#   PITEST echo CLIENT LINE        what a client received back
#   PITEST exit NAME CODE          a gatewayd's exit status
#   PITEST out NAME LINE           a gatewayd's stdout and stderr
#   PITEST-DONE                    the end: the test stops QEMU on it
#
# The script judges nothing: the Go test asserts on these lines. Waits only
# pace it (poll until a state shows or a timeout passes), so a slow emulator
# cannot make a correct daemon fail and a wrong one still shows its state.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /tmp
dmesg -n 1 # keep kernel messages off the console from here on
ip link set lo up

GPIO=/sys/kernel/debug/gpio
PINS=$(ls /sys/kernel/debug/pinctrl/*bcm2835*/pins)
LINES='GPIO17|GPIO22|GPIO27'

say() { echo "PITEST $*"; }

# snap STAGE: report the LED lines as gpiolib and the pin controller see them.
snap() {
	grep -E "\\(($LINES) " "$GPIO" | sed "s/^/PITEST gpio $1 /"
	grep -E '^pin (17|22|27) ' "$PINS" | sed "s/^/PITEST pin $1 /"
}

# line NAME CONSUMER STATE: does gpiolib show NAME requested by CONSUMER in STATE?
line() { grep -qE "\\($1 +\\|$2 *\\) $3" "$GPIO"; }

# awaitsnap STAGE SECONDS COMMAND...: poll COMMAND until it succeeds or
# SECONDS pass, report which, then snap STAGE.
awaitsnap() {
	stage=$1 end=$(($(date +%s) + $2))
	shift 2
	until "$@"; do
		if [ "$(date +%s)" -ge "$end" ]; then
			say wait "$stage" timeout
			snap "$stage"
			return 1
		fi
		usleep 20000
	done
	say wait "$stage" ok
	snap "$stage"
}

alive() { kill -0 "$1" 2>/dev/null; }
listening() { grep -q 'msg=listening' /tmp/gw.log || ! alive "$gw"; }
gone() { ! alive "$1"; }
has() { grep -qF "$2" "$1"; }
owned() { line GPIO17 "gatewayd@$gw" 'out lo' && line GPIO27 "gatewayd@$gw" 'out lo'; }
lit() { line GPIO17 "gatewayd@$gw" 'out hi' && line GPIO27 "gatewayd@$gw" 'out hi'; }

# once NAME ARGS...: run gatewayd to completion (30 s at most), report its output and status.
once() {
	name=$1
	shift
	timeout 30 gatewayd "$@" >/tmp/once.log 2>&1
	code=$?
	sed "s/^/PITEST out $name /" /tmp/once.log
	say exit "$name" "$code"
}

say booted "$(uname -r)"

# Leave both LED lines latched high, as a previous program might have, so
# that "off at start" is gatewayd's doing.
holdline -consumer pitest-preset -value 1 GPIO17 GPIO27 &
holder=$!
awaitsnap held 10 line GPIO27 pitest-preset 'out hi'
kill "$holder"
wait "$holder"
snap preset

# session: the daemon, from idle through a client, a message and shutdown.
session() {
	gatewayd -config /etc/pitest/main.yaml >/tmp/gw.log 2>&1 &
	gw=$!
	say pid main "$gw"
	awaitsnap started 60 listening
	if ! alive "$gw"; then
		wait "$gw"
		say exit main $?
		return
	fi
	awaitsnap idle 15 owned

	mkfifo /tmp/in1
	nc 127.0.0.1 65432 </tmp/in1 >/tmp/out1 2>&1 &
	nc1=$!
	exec 3>/tmp/in1
	awaitsnap connected 15 line GPIO17 "gatewayd@$gw" 'out hi'
	echo 'hello from the pi' >&3
	awaitsnap message 10 line GPIO27 "gatewayd@$gw" 'out hi'
	awaitsnap echoed 10 has /tmp/out1 'hello from the pi'
	sed 's/^/PITEST echo c1 /' /tmp/out1
	awaitsnap blinked 15 line GPIO27 "gatewayd@$gw" 'out lo'
	kill "$nc1"
	wait "$nc1"
	exec 3>&-
	awaitsnap disconnected 15 line GPIO17 "gatewayd@$gw" 'out lo'

	# Stop it while both LEDs are lit: they must go dark and be released.
	mkfifo /tmp/in2
	nc 127.0.0.1 65432 </tmp/in2 >/tmp/out2 2>&1 &
	nc2=$!
	exec 4>/tmp/in2
	echo 'goodbye' >&4
	awaitsnap lit 15 lit
	kill -TERM "$gw"
	if awaitsnap stopped 30 gone "$gw"; then
		wait "$gw"
		say exit main $?
	else
		kill -KILL "$gw"
		say exit main timeout
	fi
	exec 4>&-
	kill "$nc2" 2>/dev/null
}
session
sed "s/^/PITEST out main /" /tmp/gw.log

# Start-up checks and errors.
once check -check -config /etc/pitest/main.yaml
once check-wrongpin -check -config /etc/pitest/wrongpin.yaml
once check-bcmnumber -check -config /etc/pitest/bcmnumber.yaml
once wrongpin -config /etc/pitest/wrongpin.yaml
holdline -consumer pitest-holder GPIO22 &
holder=$!
awaitsnap busy 10 line GPIO22 pitest-holder 'out lo'
once busy -config /etc/pitest/busy.yaml
snap busy-after
kill "$holder"
wait "$holder"

echo PITEST-DONE
# PID 1 must not exit, and this machine cannot power itself off.
while :; do sleep 3600; done
