// Package statuspage serves the live status page on the metrics listener:
// GET / is one HTML page of the gateway, its broker and queue, and its
// boards, kept current by server-sent events on GET /events; GET
// /v1/status and GET /v1/boards answer as on the control socket. Every
// route is a GET: nothing on this port changes anything.
//
// The page is plain HTML, CSS and one small script, embedded in the binary
// (assets/), with nothing fetched from elsewhere. Everything a board sends
// (its ID, its lines) is put on the page with textContent, never parsed as
// HTML, so a line "<script>alert(1)</script>" shows as those characters.
//
// It stays light with boards sending many lines a second: one snapshot of
// the gateway is built per interval (half a second) however many pages are
// open, and sent to a page only when it changed; the page counts uptime
// and "seconds ago" itself between events. At most maxStreams pages are
// served at once, so pages cannot take the connections Prometheus scrapes
// need.
package statuspage
