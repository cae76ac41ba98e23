package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway/control"
	"github.com/gatewayd/gatewayd/gpio"
)

// loadConfig reads path, or the built-in default when path is empty.
func loadConfig(path string) (*configs.Config, error) {
	if path == "" {
		return configs.Default(), nil
	}
	return configs.Load(path)
}

// checkConfig is -check: the file was valid if we got here; verify the
// pins with the configured driver too, and that the control socket's
// directory exists or can be made.
func checkConfig(cfg *configs.Config, stdout, stderr io.Writer) error {
	leds := cfg.LEDs()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if d := cfg.Driver(); len(leds) > 0 && (d == gpio.DriverPeriph || d == gpio.DriverAuto) {
		board, err := gpio.Open(d, leds, quiet)
		switch {
		case errors.Is(err, gpio.ErrNoGPIO):
			if d == gpio.DriverPeriph {
				fmt.Fprintf(stderr, "warning: the pins could not be verified on this host: %v\n", err)
			}
		case err != nil:
			// GPIO lines exist but cannot be used (permission): the
			// daemon would fail to start, so the check fails too.
			fmt.Fprintln(stderr, err)
			return errReported
		case err == nil:
			verified, err := board.Check(leds)
			board.Close()
			if err != nil {
				fmt.Fprintln(stderr, err)
				return errReported
			}
			if !verified && d == gpio.DriverPeriph {
				fmt.Fprintln(stderr, "warning: the pins could not be verified on this host")
			}
		}
	}
	if path := (control.Env{}).ServerPath(cfg.Settings().Control); path != "" {
		if err := control.CheckDir(path); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cfg.File, err)
			return errReported
		}
	}
	fmt.Fprintln(stdout, "config OK")
	return nil
}
