// Package bridge publishes board data to an MQTT broker and hands
// downlinks back, keeping the receipt a promise: Send calls done(nil)
// only once a line is safe, acknowledged by the broker (QoS 1 PUBACK) or
// written to the on-disk queue (package spool) because the broker is
// unreachable or behind.
//
// The client is paho.mqtt.golang (MQTT 3.1.1). What it guarantees, and
// what this package adds. paho writes the packets handed to Publish in
// the order of the calls, from one goroutine, and completes a QoS 1
// publish's token when its PUBACK arrives; with a clean session and its
// memory store, a connection's loss completes every token still waiting
// with an error (messageIds.cleanUp). It keeps nothing across a process
// restart, and its own reconnect would resend what was in flight from
// the memory store on the new connection, at a time and in an order the
// caller does not see, with a backoff without jitter. This package
// therefore turns paho's reconnect off (SetAutoReconnect(false),
// SetConnectRetry(false)) and makes each connection a new client with a
// clean session: a line in flight when a connection goes fails, goes to
// the spool, in order, and is sent again from there. Delivery is at least
// once; a board's lines may arrive twice, but never one before a line
// sent ahead of it.
//
// What it adds: its own connection loop over a list of brokers (the
// first that answers; the next when it is lost), backing off with
// jitter, capped (backoff.go), and longer each time a connection ends
// within a minute, so that two gateways sharing a client ID do not throw
// each other off in a storm; a warning when that is what happens
// (conn.go). Per board, a lane (send.go) of at most MaxInFlight lines:
// 3.1.1 has no Receive Maximum, so the bound is ours. Lines are published
// in Send order, and done is called in that order, by one goroutine per
// busy board waiting on the tokens in turn. When a line's publish fails
// or has no PUBACK within AckTimeout, it and every line behind it go to
// the spool (CRC per record, fsynced every second, bounded, Send waiting
// when full); while the spool holds anything, new lines go behind them,
// and it is drained to the broker in order (drain.go), each record
// removed only after its PUBACK, before lines go straight to the broker
// again. A queued line that the broker refuses by closing the connection
// each time it is the only line in flight, 5 times in a row, is moved to
// QUEUE_DIR/dead-letter (deadletter.go), so the lines behind it go on.
// It dials the broker itself, for a connection that writes paho's
// packets in batches and reads through a buffer (batchconn.go).
//
// MQTT 5's PUBACK reason "no matching subscribers", which the bridge on
// paho.golang counted, does not exist in 3.1.1: that count is gone.
//
// Topics, with P the prefix, G the gateway ID and B the board ID:
// P/G/status (retained online; the last will sets it to offline),
// P/G/B/status (retained online or offline, from BoardOnline and
// BoardOffline), P/G/B/up (each line, QoS 1) and P/G/+/down (subscribed;
// each message is handed to Deliver).
package bridge
