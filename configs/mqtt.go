package configs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/bridge"
)

// Default MQTT ports (IANA), used when the broker URL leaves the port out.
const (
	mqttPort  = "1883"
	mqttsPort = "8883"
)

// mqtt parses and checks the mqtt: section. It is the one place that
// does: the bridge takes the parsed brokers, the gateway ID (defaulted
// here by bridge.DefaultGatewayID) and the CA pool as they are.
func (c *Config) mqtt(b *builder, framing gateway.Framing) MQTTSettings {
	m := c.MQTT
	s := MQTTSettings{
		GatewayID:     m.GatewayID,
		TopicPrefix:   m.TopicPrefix,
		Username:      m.Username,
		CAFile:        m.CAFile,
		QueueDir:      m.QueueDir,
		QueueMaxBytes: int64(m.QueueMaxBytes),
		QueueSync:     m.QueueSync,
		MaxLineBytes:  m.MaxLineBytes,
	}
	seen := map[string]bool{}
	for i, raw := range m.Broker {
		key := "mqtt.broker"
		if len(m.Broker) > 1 {
			key = fmt.Sprintf("mqtt.broker[%d]", i)
		}
		u, err := parseBroker(raw)
		switch {
		case err != nil:
			b.add(key, "%v", err)
		case seen[u.String()]:
			b.add(key, "%s is in the list twice", u)
		default:
			seen[u.String()] = true
			s.Brokers = append(s.Brokers, u)
		}
	}
	if len(s.Brokers) > 0 {
		s.Broker = s.Brokers[0]
		if framing != gateway.FramingLine {
			b.add("mqtt.broker", "the MQTT bridge needs framing: line")
		}
	}
	if m.MaxLineBytes <= 0 {
		b.add("mqtt.max_line_bytes", "must be more than 0, got %d", m.MaxLineBytes)
	}
	if s.GatewayID == "" && s.Broker != nil {
		id, err := bridge.DefaultGatewayID(machineIDFile)
		if err != nil {
			b.add("mqtt.gateway_id", "empty, and %v", err)
		}
		s.GatewayID = id
	} else if s.GatewayID != "" {
		if err := checkTopicLevels(s.GatewayID, false); err != nil {
			b.add("mqtt.gateway_id", "%v", err)
		}
	}
	if err := checkTopicLevels(s.TopicPrefix, true); err != nil {
		b.add("mqtt.topic_prefix", "%v", err)
	}
	if m.QueueMaxBytes <= 0 {
		b.add("mqtt.queue_max_bytes", "must be more than 0, got %d", m.QueueMaxBytes)
	}
	switch m.QueueSync {
	case "interval", "commit":
	default:
		b.add("mqtt.queue_sync", "must be interval or commit, got %q", m.QueueSync)
	}
	if s.QueueDir == "" {
		s.QueueDir = defaultQueueDir()
	}
	if m.PasswordFile != "" {
		data, err := readFile(m.PasswordFile, maxPasswordFileBytes)
		if err != nil {
			b.add("mqtt.password_file", "%v", err)
		}
		// One trailing newline is the editor's, not the password's.
		pw := strings.TrimSuffix(string(data), "\n")
		s.Password = strings.TrimSuffix(pw, "\r")
	}
	if m.CAFile != "" {
		pool, err := readCertPool(m.CAFile)
		if err != nil {
			b.add("mqtt.ca_file", "%v", err)
		}
		s.RootCAs = pool
	}
	return s
}

// machineIDFile is read for the default gateway ID on a host with a
// generic name; tests point it elsewhere.
var machineIDFile = bridge.MachineIDFile

// defaultQueueDir is $STATE_DIRECTORY/queue under systemd (which sets it
// from StateDirectory=, possibly to several paths joined by colons), else
// ./gatewayd-queue.
func defaultQueueDir() string {
	if dirs := os.Getenv("STATE_DIRECTORY"); dirs != "" {
		dir, _, _ := strings.Cut(dirs, ":")
		return filepath.Join(dir, "queue")
	}
	return "gatewayd-queue"
}

// parseBroker parses mqtt://HOST[:PORT] or mqtts://HOST[:PORT], writing
// in the default port.
func parseBroker(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL such as \"mqtt://broker.lan:1883\"", s)
	}
	var port string
	switch u.Scheme {
	case "mqtt":
		port = mqttPort
	case "mqtts":
		port = mqttsPort
	default:
		return nil, fmt.Errorf("%q: the scheme must be mqtt:// or mqtts://", s)
	}
	switch {
	case u.Opaque != "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host: write mqtt://HOST or mqtts://HOST", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q: put the user in mqtt.username and the password in mqtt.password_file, not in the URL", s)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return nil, fmt.Errorf("%q: want only mqtt://HOST:PORT, with no path, query or fragment", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port must be a number from 1 to 65535", s)
		}
		port = p
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, fmt.Errorf("%q: port must be a number from 1 to 65535", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(u.Hostname(), port)}, nil
}

// checkTopicLevels checks a part of a topic name that gatewayd publishes
// under: MQTT forbids wildcards and NUL in a topic name, and an empty
// level would put gatewayd's topics where no one looks for them.
func checkTopicLevels(s string, multi bool) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if strings.HasPrefix(s, "$") {
		return fmt.Errorf("%q: a topic starting with $ is the broker's own", s)
	}
	if strings.ContainsAny(s, "+#\x00") {
		return fmt.Errorf("%q: + and # are wildcards, not allowed in a topic", s)
	}
	if !multi && strings.Contains(s, "/") {
		return fmt.Errorf("%q: one topic level, without /", s)
	}
	for _, level := range strings.Split(s, "/") {
		if level == "" {
			return fmt.Errorf("%q has an empty level (a leading, trailing or double /)", s)
		}
	}
	return nil
}

// readCertPool reads a PEM file of CA certificates.
func readCertPool(path string) (*x509.CertPool, error) {
	data, err := readFile(path, maxPEMFileBytes)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%q: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%q holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return pool, nil
}
