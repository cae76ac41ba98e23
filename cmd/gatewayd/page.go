package main

import (
	"net/http"
	"os"
	"time"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/bridge"
	"github.com/gatewayd/gatewayd/gateway/homeassistant"
	"github.com/gatewayd/gatewayd/gateway/statuspage"
)

// uplinkChain builds the server's Uplink, the one place it is put
// together: the status page's tap, then the Home Assistant publisher
// (state JSON, and discovery with mqtt.homeassistant), then the bridge.
// Each passes every line on first and unchanged; the receipt waits for
// the bridge alone.
func (d *daemon) uplinkChain(b *bridge.Bridge, m configs.MQTTSettings) (gateway.Uplink, error) {
	p, err := homeassistant.NewPublisher(b, b, homeassistant.Options{
		Names: homeassistant.Names{DiscoveryPrefix: m.DiscoveryPrefix, TopicPrefix: m.TopicPrefix,
			GatewayID: m.GatewayID, Version: version},
		Discovery: m.HomeAssistant,
		FW:        d.boardFW,
		Logger:    d.log,
	})
	if err != nil {
		return nil, err
	}
	d.ha = p
	d.tap = &statuspage.Tap{Next: p}
	if m.HomeAssistant {
		d.log.Info("Home Assistant discovery on", "discovery_prefix", m.DiscoveryPrefix)
	}
	return d.tap, nil
}

// reloadSide follows a reload: state and discovery move to the topic
// prefix and gateway ID the bridge now uses (d.mqtt). Turning discovery on
// or off, or moving its prefix, takes a restart: the subscriptions and the
// control socket's forget were set up at start.
func (d *daemon) reloadSide(prev, asked configs.MQTTSettings) {
	if d.ha == nil {
		return
	}
	if asked.HomeAssistant != prev.HomeAssistant || asked.DiscoveryPrefix != prev.DiscoveryPrefix {
		d.log.Warn("reload: mqtt.homeassistant or mqtt.discovery_prefix changed; restart gatewayd to apply them")
	}
	d.mqtt.HomeAssistant, d.mqtt.DiscoveryPrefix = prev.HomeAssistant, prev.DiscoveryPrefix
	d.ha.Rename(d.mqtt.TopicPrefix, d.mqtt.GatewayID)
}

// stopSide stops the publisher; the server has drained by then.
func (d *daemon) stopSide() {
	if d.ha != nil {
		d.ha.Close()
	}
}

// haAnnounce announces a board to Home Assistant at its hello. It is
// called under the board registry's lock and only queues the work.
func (d *daemon) haAnnounce(e gateway.BoardEvent) {
	if e.Up && d.ha != nil {
		d.ha.BoardUp(e.ID)
	}
}

// boardFW is a connected board's fw=, for its Home Assistant device.
func (d *daemon) boardFW(id string) string {
	for _, b := range d.srv.Boards() {
		if b.ID == id {
			return b.FW
		}
	}
	return ""
}

// forgetFunc is the control socket's Forget: nil unless discovery is on.
func (d *daemon) forgetFunc() func(string) error {
	if d.ha == nil || !d.mqtt.HomeAssistant {
		return nil
	}
	return func(id string) error {
		d.tap.Forget(id)
		return d.ha.Forget(id)
	}
}

// withPage serves the status page beside metrics on the metrics listener:
// /metrics and /healthz go to metrics, everything else to the page. Its
// close ends the pages' event streams, which would otherwise hold the
// listener's shutdown until its timeout.
func (d *daemon) withPage(metrics http.Handler) (http.Handler, func()) {
	id := d.mqtt.GatewayID
	if id == "" {
		id, _ = os.Hostname()
	}
	src := statuspage.Source{
		GatewayID: id,
		Version:   version,
		Started:   d.started,
		Status:    d.snapshot,
		Boards:    d.srv.Boards,
	}
	if d.tap != nil {
		src.LastLine = d.tap.LastLine
	}
	page := statuspage.New(src)
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.Handle("/healthz", metrics)
	mux.Handle("/", page)
	return mux, page.Close
}

// started is when this process started, the page's uptime.
var started = time.Now()
