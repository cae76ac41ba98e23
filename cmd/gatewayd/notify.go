package main

import (
	"fmt"
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// notifier is the systemd glue: a few verbs that do nothing outside
// systemd (no NOTIFY_SOCKET).
type notifier struct {
	log *slog.Logger
}

func (n notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

func (n notifier) ready()             { n.send(sd.SdNotifyReady) }
func (n notifier) stopping()          { n.send(sd.SdNotifyStopping) }
func (n notifier) watchdog()          { n.send(sd.SdNotifyWatchdog) }
func (n notifier) status(line string) { n.send("STATUS=" + line) }

// reloading tells systemd a reload began; MONOTONIC_USEC lets systemd 253+
// match it with the READY=1 that ends it, and systemd 252 ignores it.
func (n notifier) reloading() {
	n.send(sd.SdNotifyReloading + "\n" + sd.SdNotifyMonotonicUsec())
}

// watchdogInterval is how often to ping systemd's watchdog: half of
// WatchdogSec, or 0 when the watchdog is off.
func watchdogInterval() time.Duration {
	d, err := sd.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}

func statusLine(clients int, messages uint64) string {
	noun := "clients"
	if clients == 1 {
		noun = "client"
	}
	return fmt.Sprintf("%d %s, %d messages", clients, noun, messages)
}
