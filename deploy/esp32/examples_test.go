package esp32

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	defineRe    = regexp.MustCompile(`(?m)^\s*(//\s*)?#define\s+([A-Z][A-Z0-9_]*)\b`)
	requiredRe  = regexp.MustCompile(`(?m)^#if\s+!defined\(.*$`)
	definedArgs = regexp.MustCompile(`defined\(([A-Z][A-Z0-9_]*)\)`)
)

// TestSketchSecretsMacros: every macro secrets.example.h shows (set or
// commented out) is one the sketch uses, and every macro the sketch requires
// from secrets.h is set in the example.
func TestSketchSecretsMacros(t *testing.T) {
	example, err := os.ReadFile("examples/gatewayd_client/secrets.example.h")
	if err != nil {
		t.Fatal(err)
	}
	sketch, err := os.ReadFile("examples/gatewayd_client/gatewayd_client.ino")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sketch), `#include "secrets.h"`) {
		t.Error(`the sketch does not #include "secrets.h"`)
	}
	set := map[string]bool{}
	for _, m := range defineRe.FindAllStringSubmatch(string(example), -1) {
		name, commented := m[2], m[1] != ""
		if !commented {
			set[name] = true
		}
		if !regexp.MustCompile(`\b` + name + `\b`).Match(sketch) {
			t.Errorf("secrets.example.h defines %s but the sketch never uses it", name)
		}
	}
	if len(set) == 0 {
		t.Fatal("no #define found in secrets.example.h")
	}
	req := requiredRe.FindString(string(sketch))
	if req == "" {
		t.Fatal("the sketch has no `#if !defined(...)` check of what secrets.h must define")
	}
	names := definedArgs.FindAllStringSubmatch(req, -1)
	if len(names) < 4 {
		t.Fatalf("the sketch's required-macro check names %d macros, want at least 4: %s", len(names), req)
	}
	for _, m := range names {
		if !set[m[1]] {
			t.Errorf("the sketch requires %s from secrets.h but secrets.example.h does not set it", m[1])
		}
	}
}

// TestMicroPythonConfigExample: every setting in config.example.py is one the
// client reads (UPPER_CASE of a DEFAULTS key, GATEWAY_ before host and port).
func TestMicroPythonConfigExample(t *testing.T) {
	example, err := os.ReadFile("micropython/config.example.py")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(clientPath)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\nDEFAULTS = \{\n(.*?)\n\}`).FindSubmatch(src)
	if block == nil {
		t.Fatal("no DEFAULTS = {...} block in the client")
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+"([a-z_]+)":`).FindAllSubmatch(block[1], -1) {
		k := strings.ToUpper(string(m[1]))
		switch k {
		case "HOST", "PORT", "TLS", "CA_PEM": // setting_name() in the client
			k = "GATEWAY_" + k
		}
		keys[k] = true
	}
	names := regexp.MustCompile(`(?m)^([A-Z][A-Z0-9_]*)\s*=`).FindAllSubmatch(example, -1)
	if len(names) < 4 {
		t.Fatalf("config.example.py sets %d names, want at least 4", len(names))
	}
	for _, m := range names {
		if !keys[string(m[1])] {
			t.Errorf("config.example.py sets %s, which the client does not read", m[1])
		}
	}
	for _, need := range []string{"WIFI_SSID", "WIFI_PASSWORD", "GATEWAY_HOST", "GATEWAY_PORT"} {
		if !bytes.Contains(example, []byte(need+" =")) {
			t.Errorf("config.example.py does not set %s", need)
		}
	}
}

// TestMipPackage: micropython/package.json, which `mpremote mip install`
// reads, is JSON in mip's shape ("urls": [destination, source] pairs) and
// names only files that exist beside it, the client among them.
func TestMipPackage(t *testing.T) {
	b, err := os.ReadFile("micropython/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		URLs    [][]string `json:"urls"`
		Version string     `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pkg); err != nil {
		t.Fatalf("micropython/package.json: %v", err)
	}
	client := false
	for _, u := range pkg.URLs {
		if len(u) != 2 {
			t.Errorf("urls entry %q: want [destination, source]", u)
			continue
		}
		if _, err := os.Stat(filepath.Join("micropython", u[1])); err != nil {
			t.Errorf("urls entry %q: %v", u, err)
		}
		client = client || u[0] == "gatewayd_client.py"
	}
	if !client || pkg.Version == "" {
		t.Errorf("package.json: want gatewayd_client.py installed and a version; got %+v", pkg)
	}
}
