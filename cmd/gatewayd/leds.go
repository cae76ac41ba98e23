package main

import (
	"log/slog"
	"net/netip"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gpio"
)

// newLEDRig claims cfg's LEDs and starts their worker. healthy gates the
// heartbeat LEDs.
func newLEDRig(cfg *configs.Config, log *slog.Logger, healthy func() error) (*gpio.Rig, error) {
	return gpio.NewRig(cfg.Driver(), cfg.LEDs(), gpio.RigOptions{Healthy: healthy, Logger: log})
}

// ledHooks is where the server's events meet the LEDs: gateway and gpio
// know nothing of each other. Each hook only touches the rig's atomics,
// so the echo path never waits on GPIO.
func ledHooks(r *gpio.Rig) gateway.Hooks {
	return gateway.Hooks{
		Connect: func(netip.AddrPort, int) {
			r.ClientsChanged(+1)
			r.Notify(gpio.EventConnect)
		},
		Message: func(netip.AddrPort, int) {
			r.Notify(gpio.EventMessage)
		},
		Disconnect: func(netip.AddrPort, int, error) {
			r.ClientsChanged(-1)
			r.Notify(gpio.EventDisconnect)
		},
	}
}
