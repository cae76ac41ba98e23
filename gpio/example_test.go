package gpio_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/gatewayd/gatewayd/gpio"
)

// A message blinks the activity LED; the sim driver logs each change.
func Example() {
	// The log without time stamps, so that the output is the same each run.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	leds := []gpio.LED{{Name: "activity", Pin: "GPIO27", On: gpio.EventMessage, Action: gpio.ActionBlink, Duration: 10 * time.Millisecond}}

	board, err := gpio.Open(gpio.DriverSim, leds, log)
	if err != nil {
		panic(err)
	}
	defer board.Close()
	pins, err := board.Claim(leds)
	if err != nil {
		panic(err)
	}
	ctrl, err := gpio.NewController(leds, pins, gpio.Options{Logger: log})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go ctrl.Run(ctx)

	ctrl.Notify(gpio.EventMessage)
	// NewController's off, Run's off, then the blink's on and off.
	for ctrl.Stats().Changes < 4 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-ctrl.Done()
	// Output:
	// level=INFO msg="gpio driver" driver=sim reason=configured
	// level=INFO msg=led name=activity pin=GPIO27 state=off
	// level=INFO msg=led name=activity pin=GPIO27 state=on
	// level=INFO msg=led name=activity pin=GPIO27 state=off
}
