package gpio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"

	"periph.io/x/conn/v3/driver/driverreg"
	periphgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3/gpioioctl"
)

// periphChips reaches pins through periph's gpioioctl driver, the Linux
// GPIO character device (/dev/gpiochipN), and no other. periph also has
// memory-mapped (bcm283x) and sysfs drivers for the same pins, but only the
// character device makes the kernel itself record the line as an output
// owned by gatewayd (visible in /sys/kernel/debug/gpio and gpioinfo), works
// the same on a Pi 3, 4 and 5 whichever chip carries the pins, and releases
// the line when the process exits. So this package imports gpioioctl alone
// and looks each pin up by name on its chips, never through periph's
// global pin registry, where another driver could answer for the same name.
type periphChips struct {
	chips []*gpioioctl.GPIOChip
}

// ErrNoGPIO means the host has no GPIO character devices at all: a PC, or
// a container without /dev/gpiochip*.
var ErrNoGPIO = errors.New("gpio: this host has no GPIO lines (no /dev/gpiochip*)")

// openChips initialises gpioioctl and explains, in one sentence, why no
// chip could be used.
func openChips() (*periphChips, error) {
	paths := gpioChipPaths()
	if len(paths) == 0 {
		return nil, ErrNoGPIO
	}
	// gpioioctl skips a chip it cannot open and only logs why; open them
	// first to turn a permission problem into advice.
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("gpio: permission denied opening %s: add the user running gatewayd to the gpio group (sudo usermod -aG gpio $USER, then log in again) or run it through its systemd unit", p)
		}
		if err == nil {
			f.Close()
		}
	}
	if _, err := driverreg.Init(); err != nil {
		return nil, fmt.Errorf("gpio: %w", err)
	}
	if len(gpioioctl.Chips) == 0 {
		return nil, fmt.Errorf("gpio: none of %s could be opened as a GPIO chip", strings.Join(paths, ", "))
	}
	return &periphChips{chips: gpioioctl.Chips}, nil
}

func (pc *periphChips) describe() string {
	var names []string
	for _, c := range pc.chips {
		names = append(names, fmt.Sprintf("%s[%s]", c.Name(), c.Label()))
	}
	return strings.Join(names, ",")
}

func (pc *periphChips) hasAll(leds []LED) bool {
	for _, l := range leds {
		if _, err := pc.line(l.Pin); err != nil {
			return false
		}
	}
	return true
}

// line finds the named line on whichever chip carries it: a Pi 5 and
// newer kernels number the chips differently from a Pi 3 or 4.
func (pc *periphChips) line(name string) (*gpioioctl.GPIOLine, error) {
	for _, c := range pc.chips {
		if l := c.ByName(name); l != nil {
			return l, nil
		}
	}
	// The device tree names some of a Pi 3's lines after their function
	// (GPIO4 is "GPIO_GCLK", GPIO14 "TXD1"), yet users know every pin by
	// its BCM number, which is the line's offset on the SoC's own chip.
	if prefix, n := splitNumber(name); prefix == "GPIO" && n >= 0 {
		for _, c := range pc.chips {
			if isBCMChip(c.Label()) && n < c.LineCount() {
				return c.ByNumber(n), nil
			}
		}
	}
	return nil, fmt.Errorf("gpio: pin %q does not exist on %s; use one of its line names: %s", name, pc.describe(), pc.lineNames())
}

func (pc *periphChips) lineNames() string {
	var names []string
	for _, c := range pc.chips {
		for _, l := range c.Lines() {
			if n := l.Name(); n != "" && n != "-" && n != "_" {
				names = append(names, n)
			}
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	const most = 64
	if len(names) > most {
		return strings.Join(names[:most], ", ") + ", …"
	}
	return strings.Join(names, ", ")
}

// claim requests the line as an output driven to the LED's off level.
func (pc *periphChips) claim(l LED) (Output, error) {
	line, err := pc.line(l.Pin)
	if err != nil {
		return nil, err
	}
	off := periphgpio.Level(l.ActiveLow)
	if err := line.Out(off); err != nil {
		// gpioioctl keeps only the errno's text, so match on that.
		switch msg := err.Error(); {
		case strings.Contains(msg, syscall.EBUSY.Error()):
			by := ""
			if c := line.Consumer(); c != "" {
				by = fmt.Sprintf(" by %q", c)
			}
			return nil, fmt.Errorf("gpio: pin %q is already in use%s: stop that program or choose another pin", l.Pin, by)
		case strings.Contains(msg, syscall.EACCES.Error()), strings.Contains(msg, syscall.EPERM.Error()):
			return nil, fmt.Errorf("gpio: permission denied claiming pin %q: add the user running gatewayd to the gpio group", l.Pin)
		}
		return nil, fmt.Errorf("gpio: pin %q: %w", l.Pin, err)
	}
	return line, nil
}

// naturalLess orders GPIO2 before GPIO10.
func naturalLess(a, b string) bool {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	if pa != pb || na < 0 || nb < 0 {
		return a < b
	}
	return na < nb
}

func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if i == len(s) {
		return s, -1
	}
	n := 0
	for _, r := range s[i:] {
		n = n*10 + int(r-'0')
	}
	return s[:i], n
}

// isBCMChip reports whether a chip is the Broadcom SoC's own GPIO
// controller (Pi 1 to 4), whose line offsets are the BCM pin numbers.
func isBCMChip(label string) bool {
	return strings.HasPrefix(label, "pinctrl-bcm2") || label == "bcm2835_gpio"
}
