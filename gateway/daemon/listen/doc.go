// Package listen opens the daemon's listening sockets: the ones systemd
// passed (socket activation, LISTEN_FDS), or new ones bound on an address.
// A failure is one line that says what to fix, since it is what an admin
// reads in the journal when gatewayd does not start.
package listen
