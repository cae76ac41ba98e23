package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/configs"
)

// errNoFile answers a reload of the built-in default configuration.
var errNoFile = errors.New("running on the built-in default configuration; nothing to reload (start with -config FILE)")

// reload is SIGHUP, or `gatewayctl reload`: read the file again and apply
// what can be applied to a running daemon. A file with errors is logged
// and changes nothing. The error says what was not applied, for the
// control socket to pass on.
func (d *daemon) reload() error {
	d.notify.Reloading()
	defer d.notify.Ready()
	if d.path == "" {
		d.log.Warn("reload: " + errNoFile.Error())
		return errNoFile
	}
	cfg, err := configs.Load(d.path)
	if err != nil {
		d.log.Error("reload failed; configuration unchanged", "file", d.path)
		for _, line := range strings.Split(err.Error(), "\n") {
			d.log.Error("config problem", "problem", line)
		}
		return fmt.Errorf("reload failed; configuration unchanged:\n%w", err)
	}
	var unapplied error
	old := d.cfg
	if err := d.bridgeKeepsFraming(cfg); err != nil {
		d.log.Error("reload refused; configuration unchanged: "+err.Error(), "file", d.path)
		return err
	}
	if cfg.Listen != old.Listen {
		d.log.Warn("reload: listen changed; restart gatewayd to apply it", "listen", old.Listen, "new", cfg.Listen)
	}
	if cfg.Log.Format != old.Log.Format {
		d.log.Warn("reload: log.format changed; restart gatewayd to apply it")
	}
	if cfg.Metrics.Listen != old.Metrics.Listen {
		d.log.Warn("reload: metrics.listen changed; restart gatewayd to apply it")
	}
	if !slices.Equal(cfg.LEDs(), old.LEDs()) || cfg.Driver() != old.Driver() {
		if err := d.leds.Apply(cfg.Driver(), cfg.LEDs()); err != nil {
			d.log.Error("reload: LEDs unchanged", "err", err)
			cfg.KeepGPIO(old)
			unapplied = fmt.Errorf("configuration reloaded, but the LEDs are unchanged: %w", err)
		}
	}
	d.reloadTLS(cfg)
	prevMQTT := d.mqtt
	d.mqtt = d.reloadBridge(cfg.Settings().MQTT)
	d.reloadSide(prevMQTT, cfg.Settings().MQTT)
	d.level.Set(cfg.LogLevel())
	d.srv.SetPolicy(cfg.Policy())
	// The shutdown timeout and other settings are read from d.cfg when used.
	cfg.Listen, cfg.Log.Format, cfg.Metrics.Listen = old.Listen, old.Log.Format, old.Metrics.Listen
	d.cfg = cfg
	d.log.Info("configuration reloaded", "file", d.path,
		"max_clients", cfg.Limits.MaxClients, "idle_timeout", time.Duration(cfg.Limits.IdleTimeout), "log_level", cfg.Log.Level)
	return unapplied
}

// bridgeKeepsFraming refuses a framing change while the MQTT bridge is on:
// raw framing echoes without the Uplink, so a line would be receipted and
// never published.
func (d *daemon) bridgeKeepsFraming(cfg *configs.Config) error {
	was, now := d.cfg.Policy().Framing, cfg.Policy().Framing
	if d.bridge == nil || was == now {
		return nil
	}
	return fmt.Errorf("framing cannot change from %s to %s while the MQTT bridge is on; restart gatewayd to change it", was, now)
}

// reloadNow asks the daemon's loop for a reload and waits for its outcome:
// reloads happen one at a time, on the loop, whether a signal or the
// control socket asked.
func (d *daemon) reloadNow(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case d.reloads <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
