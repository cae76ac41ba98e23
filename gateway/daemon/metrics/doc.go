// Package metrics exports the daemon's counters in Prometheus text format
// on /metrics, and its health on /healthz: 503 while the accept loop or
// the LED worker is hung, or the MQTT broker is unreachable (a scraper
// alerts on that; the systemd watchdog ignores the broker, since
// restarting gatewayd would not bring it back). Values are read from the
// server's, the LED worker's and the bridge's own counters at scrape
// time, so the echo path pays nothing for them.
package metrics
