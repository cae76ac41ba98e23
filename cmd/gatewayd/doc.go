// Command gatewayd is the gateway daemon: boards connect over TCP or TLS,
// say hello and send lines; gatewayd receipts each line once it is safe
// (published to the MQTT broker, or written to the disk queue), lights GPIO
// LEDs as they talk, and serves its status on a control socket and a
// metrics port. README.md at the top of the repository is the tour; the
// reference is the manual pages: man deploy/man/gatewayd.8,
// deploy/man/gatewayd.yaml.5 and deploy/man/gatewayctl.1.
//
// This package is wiring: each part of the daemon is built here from the
// configuration, started in the order daemon.parts lists, and stopped in
// the reverse order. The logic lives in the packages:
//
//	cmd/gatewayd         the daemon: flags, the parts in start order, reload,
//	                     and the one snapshot (snapshot.go) that the control
//	                     socket, /healthz, /metrics and STATUS= all report
//	cmd/gatewayctl       the client: send, chat, bench, status, boards, tell,
//	                     reload, pki
//	cmd/internal/        the load generator, the baseline echo server,
//	                     echobench and mqttbench (each with a README of figures)
//	configs/             gatewayd.yaml (the embedded default), the tour's
//	                     configurations and the strict loader
//	gateway/             the server: accept loop, connections, framing, board
//	                     sessions, Hooks, board listeners (OnBoard) and the
//	                     Uplink a line goes to
//	gateway/board        the ! line protocol: hello, control lines, board IDs
//	gateway/bridge       the MQTT bridge: the Uplink to the broker, downlinks
//	gateway/spool        the disk queue of receipted lines not yet acknowledged
//	gateway/control      the control socket: the API, its client, the socket's
//	                     place (socket.go)
//	gateway/pki          the CA and certificates of gatewayctl pki
//	gateway/tlsconf      the TLS listener's config, reload and handshake
//	gateway/homeassistant  Home Assistant discovery and state JSON
//	gateway/statuspage   the live status page and its tap on the Uplink
//	gateway/daemon/      the process's plumbing, on no line's path:
//	  metrics            the Prometheus collector, /metrics, /healthz, /v1/status
//	  httpd              HTTP serving with timeouts and a connection cap
//	  listen             systemd's sockets (LISTEN_FDS) or a bound one
//	  systemd            sd_notify: READY, STATUS, the watchdog
//	  logging            slog: text or JSON, journal priorities
//	gpio/                LEDs: the periph, sim and none drivers, the LED worker
//	deploy/              units, install.sh, Debian packaging, the ESP32 clients,
//	                     the container and emulated-Pi tests (deploy/README.md)
//
// The life of a board's line, in the order the code sees it:
//
//  1. gateway/server.go: the accept loop admits the connection (allow list,
//     limits), calls Hooks.Connect and starts its goroutine.
//  2. gateway/conn.go: the connection's goroutine reads, frames (a line ends
//     at its LF) and hands each line on.
//  3. gateway/session.go: a hello names the board (board.ParseHello); a data
//     line goes to the server's Uplink.
//  4. gateway/bridge: with mqtt.broker set, the Uplink publishes the line on
//     PREFIX/GATEWAY/BOARD/up, or queues it in gateway/spool while the
//     broker is away, and says when it is safe; without a bridge the line is
//     safe at once.
//  5. gateway/conn.go: the receipt (the echo) is written to the board, and
//     Hooks.Message is called.
//  6. cmd/gatewayd/leds.go: the hooks touch the LED rig's atomics only, so
//     the network never waits on GPIO; gpio/controller.go's worker turns
//     them into pin writes (gpio/sim.go logs them off a Pi).
package main
