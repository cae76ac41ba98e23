// Package gpio drives gatewayd's LEDs so that a person standing by the
// board sees the traffic.
//
// A Board opens pins through one Driver: real lines through periph.io's
// GPIO character-device driver, a simulator that logs each change, or
// nothing. A Controller owns one goroutine, the LED worker, which turns
// events into pin writes. Events reach it through atomic flags and never
// wait: under a flood they coalesce, so each LED changes at most once per
// its duration, the way the Linux kernel's oneshot and activity LED
// triggers behave. A Rig holds the Board and the running Controller for a
// daemon: it swaps them on reload, counts what it was told, and reports
// whether the worker is alive.
//
// The package knows nothing of the network; cmd/gatewayd forwards the
// gateway server's hooks to Rig.Notify and Rig.ClientsChanged.
package gpio
