package gpio

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Board opens and holds the pins of one driver.
type Board struct {
	driver Driver // resolved: never DriverAuto
	log    *slog.Logger
	chips  *periphChips // DriverPeriph only
	held   map[string]Output
}

// Open resolves the driver (DriverAuto becomes periph or sim, as the host
// allows, and says why in the log) and prepares it. leds are the LEDs the
// caller means to claim, which auto uses to tell a Raspberry Pi's GPIO
// lines from a PC's unrelated ones.
func Open(d Driver, leds []LED, log *slog.Logger) (*Board, error) {
	if log == nil {
		log = slog.Default()
	}
	b := &Board{driver: d, log: log, held: map[string]Output{}}
	switch d {
	case DriverAuto:
		b.driver, b.chips = resolveAuto(leds, log)
	case DriverPeriph:
		chips, err := openChips()
		if err != nil {
			return nil, err
		}
		b.chips = chips
		log.Info("gpio driver", "driver", "periph", "chips", chips.describe())
	case DriverSim:
		log.Info("gpio driver", "driver", "sim", "reason", "configured")
	case DriverNone:
		log.Info("gpio driver", "driver", "none", "reason", "configured; LEDs are ignored")
	default:
		return nil, fmt.Errorf("gpio: unknown driver %v", d)
	}
	return b, nil
}

// resolveAuto picks periph where this host's GPIO lines carry the pins,
// or on any Raspberry Pi (so that a typo in a pin name is an error there,
// not a silent fallback), and sim elsewhere.
func resolveAuto(leds []LED, log *slog.Logger) (Driver, *periphChips) {
	pi := isRaspberryPi()
	chips, err := openChips()
	switch {
	case err == nil && (pi || chips.hasAll(leds)):
		log.Info("gpio driver", "driver", "periph", "reason", "auto: this host has the GPIO lines", "chips", chips.describe())
		return DriverPeriph, chips
	case err != nil && pi:
		// On a Pi the user wants the LEDs: report why they cannot have them.
		log.Error("gpio driver", "driver", "sim", "reason", "auto: "+err.Error())
		return DriverSim, nil
	case err != nil:
		log.Info("gpio driver", "driver", "sim", "reason", "auto: "+err.Error())
	default:
		log.Info("gpio driver", "driver", "sim", "reason", "auto: this host's GPIO lines do not include the configured pins", "chips", chips.describe())
	}
	return DriverSim, nil
}

func isRaspberryPi() bool {
	model, err := os.ReadFile("/proc/device-tree/model")
	return err == nil && strings.HasPrefix(string(model), "Raspberry Pi")
}

// Driver is the driver in use, never DriverAuto.
func (b *Board) Driver() Driver { return b.driver }

// Claim returns an output for every LED's pin, driven to the LED's off
// level, claiming the lines not already held. On error nothing new is kept.
func (b *Board) Claim(leds []LED) (map[string]Output, error) {
	pins := make(map[string]Output, len(leds))
	var claimed []string
	for _, l := range leds {
		if p, ok := b.held[l.Pin]; ok {
			pins[l.Pin] = p
			continue
		}
		p, err := b.open(l)
		if err != nil {
			for _, name := range claimed {
				b.release(name)
			}
			return nil, err
		}
		b.held[l.Pin] = p
		pins[l.Pin] = p
		claimed = append(claimed, l.Pin)
	}
	return pins, nil
}

// Bind makes each held simulated pin log as the LED in leds now using it.
// Call it once the previous controller has stopped writing, so that its
// last writes are still logged under the LED names it drove.
func (b *Board) Bind(leds []LED) {
	for _, l := range leds {
		if sp, ok := b.held[l.Pin].(*simPin); ok {
			sp.show(l)
		}
	}
}

// Keep releases every held line not used by leds.
func (b *Board) Keep(leds []LED) {
	used := map[string]bool{}
	for _, l := range leds {
		used[l.Pin] = true
	}
	for name := range b.held {
		if !used[name] {
			b.release(name)
		}
	}
}

// Check verifies that every LED's pin exists, without claiming it (the
// daemon may be running and holding it). ok is false when the driver has
// no pins to verify against.
func (b *Board) Check(leds []LED) (verified bool, err error) {
	if b.driver != DriverPeriph {
		return false, nil
	}
	var errs []error
	for _, l := range leds {
		if _, err := b.chips.line(l.Pin); err != nil {
			errs = append(errs, err)
		}
	}
	return true, errors.Join(errs...)
}

// Close releases every line.
func (b *Board) Close() {
	b.Keep(nil)
}

func (b *Board) open(l LED) (Output, error) {
	switch b.driver {
	case DriverPeriph:
		return b.chips.claim(l)
	case DriverSim:
		return &simPin{led: l, log: b.log}, nil
	}
	return discard{}, nil
}

func (b *Board) release(name string) {
	if p, ok := b.held[name]; ok {
		delete(b.held, name)
		if c, ok := p.(interface{ Close() }); ok {
			c.Close()
		}
	}
}

// gpioChipPaths lists the GPIO character devices.
func gpioChipPaths() []string {
	paths, _ := filepath.Glob("/dev/gpiochip*")
	return paths
}
