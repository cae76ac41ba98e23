package gpio

import periphgpio "periph.io/x/conn/v3/gpio"

// Output is all the LED worker asks of a pin: drive it high or low. A
// periph line (periph's gpio.PinOut) is one, and so are the sim and none
// drivers' pins, which therefore need nothing else of periph's interface.
type Output interface {
	Out(l periphgpio.Level) error
}
