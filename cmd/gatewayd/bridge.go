package main

import (
	"context"
	"net/url"
	"slices"
	"time"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/bridge"
	"github.com/gatewayd/gatewayd/gateway/control"
)

// bridgeClose bounds the goodbye to the broker at shutdown: the retained
// offline status and the DISCONNECT. Lines still queued stay on disk for
// the next start.
const bridgeClose = 5 * time.Second

// bridgeConfig is the bridge's view of the mqtt: section, which configs
// has parsed and checked: the bridge parses and reads nothing again.
func bridgeConfig(m configs.MQTTSettings) bridge.Config {
	return bridge.Config{
		Brokers:       m.Brokers,
		MaxLineBytes:  m.MaxLineBytes,
		GatewayID:     m.GatewayID,
		TopicPrefix:   m.TopicPrefix,
		Username:      m.Username,
		Password:      m.Password,
		RootCAs:       m.RootCAs,
		QueueDir:      m.QueueDir,
		QueueMaxBytes: m.QueueMaxBytes,
		SyncOnCommit:  m.QueueSync == "commit",
	}
}

// startBridge opens the MQTT bridge when mqtt.broker is set. Its whole
// wiring to the server is here: downlinks delivered through the server,
// the Uplink chain (uplinkChain: status page tap, Home Assistant
// publisher, bridge) as the server's Uplink, and the bridge's presence
// then Home Assistant's announcements added as board listeners of their
// own (Server.OnBoard), so nothing wraps the LED rig's hooks and the
// parts' order cannot lose them. It starts before the echo server and
// stops after it has drained, so every receipt in flight is completed.
func (d *daemon) startBridge() (func(), error) {
	m := d.cfg.Settings().MQTT
	if m.Broker == nil {
		return func() {}, nil
	}
	b, err := bridge.Open(bridgeConfig(m), d.srv.Deliver, d.log)
	if err != nil {
		return nil, err
	}
	d.bridge, d.mqtt = b, m
	uplink, err := d.uplinkChain(b, m)
	if err != nil {
		b.Close(context.Background())
		return nil, err
	}
	d.srv.Uplink = uplink
	d.srv.OnBoard(bridgePresence(b))
	d.srv.OnBoard(d.haAnnounce)
	d.log.Info("MQTT bridge on", "broker", b.Stats().Broker, "gateway_id", m.GatewayID, "topic_prefix", m.TopicPrefix, "queue_dir", m.QueueDir)
	return func() {
		d.stopSide()
		ctx, cancel := context.WithTimeout(context.Background(), bridgeClose)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			d.log.Error("bridge: closing the queue", "err", err)
		}
		st := b.Stats()
		d.log.Info("bridge stopped", "published", st.Published, "acknowledged", st.Acked, "queued", st.QueueMessages)
	}, nil
}

// bridgePresence publishes each board's online/offline status.
func bridgePresence(b *bridge.Bridge) func(gateway.BoardEvent) {
	return func(e gateway.BoardEvent) {
		if e.Up {
			b.BoardOnline(e.ID)
		} else {
			b.BoardOffline(e.ID)
		}
	}
}

// reloadBridge applies a changed mqtt: section. The bridge's broker,
// credentials and IDs change in place and the queue is kept. Turning the
// bridge on or off, or moving or resizing its queue, needs a restart:
// the server's Uplink is fixed while it serves, and the queue's files
// and bound belong to the running bridge. It returns the settings in
// effect afterwards.
func (d *daemon) reloadBridge(m configs.MQTTSettings) configs.MQTTSettings {
	old := d.mqtt
	switch {
	case d.bridge == nil && m.Broker == nil:
		return m
	case d.bridge == nil:
		d.log.Warn("reload: mqtt.broker set; restart gatewayd to turn the MQTT bridge on")
		return old
	case m.Broker == nil:
		d.log.Warn("reload: mqtt.broker emptied; restart gatewayd to turn the MQTT bridge off (it keeps running on the old settings)")
		return old
	}
	if m.QueueDir != old.QueueDir || m.QueueMaxBytes != old.QueueMaxBytes || m.QueueSync != old.QueueSync {
		d.log.Warn("reload: mqtt.queue_dir, mqtt.queue_max_bytes or mqtt.queue_sync changed; restart gatewayd to apply them", "queue_dir", old.QueueDir, "queue_max_bytes", old.QueueMaxBytes, "queue_sync", old.QueueSync)
		m.QueueDir, m.QueueMaxBytes, m.QueueSync = old.QueueDir, old.QueueMaxBytes, old.QueueSync
	}
	if sameBridge(m, old) {
		return old
	}
	ctx, cancel := context.WithTimeout(context.Background(), bridgeClose)
	defer cancel()
	if err := d.bridge.Reconfigure(ctx, bridgeConfig(m)); err != nil {
		d.log.Error("reload: MQTT bridge unchanged", "err", err)
		return old
	}
	d.log.Info("reload: MQTT bridge reconfigured; queued lines kept", "broker", d.bridge.Stats().Broker)
	return m
}

// sameBridge says whether a and b configure the bridge alike.
func sameBridge(a, b configs.MQTTSettings) bool {
	return slices.EqualFunc(a.Brokers, b.Brokers, func(x, y *url.URL) bool { return x.String() == y.String() }) &&
		a.GatewayID == b.GatewayID && a.MaxLineBytes == b.MaxLineBytes &&
		a.TopicPrefix == b.TopicPrefix && a.Username == b.Username && a.Password == b.Password &&
		a.RootCAs.Equal(b.RootCAs) &&
		a.QueueDir == b.QueueDir && a.QueueMaxBytes == b.QueueMaxBytes && a.QueueSync == b.QueueSync
}

// deadLetters is GET /v1/mqtt/dead-letters: the lines the broker refused,
// read from queueDir's dead-letter file (the queue directory never
// changes while gatewayd runs).
func deadLetters(queueDir string) func() ([]control.DeadLetter, error) {
	return func() ([]control.DeadLetter, error) {
		dl, err := bridge.ReadDeadLetters(queueDir)
		out := make([]control.DeadLetter, len(dl))
		for i, x := range dl {
			out[i] = control.DeadLetter{Board: x.Board, Line: x.Line}
		}
		return out, err
	}
}

var _ gateway.Uplink = (*bridge.Bridge)(nil)
