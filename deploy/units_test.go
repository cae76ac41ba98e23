// The systemd units on their own: systemd-analyze verify and security, the
// settings users rely on, and socket activation outside systemd.

package deploy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hostUnitDir is where the build machine's systemd keeps its own units;
// systemd-analyze verify --root needs sysinit.target and friends in the root.
func hostUnitDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(d, "sysinit.target")); err == nil {
			return d
		}
	}
	t.Skip("no systemd unit directory with sysinit.target on this machine (deploy/install-deps.sh installs systemd)")
	return ""
}

// verifyRoot prepares a root for systemd-analyze verify: the host's units
// and nothing else, so only what the layout itself adds is judged. (The
// units run nothing but gatewayd and gatewayctl, which the layout brings.)
func verifyRoot(t *testing.T) string {
	t.Helper()
	units := hostUnitDir(t)
	root := t.TempDir()
	mustMkdir(t, filepath.Join(root, "usr/lib/systemd"), filepath.Join(root, "usr/bin"), filepath.Join(root, "etc/systemd/system"))
	run(t, "cp", "-a", units, filepath.Join(root, "usr/lib/systemd/system"))
	mustSymlink(t, "usr/bin", filepath.Join(root, "bin"))
	mustSymlink(t, "usr/lib", filepath.Join(root, "lib"))
	return root
}

// packageBinaries stand in for the package's gatewayd (ExecStart) and
// gatewayctl (ExecReload), which verify checks are executable.
func packageBinaries(t *testing.T, root string) {
	t.Helper()
	fakeExecutable(t, filepath.Join(root, "usr/sbin/gatewayd"))
	fakeExecutable(t, filepath.Join(root, "usr/bin/gatewayctl"))
}

// installManPages puts deploy/man's pages, compressed, where man(1) looks
// for them below dir, as the package does below /usr/share/man.
func installManPages(t *testing.T, dir string) {
	t.Helper()
	pages, err := filepath.Glob("man/*.[0-9]")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no manual pages in deploy/man: %v", err)
	}
	for _, p := range pages {
		section := p[len(p)-1:]
		dst := filepath.Join(dir, "man"+section, filepath.Base(p)+".gz")
		mustMkdir(t, filepath.Dir(dst))
		run(t, "sh", "-c", `gzip -9nc "$1" >"$2"`, "sh", p, dst)
	}
}

