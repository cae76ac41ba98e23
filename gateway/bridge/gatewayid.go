package bridge

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// MachineIDFile is where systemd keeps the machine's unique ID.
const MachineIDFile = "/etc/machine-id"

// hostname is os.Hostname, replaced in tests.
var hostname = os.Hostname

// genericHostNames are the host names that images ship with and that
// many machines keep: as an MQTT client ID they collide, and each of two
// gateways with one ID throws the other off the broker.
var genericHostNames = map[string]bool{
	"raspberrypi": true, "localhost": true, "debian": true, "ubuntu": true, "dietpi": true,
}

// DefaultGatewayID is the gateway ID when mqtt.gateway_id is empty: the
// host name, or for a generic host name (raspberrypi, ...) the host name,
// "-" and the first 6 hex digits of machineIDFile (empty: MachineIDFile).
func DefaultGatewayID(machineIDFile string) (string, error) {
	host, err := hostname()
	if err != nil {
		return "", fmt.Errorf("no host name to use: %w", err)
	}
	return GatewayIDFor(host, machineIDFile)
}

// GatewayIDFor is DefaultGatewayID for the host name host.
func GatewayIDFor(host, machineIDFile string) (string, error) {
	if host == "" {
		return "", errors.New("the host name is empty: set mqtt.gateway_id")
	}
	if !genericHostNames[strings.ToLower(host)] {
		return host, nil
	}
	if machineIDFile == "" {
		machineIDFile = MachineIDFile
	}
	data, err := os.ReadFile(machineIDFile)
	if err != nil {
		return "", fmt.Errorf("host name %q is shared by many machines, and %w: set mqtt.gateway_id", host, err)
	}
	id := strings.ToLower(strings.TrimSpace(string(data)))
	if len(id) < 6 || strings.Trim(id[:6], "0123456789abcdef") != "" {
		return "", fmt.Errorf("host name %q is shared by many machines, and %s holds no machine ID: set mqtt.gateway_id", host, machineIDFile)
	}
	return host + "-" + id[:6], nil
}
