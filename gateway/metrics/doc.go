// Package metrics exports the daemon's counters in Prometheus text format
// on /metrics, and its health on /healthz. Values are read from the
// server's and the LED worker's own counters at scrape time, so the echo
// path pays nothing for them.
package metrics
