package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

// noderedVersion is the Node-RED the comparison runs: 4.x runs on the
// Node.js 20 of Debian 12 and Raspberry Pi OS; 5.x needs Node.js 22.
const noderedVersion = "4.1.8"

// installNodeRED installs Node-RED with npm into dir, unless it is there
// already, and returns the path of its red.js.
func installNodeRED(ctx context.Context, dir string, log func(string)) (string, error) {
	red := filepath.Join(dir, "node_modules", "node-red", "red.js")
	if _, err := os.Stat(red); err == nil {
		return red, nil
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("node-red: %s not found: install Node.js 20 and npm (apt-get install nodejs npm), or leave Node-RED out with -gateways gatewayd", tool)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	log(fmt.Sprintf("installing Node-RED %s with npm into %s", noderedVersion, dir))
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--prefix", dir, "node-red@"+noderedVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("node-red: npm install node-red@%s into %s: %v\n%s", noderedVersion, dir, err, out)
	}
	if _, err := os.Stat(red); err != nil {
		return "", fmt.Errorf("node-red: npm install left no %s", red)
	}
	return red, nil
}

// defaultNodeREDDir is where Node-RED is installed once and reused.
func defaultNodeREDDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "gatewayd-mqttbench", "node-red-"+noderedVersion)
}

// noderedTarget runs Node-RED headless (no editor, no HTTP server) with
// the flow a Pi user builds today: tcp in (server, a stream of lines) →
// a function node setting msg.topic per board → mqtt out at QoS 1.
func noderedTarget(redJS string) target {
	return target{name: "Node-RED " + noderedVersion, start: func(ctx context.Context, brokerURL, dir string) (*gateway, error) {
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		host, bport, err := splitBrokerURL(brokerURL)
		if err != nil {
			return nil, err
		}
		flows, err := json.MarshalIndent(noderedFlow(port, host, bport), "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "flows.json"), flows, 0o644); err != nil {
			return nil, err
		}
		settings := filepath.Join(dir, "settings.js")
		if err := os.WriteFile(settings, []byte(noderedSettings(dir)), 0o644); err != nil {
			return nil, err
		}
		p, err := proc.Start(ctx, proc.Spec{
			Name:  "Node-RED",
			Argv:  []string{"node", redJS, "--settings", settings, "--userDir", dir},
			Addr:  fmt.Sprintf("127.0.0.1:%d", port),
			Ready: 60 * time.Second,
		})
		if err != nil {
			return nil, err
		}
		if !waitOutput(p, regexp.MustCompile(`Connected to broker`), 30*time.Second) {
			p.Stop()
			return nil, fmt.Errorf("node-red: its mqtt-broker node did not connect to %s within 30s:\n%s", brokerURL, p.Output())
		}
		return fromProcess(p), nil
	}}
}

func splitBrokerURL(u string) (host string, port int, err error) {
	var h string
	if _, err := fmt.Sscanf(u, "mqtt://%s", &h); err != nil {
		return "", 0, fmt.Errorf("broker %q: %w", u, err)
	}
	i := len(h) - 1
	for i >= 0 && h[i] != ':' {
		i--
	}
	if i < 0 {
		return "", 0, errors.New("broker " + u + ": no port")
	}
	port, err = strconv.Atoi(h[i+1:])
	return h[:i], port, err
}

// noderedFlow is the flows.json: the nodes' fields are those the editor
// writes for a tcp in, a function and an mqtt out node with defaults.
func noderedFlow(tcpPort int, brokerHost string, brokerPort int) []map[string]any {
	return []map[string]any{
		{"id": "f1", "type": "tab", "label": "boards to MQTT", "disabled": false, "info": ""},
		{"id": "in1", "type": "tcp in", "z": "f1", "name": "boards", "server": "server", "host": "",
			"port": strconv.Itoa(tcpPort), "datamode": "stream", "datatype": "utf8", "newline": "\\n",
			"topic": "", "trim": false, "base64": false, "tls": "", "x": 120, "y": 80, "wires": [][]string{{"fn1"}}},
		{"id": "fn1", "type": "function", "z": "f1", "name": "topic per board",
			"func": "// the line is \"BOARD SEQ ...\": publish it under the board's topic\n" +
				"msg.topic = \"nodered/pi/\" + msg.payload.split(\" \", 1)[0] + \"/up\";\nreturn msg;",
			"outputs": 1, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": []any{},
			"x": 300, "y": 80, "wires": [][]string{{"out1"}}},
		{"id": "out1", "type": "mqtt out", "z": "f1", "name": "", "topic": "", "qos": "1", "retain": "false",
			"respTopic": "", "contentType": "", "userProps": "", "correl": "", "expiry": "",
			"broker": "b1", "x": 480, "y": 80, "wires": []any{}},
		{"id": "b1", "type": "mqtt-broker", "name": "mosquitto", "broker": brokerHost, "port": strconv.Itoa(brokerPort),
			"clientid": "", "autoConnect": true, "usetls": false, "protocolVersion": "4", "keepalive": "60",
			"cleansession": true, "autoUnsubscribe": true,
			"birthTopic": "", "birthQos": "0", "birthPayload": "", "closeTopic": "", "closeQos": "0", "closePayload": "",
			"willTopic": "", "willQos": "0", "willPayload": ""},
	}
}

// noderedSettings runs Node-RED headless: httpAdminRoot and httpNodeRoot
// false mean no editor, no admin API and no HTTP listener at all.
func noderedSettings(userDir string) string {
	return fmt.Sprintf(`module.exports = {
    userDir: %q,
    flowFile: "flows.json",
    credentialSecret: false,
    uiHost: "127.0.0.1",
    httpAdminRoot: false,
    httpNodeRoot: false,
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    logging: { console: { level: "info", metrics: false, audit: false } },
    functionExternalModules: false,
};
`, userDir)
}
