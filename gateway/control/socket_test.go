package control

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSocketRule(t *testing.T) {
	tests := []struct {
		name             string
		runDir           bool
		xdg, envSocket   string
		configured, flag string
		server, client   string
	}{
		{name: "systemd", runDir: true, configured: DefaultSocket, server: DefaultSocket, client: DefaultSocket},
		{name: "by hand, login session", xdg: "/run/user/1000", configured: DefaultSocket,
			server: "/run/user/1000/gatewayd/gatewayd.sock", client: "/run/user/1000/gatewayd/gatewayd.sock"},
		{name: "by hand, no session", configured: DefaultSocket, server: "gatewayd.sock", client: "gatewayd.sock"},
		{name: "relative XDG_RUNTIME_DIR is ignored", xdg: "run", configured: DefaultSocket, server: "gatewayd.sock", client: "gatewayd.sock"},
		{name: "configured elsewhere", configured: "/srv/gw/ctl.sock", flag: "/srv/gw/ctl.sock", server: "/srv/gw/ctl.sock", client: "/srv/gw/ctl.sock"},
		{name: "off", configured: "", server: "", client: "gatewayd.sock"},
		{name: "environment", envSocket: "/tmp/x.sock", runDir: true, configured: DefaultSocket, server: DefaultSocket, client: "/tmp/x.sock"},
		{name: "flag over environment", envSocket: "/tmp/x.sock", flag: "/tmp/y.sock", configured: DefaultSocket, server: "gatewayd.sock", client: "/tmp/y.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Env{
				Getenv: func(k string) string {
					return map[string]string{"XDG_RUNTIME_DIR": tt.xdg, SocketEnv: tt.envSocket}[k]
				},
				IsDir: func(p string) bool { return tt.runDir && p == "/run/gatewayd" },
			}
			if got := e.ServerPath(tt.configured); got != tt.server {
				t.Errorf("ServerPath(%q) = %q, want %q", tt.configured, got, tt.server)
			}
			if got := e.ClientPath(tt.flag); got != tt.client {
				t.Errorf("ClientPath(%q) = %q, want %q", tt.flag, got, tt.client)
			}
		})
	}
}

func TestMakeDir(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "a", "b", "gatewayd.sock")
	if err := CheckDir(sock); err != nil {
		t.Fatalf("CheckDir before: %v", err)
	}
	if err := MakeDir(sock); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Dir(sock))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != SocketDirMode {
		t.Errorf("mode %o, want %o", got, SocketDirMode)
	}
	if err := CheckDir(sock); err != nil {
		t.Errorf("CheckDir after: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, f := range []func(string) error{MakeDir, CheckDir} {
		if err := f(filepath.Join(file, "x", "gatewayd.sock")); err == nil {
			t.Errorf("a socket under a regular file: no error")
		}
	}
}
