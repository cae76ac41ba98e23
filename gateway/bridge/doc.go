// Package bridge publishes board data to an MQTT broker and hands
// downlinks back, keeping the receipt a promise: Send returns nil only once
// a line is safe, acknowledged by the broker (QoS 1 PUBACK) or written to
// the on-disk queue (package spool) because the broker is unreachable or
// behind.
//
// What paho.golang's autopaho guarantees, and what this package adds.
// autopaho keeps one connection up, reconnecting with the backoff it is
// given, and calls back on connect so subscriptions are renewed. A QoS 1
// Publish blocks until the PUBACK arrives, the context ends or the packet
// timeout passes, and no more PUBLISH packets are in flight than the
// broker's Receive Maximum allows. Its session state (paho/session/state)
// keeps unacknowledged publishes and sends them again on reconnect, but
// only in memory, and only when the broker resumes the session: with a
// Session Expiry of 0 it is cleaned when the connection drops, and nothing
// of it survives the process. Its optional disk queue (autopaho/queue/file)
// writes one file per message with no fsync, orders them by modification
// time and tells the caller nothing when a message is acknowledged, so it
// cannot back a receipt. This package therefore uses a clean session and
// keeps its own books: it waits for each PUBACK itself; when the broker is
// down or slower than AckTimeout it writes the line to its spool (CRC per
// record, fsynced every second, bounded, waiting when full); while the
// spool holds anything, new lines go behind it, and it is drained to the
// broker in order, one line in flight per board, each record removed only
// after its PUBACK, before lines go straight to the broker again. Delivery
// is at least once: a line whose PUBACK was lost is sent again. It also
// dials the broker itself, for a connection that writes paho's packets in
// batches and reads through a buffer (batchconn.go).
//
// Topics, with P the prefix, G the gateway ID and B the board ID:
// P/G/status (retained online; the last will sets it to offline),
// P/G/B/status (retained online or offline, from BoardOnline and
// BoardOffline), P/G/B/up (each line, QoS 1) and P/G/+/down (subscribed;
// each message is handed to Deliver).
package bridge
