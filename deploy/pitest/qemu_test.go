package pitest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// dieWithTest makes cmd die with the test process where the system allows,
// so that a test killed by its -timeout leaves no QEMU behind.
var dieWithTest = func(*exec.Cmd) {}

// machine is how one emulated Raspberry Pi 3 is started.
type machine struct {
	QEMU    string // qemu-system-aarch64
	Kernel  string
	DTB     string
	Initrd  string
	Console string // file that receives everything the serial console prints
}

// run boots the machine and returns once the guest printed doneMarker, QEMU
// exited, or ctx ended. QEMU is always stopped before run returns: the raspi3b
// machine has no way for the guest to power it off.
func (m machine) run(ctx context.Context) error {
	args := []string{
		"-M", "raspi3b", "-m", "1G",
		"-kernel", m.Kernel, "-dtb", m.DTB, "-initrd", m.Initrd,
		// ttyAMA0 is the PL011 UART, QEMU's first serial port on raspi3b.
		"-append", "console=ttyAMA0,115200 rdinit=/init panic=-1",
		"-display", "none", "-monitor", "none", "-serial", "stdio",
		"-no-reboot",
	}
	cmd := exec.Command(m.QEMU, args...)
	dieWithTest(cmd)
	log, err := os.Create(m.Console)
	if err != nil {
		return err
	}
	defer log.Close()
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", m.QEMU, err)
	}

	done := make(chan bool, 1) // whether the marker was seen
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		seen := false
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if !seen && strings.TrimRight(sc.Text(), "\r") == doneMarker {
				seen = true
				done <- true
			}
		}
		io.Copy(io.Discard, pr) // a line longer than the buffer: keep QEMU unblocked
		if !seen {
			done <- false
		}
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		exited <- err
	}()

	var result error
	select {
	case seen := <-done:
		if !seen {
			result = errors.New("QEMU's output ended before the guest finished")
		}
	case err := <-exited:
		exited <- err
		result = fmt.Errorf("QEMU exited before the guest finished: %v", err)
	case <-ctx.Done():
		deadline, _ := ctx.Deadline()
		result = fmt.Errorf("the guest did not print %s by %s: %w", doneMarker, deadline.Format(time.TimeOnly), ctx.Err())
	}
	cmd.Process.Kill()
	select {
	case <-exited:
		<-copied
	case <-time.After(10 * time.Second):
		result = errors.Join(result, errors.New("QEMU did not exit after SIGKILL"))
	}
	return result
}
