package pitest

import (
	"slices"
	"strings"
	"testing"
)

// TestParseReport runs without the emulator: it pins down how the guest's
// console lines, copied from a real run, are read.
func TestParseReport(t *testing.T) {
	const console = "[    1.5] raspberrypi-exp-gpio soc:firmware:gpio: Failed to get GPIO 0 config (0 80)\r\n" +
		"PITEST booted 6.1.0-56-arm64\r\n" +
		"PITEST pid main 133\r\n" +
		"PITEST wait idle ok\r\n" +
		"PITEST gpio idle  gpio-475 (GPIO17              |gatewayd@133        ) out lo \r\n" +
		"PITEST gpio idle  gpio-480 (GPIO22              )\r\n" +
		"PITEST gpio idle  gpio-485 (GPIO27              |gatewayd@133        ) in  hi \r\n" +
		"PITEST pin idle pin 17 (gpio17) 0:? function gpio_out in lo; irq 0 (none)\r\n" +
		"PITEST echo c1 hello from the pi\r\n" +
		"PITEST out busy level=ERROR msg=\"gpio: pin \\\"GPIO22\\\": busy\"\r\n" +
		"PITEST exit busy 1\r\n" +
		"PITEST-DONE\r\n"
	rep := parseReport(strings.NewReader(console))

	if !rep.booted {
		t.Error("booted = false, want true")
	}
	for _, c := range []struct {
		line string
		want gpioLine
	}{
		{"GPIO17", gpioLine{Name: "GPIO17", Consumer: "gatewayd@133", Dir: "out", Value: "lo"}},
		{"GPIO22", gpioLine{Name: "GPIO22"}},
		{"GPIO27", gpioLine{Name: "GPIO27", Consumer: "gatewayd@133", Dir: "in", Value: "hi"}},
	} {
		if got := rep.gpio["idle"][c.line]; got != c.want {
			t.Errorf("idle %s: got %+v, want %+v", c.line, got, c.want)
		}
	}
	if got, want := rep.pins["idle"]["17"], (pinState{Function: "gpio_out", Level: "lo"}); got != want {
		t.Errorf("pin 17: got %+v, want %+v", got, want)
	}
	for _, c := range []struct{ got, want string }{
		{rep.pids["main"], "133"},
		{rep.waits["idle"], "ok"},
		{rep.exits["busy"], "1"},
		{strings.Join(rep.out["busy"], "\n"), `level=ERROR msg="gpio: pin \"GPIO22\": busy"`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if got, want := rep.echo["c1"], []string{"hello from the pi"}; !slices.Equal(got, want) {
		t.Errorf("echo: got %q, want %q", got, want)
	}
}
