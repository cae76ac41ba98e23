package main

import (
	"slices"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/configs"
)

// reload is SIGHUP: read the file again and apply what can be applied to
// a running daemon. A file with errors is logged and changes nothing.
func (d *daemon) reload() {
	d.notify.Reloading()
	defer d.notify.Ready()
	if d.path == "" {
		d.log.Warn("reload: running on the built-in default configuration; nothing to reload (start with -config FILE)")
		return
	}
	cfg, err := configs.Load(d.path)
	if err != nil {
		d.log.Error("reload failed; configuration unchanged", "file", d.path)
		for _, line := range strings.Split(err.Error(), "\n") {
			d.log.Error("config problem", "problem", line)
		}
		return
	}
	old := d.cfg
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
		}
	}
	d.mqtt = d.reloadBridge(cfg.Settings().MQTT)
	d.level.Set(cfg.LogLevel())
	d.srv.SetPolicy(cfg.Policy())
	// The shutdown timeout and other settings are read from d.cfg when used.
	cfg.Listen, cfg.Log.Format, cfg.Metrics.Listen = old.Listen, old.Log.Format, old.Metrics.Listen
	d.cfg = cfg
	d.log.Info("configuration reloaded", "file", d.path,
		"max_clients", cfg.Limits.MaxClients, "idle_timeout", time.Duration(cfg.Limits.IdleTimeout), "log_level", cfg.Log.Level)
}
