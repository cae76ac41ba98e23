package systemd

import (
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends the service's state to systemd. The zero value logs
// failures to slog's default logger.
type Notifier struct {
	Log *slog.Logger
}

func (n Notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log := n.Log
		if log == nil {
			log = slog.Default()
		}
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// Ready says the service is up: sockets bound, pins claimed.
func (n Notifier) Ready() { n.send(sd.SdNotifyReady) }

// Stopping says shutdown has begun.
func (n Notifier) Stopping() { n.send(sd.SdNotifyStopping) }

// Watchdog feeds systemd's watchdog.
func (n Notifier) Watchdog() { n.send(sd.SdNotifyWatchdog) }

// Status sets the line systemctl status shows.
func (n Notifier) Status(line string) { n.send("STATUS=" + line) }

// Reloading says a reload began; Ready ends it. MONOTONIC_USEC lets
// systemd 253+ match the two, and systemd 252 ignores it.
func (n Notifier) Reloading() {
	n.send(sd.SdNotifyReloading + "\n" + sd.SdNotifyMonotonicUsec())
}

// WatchdogInterval is how often to feed systemd's watchdog: half of
// WatchdogSec, or 0 when the watchdog is off for this process.
func WatchdogInterval() time.Duration {
	d, err := sd.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}
