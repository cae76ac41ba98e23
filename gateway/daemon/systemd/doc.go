// Package systemd is the daemon's side of systemd's service protocol:
// the few sd_notify verbs a Type=notify service sends, the watchdog
// interval, and the STATUS= line. Outside systemd (no NOTIFY_SOCKET)
// every verb does nothing, so the daemon runs the same in a terminal.
package systemd