// fakeExecutable stands in for a binary that the step under test only
// copies or checks the existence of, never runs.
func fakeExecutable(t *testing.T, path string) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestUnitsVerify runs systemd-analyze verify on the units as the package
// installs them and as install.sh does. verify exits 0 even for a value it
// cannot parse (it prints "ignoring"), so any output at all is a failure;
// the broken-unit row proves the check sees such a mistake.
func TestUnitsVerify(t *testing.T) {
	needTool(t, "systemd-analyze")
	tests := []struct {
		name     string
		setup    func(t *testing.T, root string)
		wantFail string // a substring of the output; empty: clean
	}{
		{
			name: "package layout",
			setup: func(t *testing.T, root string) {
				packageBinaries(t, root)
				for _, u := range []string{"gatewayd.service", "gatewayd.socket"} {
					copyFile(t, u, filepath.Join(root, "etc/systemd/system", u), 0o644)
				}
				installManPages(t, filepath.Join(root, "usr/share/man"))
			},
		},
		{
			name: "install.sh layout",
			setup: func(t *testing.T, root string) {
				runInstall(t, root, fakeBuild(t))
			},
		},
		{
			name: "a missing manual page is reported",
			setup: func(t *testing.T, root string) {
				packageBinaries(t, root)
				for _, u := range []string{"gatewayd.service", "gatewayd.socket"} {
					copyFile(t, u, filepath.Join(root, "etc/systemd/system", u), 0o644)
				}
			},
			wantFail: "man gatewayd(8)",
		},
		{
			name: "a missing gatewayctl (ExecReload) is reported",
			setup: func(t *testing.T, root string) {
				fakeExecutable(t, filepath.Join(root, "usr/sbin/gatewayd"))
				for _, u := range []string{"gatewayd.service", "gatewayd.socket"} {
					copyFile(t, u, filepath.Join(root, "etc/systemd/system", u), 0o644)
				}
				installManPages(t, filepath.Join(root, "usr/share/man"))
			},
			wantFail: "/usr/bin/gatewayctl",
		},
		{
			name: "a broken unit is reported",
			setup: func(t *testing.T, root string) {
				packageBinaries(t, root)
				installManPages(t, filepath.Join(root, "usr/share/man"))
				b, err := os.ReadFile("gatewayd.service")
				if err != nil {
					t.Fatal(err)
				}
				bad := strings.Replace(string(b), "ProtectSystem=strict", "ProtectSystem=stricter", 1)
				writeFile(t, filepath.Join(root, "etc/systemd/system/gatewayd.service"), bad, 0o644)
				copyFile(t, "gatewayd.socket", filepath.Join(root, "etc/systemd/system/gatewayd.socket"), 0o644)
			},
			wantFail: "stricter",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := verifyRoot(t)
			tt.setup(t, root)
			cmd := exec.Command("systemd-analyze", "verify", "--root="+root, "gatewayd.socket", "gatewayd.service")
			// verify runs man(1) for each man: in Documentation=; pointed
			// at the root, it checks the pages as they were installed.
			cmd.Env = append(os.Environ(), "MANPATH="+root+"/usr/share/man:"+root+"/usr/local/share/man")
			out, err := cmd.CombinedOutput()
			clean := err == nil && len(bytes.TrimSpace(out)) == 0
			switch {
			case tt.wantFail == "" && !clean:
				t.Errorf("systemd-analyze verify: err=%v, output:\n%s", err, out)
			case tt.wantFail != "" && !strings.Contains(string(out), tt.wantFail):
				t.Errorf("systemd-analyze verify on a broken unit: err=%v, output %q, want it to mention %q", err, out, tt.wantFail)
			}
		})
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for gatewayd\.service: ([0-9.]+)`)

// TestSecurityExposure holds the sandbox to the bar: systemd's own
// offline review rates the service 2.0 or lower (0 is best, 10 worst).
func TestSecurityExposure(t *testing.T) {
	needTool(t, "systemd-analyze")
	cmd := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", "gatewayd.service")
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0")
	out, err := cmd.CombinedOutput()
	// security exits non-zero only above --threshold (100 by default), so an
	// error is a real failure to run.
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no \"Overall exposure level\" line in:\n%s", out)
	}
	got, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	const want = 2.0
	t.Logf("systemd-analyze security --offline=true gatewayd.service: exposure %.1f", got)
	if got > want {
		t.Errorf("exposure level %.1f, want <= %.1f; review:\n%s", got, want, out)
	}
}

// unitSettings reads KEY=VALUE lines of a unit file (comments skipped), in
// order, keeping every value of a repeated key.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: line %q is not KEY=VALUE", path, line)
			continue
		}
		settings[k] = append(settings[k], v)
	}
	return settings
}

// TestServiceContract checks the settings that a hardening score does not
// capture but a user notices: the LEDs still work (GPIO devices reachable,
// gpio group), the daemon is supervised as the contract says, and the
// socket serves the LAN.
func TestServiceContract(t *testing.T) {
	svc := unitSettings(t, "gatewayd.service")
	sock := unitSettings(t, "gatewayd.socket")
	tests := []struct {
		unit map[string][]string
		key  string
		want string // "" means the key must be absent
	}{
		{svc, "Type", "notify"},
		{svc, "NotifyAccess", "main"},
		{svc, "ExecStart", "/usr/sbin/gatewayd -config /etc/gatewayd/gatewayd.yaml"},
		{svc, "Documentation", "man:gatewayd(8) man:gatewayd.yaml(5) https://github.com/gatewayd/gatewayd"},
		{sock, "Documentation", "man:gatewayd(8) man:gatewayd.yaml(5) https://github.com/gatewayd/gatewayd"},
		{svc, "ExecReload", "/usr/bin/gatewayctl reload"},
		{svc, "Restart", "on-failure"},
		{svc, "User", "gatewayd"},
		{svc, "SupplementaryGroups", "gpio"},
		{svc, "DevicePolicy", "closed"},
		{svc, "DeviceAllow", "char-gpiochip rw"},
		{svc, "PrivateDevices", ""},
		{svc, "ProcSubset", ""},
		{svc, "CapabilityBoundingSet", ""},
		{svc, "Requires", ""},
		{svc, "BindsTo", ""},
		{sock, "ListenStream", "65432"},
	}
	for _, tt := range tests {
		got := tt.unit[tt.key]
		switch {
		case tt.key == "CapabilityBoundingSet":
			if len(got) != 1 || got[0] != "" {
				t.Errorf("CapabilityBoundingSet = %q, want one empty value (no capabilities)", got)
			}
		case tt.want == "" && len(got) > 0:
			t.Errorf("%s = %q, want it unset", tt.key, got)
		case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
			t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
		}
	}
	// The service must run without the socket, so nothing may pull the
	// socket in as a hard dependency, and the allow-lists must agree, or the
	// daemon started by hand would accept clients the socket refuses.
	if a, b := strings.Join(svc["IPAddressAllow"], " "), strings.Join(sock["IPAddressAllow"], " "); a != b {
		t.Errorf("IPAddressAllow differs: service %q, socket %q", a, b)
	}
	// The stop timeout must leave the daemon its own drain time.
	stop, err := time.ParseDuration(strings.Join(svc["TimeoutStopSec"], ""))
	if err != nil || stop <= 10*time.Second {
		t.Errorf("TimeoutStopSec = %q, want a duration above the default shutdown_timeout (10s)", svc["TimeoutStopSec"])
	}
}

// TestPrivateUsersKeepsGroupAccess checks the assumption behind
// PrivateUsers=yes in gatewayd.service: in a user namespace where the gpio
// group is not mapped, a process that has it as a supplementary group can
// still open a file owned by that group (as /dev/gpiochip* is). The kernel
// compares the real group ids, which the namespace does not change. The
// second row is the control: without the group, access is denied.
func TestPrivateUsersKeepsGroupAccess(t *testing.T) {
	needRoot(t)
	needTool(t, "setpriv")
	needTool(t, "unshare")
	const gpioGID = "54321" // any group id not mapped in the namespace
	dir, err := os.MkdirTemp("", "gatewayd-userns-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gpiochip0")
	writeFile(t, file, "", 0o660)
	gid, _ := strconv.Atoi(gpioGID)
	if err := os.Chown(file, 0, gid); err != nil {
		t.Fatal(err)
	}
	// Does this kernel let an unprivileged user create a namespace at all?
	if out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"unshare", "--user", "--map-current-user", "true").CombinedOutput(); err != nil {
		t.Skipf("unprivileged user namespaces are off on this kernel, as systemd would need for PrivateUsers=: %v %s", err, out)
	}
	tests := []struct {
		name   string
		groups []string
		wantOK bool
	}{
		{"with the gpio group", []string{"--groups=" + gpioGID}, true},
		{"without it", []string{"--clear-groups"}, false},
	}
	for _, tt := range tests {
		args := append([]string{"--reuid=65534", "--regid=65534"}, tt.groups...)
		args = append(args, "unshare", "--user", "--map-current-user", "sh", "-c", `echo x >> "$1"`, "sh", file)
		out, err := exec.Command("setpriv", args...).CombinedOutput()
		if gotOK := err == nil; gotOK != tt.wantOK {
			t.Errorf("%s: write in a user namespace succeeded=%v, want %v (%v %s)", tt.name, gotOK, tt.wantOK, err, out)
		}
	}
}

// TestSocketUnitAddress starts the daemon the way gatewayd.socket does:
// systemd-socket-activate binds the unit's ListenStream form (a bare port,
// so [::] with IPv4 mapped in) and passes the socket. Clients on IPv4 and
// IPv6 loopback both get their echo, which is what lets one socket serve a
// LAN of either kind. A free port stands in for 65432, which may be taken on
// the build machine.
func TestSocketUnitAddress(t *testing.T) {
	needTool(t, "systemd-socket-activate")
	listen := unitSettings(t, "gatewayd.socket")["ListenStream"]
	if len(listen) != 1 {
		t.Fatalf("ListenStream = %q, want one", listen)
	}
	if _, err := strconv.Atoi(listen[0]); err != nil {
		t.Fatalf("ListenStream = %q: this test covers a bare port; update it with the unit", listen[0])
	}
	l, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no IPv6 on this machine, so the dual-stack socket cannot be tried: %v", err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	bin := hostDaemon(t)
	conf := filepath.Join(t.TempDir(), "gatewayd.yaml")
	// listen: names an address the socket does not have: it must be
	// ignored. allow: lists IPv4 and IPv6 prefixes, which must match the
	// IPv4 clients the dual-stack socket shows as ::ffff:a.b.c.d.
	writeFile(t, conf, "listen: \"127.0.0.1:1\"\nallow: [\"127.0.0.0/8\", \"::1/128\"]\ngpio:\n  driver: none\n", 0o644)
	cmd := exec.Command("systemd-socket-activate", "-l", port, bin, "-config", conf)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logBuf strings.Builder
	bound := make(chan struct{})
	waitc := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logBuf.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.HasPrefix(sc.Text(), "Listening on ") {
				close(bound)
			}
		}
		waitc <- cmd.Wait()
	}()
	log := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return logBuf.String()
	}
	select {
	case <-bound:
	case err := <-waitc:
		t.Fatalf("systemd-socket-activate exited: %v\n%s", err, log())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("systemd-socket-activate did not bind within 30s:\n%s", log())
	}
	defer func() {
		// The daemon is running by now (the first client started it), under
		// the same pid, as under systemd.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-waitc:
			if err != nil {
				t.Errorf("after SIGTERM: %v, want exit 0\n%s", err, log())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("no exit within 30s of SIGTERM:\n%s", log())
		}
	}()

	for _, host := range []string{"127.0.0.1", "::1"} {
		addr := net.JoinHostPort(host, port)
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Errorf("dial %s: %v", addr, err)
			continue
		}
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		msg := []byte("via " + host)
		got := make([]byte, len(msg))
		if _, err := conn.Write(msg); err != nil {
			t.Errorf("%s: %v", addr, err)
		} else if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%s: echo %q, %v; want %q\n%s", addr, got, err, msg, log())
		}
		conn.Close()
	}
}
