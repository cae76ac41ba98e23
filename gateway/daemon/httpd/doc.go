// Package httpd serves the daemon's own HTTP endpoints (metrics, the
// control socket) so that no client can hold them open: every phase of a
// request has a deadline, and the listener holds at most a fixed number
// of connections. A net/http.Server as zero-valued has neither, and one
// idle connection per descriptor could starve the echo listener.
package httpd
