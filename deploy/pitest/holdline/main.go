//go:build linux

// Command holdline claims GPIO lines through the kernel's GPIO character
// device (uAPI v2) and keeps them until it is signalled. The Raspberry Pi
// end-to-end test runs it inside the emulated Pi to hold a line that gatewayd
// is then asked to use, the way another program on a real Pi would.
//
// It uses only the standard library so that it builds for arm64 without
// adding anything to the module.
//
//	holdline [-consumer LABEL] [-value 0|1] LINE...
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"unsafe"
)

// Sizes and numbers from include/uapi/linux/gpio.h.
const (
	maxNameSize     = 32
	linesMax        = 64
	numAttrsMax     = 10
	flagOutput      = 1 << 3
	attrOutputValue = 2

	// _IOR(0xB4, 0x01, struct gpiochip_info)
	ioctlChipInfo = 2<<30 | uint32(unsafe.Sizeof(chipInfo{}))<<16 | 0xB4<<8 | 0x01
	// _IOWR(0xB4, 0x05, struct gpio_v2_line_info)
	ioctlLineInfo = 3<<30 | uint32(unsafe.Sizeof(lineInfo{}))<<16 | 0xB4<<8 | 0x05
	// _IOWR(0xB4, 0x07, struct gpio_v2_line_request)
	ioctlLineRequest = 3<<30 | uint32(unsafe.Sizeof(lineRequest{}))<<16 | 0xB4<<8 | 0x07
)

type chipInfo struct {
	Name  [maxNameSize]byte
	Label [maxNameSize]byte
	Lines uint32
}

type lineAttribute struct {
	ID      uint32
	Padding uint32
	Value   uint64 // flags, values or debounce period, by ID
}

type lineConfigAttribute struct {
	Attr lineAttribute
	Mask uint64
}

type lineConfig struct {
	Flags    uint64
	NumAttrs uint32
	Padding  [5]uint32
	Attrs    [numAttrsMax]lineConfigAttribute
}

type lineInfo struct {
	Name     [maxNameSize]byte
	Consumer [maxNameSize]byte
	Offset   uint32
	NumAttrs uint32
	Flags    uint64
	Attrs    [numAttrsMax]lineAttribute
	Padding  [4]uint32
}

type lineRequest struct {
	Offsets         [linesMax]uint32
	Consumer        [maxNameSize]byte
	Config          lineConfig
	NumLines        uint32
	EventBufferSize uint32
	Padding         [5]uint32
	FD              int32
}

func ioctl(fd uintptr, req uint32, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// findLines looks the named lines up on every GPIO chip and returns, for the
// one chip that has them all, its open file and the lines' offsets.
func findLines(names []string) (*os.File, []uint32, error) {
	chips, _ := filepath.Glob("/dev/gpiochip*")
	if len(chips) == 0 {
		return nil, nil, errors.New("no /dev/gpiochip*")
	}
	for _, path := range chips {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, nil, err
		}
		var ci chipInfo
		if err := ioctl(f.Fd(), ioctlChipInfo, unsafe.Pointer(&ci)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: chip info: %w", path, err)
		}
		byName := map[string]uint32{}
		for off := uint32(0); off < ci.Lines; off++ {
			li := lineInfo{Offset: off}
			if err := ioctl(f.Fd(), ioctlLineInfo, unsafe.Pointer(&li)); err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("%s: line %d info: %w", path, off, err)
			}
			byName[cstring(li.Name[:])] = off
		}
		offsets := make([]uint32, 0, len(names))
		for _, n := range names {
			if off, ok := byName[n]; ok {
				offsets = append(offsets, off)
			}
		}
		if len(offsets) == len(names) {
			return f, offsets, nil
		}
		f.Close()
	}
	return nil, nil, fmt.Errorf("lines %q not all found on one chip", names)
}

func run() error {
	consumer := flag.String("consumer", "holdline", "consumer `label` the kernel shows for the lines")
	value := flag.Uint("value", 0, "level to drive the lines to (0 or 1)")
	flag.Parse()
	names := flag.Args()
	if len(names) == 0 || len(names) > linesMax || *value > 1 {
		flag.Usage()
		os.Exit(2)
	}
	chip, offsets, err := findLines(names)
	if err != nil {
		return err
	}
	defer chip.Close()

	var req lineRequest
	copy(req.Offsets[:], offsets)
	copy(req.Consumer[:maxNameSize-1], *consumer)
	req.NumLines = uint32(len(offsets))
	req.Config.Flags = flagOutput
	if *value == 1 {
		req.Config.NumAttrs = 1
		req.Config.Attrs[0].Attr = lineAttribute{ID: attrOutputValue, Value: 1<<len(offsets) - 1}
		req.Config.Attrs[0].Mask = 1<<len(offsets) - 1
	}
	if err := ioctl(chip.Fd(), ioctlLineRequest, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("request %q: %w", names, err)
	}
	lines := os.NewFile(uintptr(req.FD), "lines")
	defer lines.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("holdline: holding %q at offsets %v as %q, value %d\n", names, offsets, *consumer, *value)
	<-sig
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "holdline:", err)
		os.Exit(1)
	}
}
