package pitest

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// doneMarker is the guest's last line: after it QEMU can be stopped.
const doneMarker = "PITEST-DONE"

// gpioLine is one line of /sys/kernel/debug/gpio. Dir and Value are empty
// when no program has the line requested, since gpiolib then prints only
// the line's name.
type gpioLine struct {
	Name, Consumer, Dir, Value string
}

func (l gpioLine) String() string {
	if l.Dir == "" {
		return l.Name + " (not requested)"
	}
	return l.Name + " " + l.Dir + " " + l.Value + " consumer " + strings.TrimSpace(l.Consumer)
}

// pinState is one line of the BCM2835 pin controller's debugfs "pins" file:
// the pin's function and the level its register reads, whoever owns it.
type pinState struct {
	Function, Level string
}

// report is what the guest said on its serial console.
type report struct {
	booted bool
	gpio   map[string]map[string]gpioLine // stage, line name
	pins   map[string]map[string]pinState // stage, pin number
	waits  map[string]string              // stage: "ok" or "timeout"
	pids   map[string]string              // run name: PID
	exits  map[string]string              // run name: exit status
	out    map[string][]string            // run name: output lines
	echo   map[string][]string            // client: lines received
}

var (
	// " gpio-475 (GPIO17              |gatewayd@63         ) out hi "
	// " gpio-475 (GPIO17              )"
	gpioRE = regexp.MustCompile(`^\s*gpio-\d+\s+\(([^|)]*?)\s*(?:\|([^)]*?)\s*)?\)\s*(?:(out|in)\s+(hi|lo|\?))?`)
	// "pin 17 (gpio17) 0:? function gpio_out in hi; irq 0 (none)"
	pinRE = regexp.MustCompile(`^pin (\d+) \(\S+\) .*function (\S+) in (hi|lo);`)
)

// parseReport reads the console log and keeps the guest's PITEST lines.
func parseReport(r io.Reader) report {
	rep := report{
		gpio:  map[string]map[string]gpioLine{},
		pins:  map[string]map[string]pinState{},
		waits: map[string]string{},
		pids:  map[string]string{},
		exits: map[string]string{},
		out:   map[string][]string{},
		echo:  map[string][]string{},
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		text := strings.TrimRight(sc.Text(), "\r")
		rest, ok := strings.CutPrefix(text, "PITEST ")
		if !ok {
			continue
		}
		kind, rest, _ := strings.Cut(rest, " ")
		key, rest, _ := strings.Cut(rest, " ")
		switch kind {
		case "booted":
			rep.booted = true
		case "gpio":
			if m := gpioRE.FindStringSubmatch(rest); m != nil {
				if rep.gpio[key] == nil {
					rep.gpio[key] = map[string]gpioLine{}
				}
				rep.gpio[key][m[1]] = gpioLine{Name: m[1], Consumer: m[2], Dir: m[3], Value: m[4]}
			}
		case "pin":
			if m := pinRE.FindStringSubmatch(rest); m != nil {
				if rep.pins[key] == nil {
					rep.pins[key] = map[string]pinState{}
				}
				rep.pins[key][m[1]] = pinState{Function: m[2], Level: m[3]}
			}
		case "wait":
			rep.waits[key] = rest
		case "pid":
			rep.pids[key] = rest
		case "exit":
			rep.exits[key] = rest
		case "out":
			rep.out[key] = append(rep.out[key], rest)
		case "echo":
			rep.echo[key] = append(rep.echo[key], rest)
		}
	}
	return rep
}
