package configs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testFiles writes the files the Part 2 keys name into a temporary
// directory and returns their paths by name.
func testFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherDER, err := x509.MarshalECPrivateKey(other)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"cert.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"other.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: otherDER}),
		"notpem.txt": []byte("hello\n"),
		"pw":         []byte("s3cret\n"),
		"pw-crlf":    []byte("s3cret\r\n"),
		"pw-bare":    []byte(" two words "),
		"tokens":     []byte("# boards\nesp32-kitchen: 9f86d081\nesp.garage_2: \"x-y=z\"\n"),
		"tokens-bad": []byte("esp1: abc\n\"bad id\": abc\nesp1: def\n"),
		"big":        make([]byte, 2<<20),
	}
	paths := map[string]string{}
	for name, data := range files {
		paths[name] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[name], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	paths["dir"] = dir
	paths["missing"] = filepath.Join(dir, "missing")
	return paths
}

// expand replaces {name} in s with the path of the test file name.
func expand(s string, files map[string]string) string {
	for name, path := range files {
		s = strings.ReplaceAll(s, "{"+name+"}", path)
	}
	return s
}

func TestPart2Defaults(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "")
	s := Default().Settings()
	if s.Control != "/run/gatewayd/gatewayd.sock" || s.MetricsPerBoard {
		t.Errorf("control, per_board = %q, %v; want the socket path, false", s.Control, s.MetricsPerBoard)
	}
	wantBoards := BoardSettings{HelloTimeout: 10 * time.Second}
	if !reflect.DeepEqual(s.Boards, wantBoards) {
		t.Errorf("Boards = %+v, want %+v", s.Boards, wantBoards)
	}
	wantMQTT := MQTTSettings{TopicPrefix: "gatewayd", QueueDir: "gatewayd-queue", QueueMaxBytes: 64 << 20, MaxLineBytes: 65536, QueueSync: "interval", DiscoveryPrefix: "homeassistant"}
	if !reflect.DeepEqual(s.MQTT, wantMQTT) {
		t.Errorf("MQTT = %+v, want %+v", s.MQTT, wantMQTT)
	}
	wantTLS := TLSSettings{HandshakeTimeout: 10 * time.Second}
	if !reflect.DeepEqual(s.TLS, wantTLS) {
		t.Errorf("TLS = %+v, want %+v", s.TLS, wantTLS)
	}
	if s.Listen != "127.0.0.1:65432" || s.ShutdownTimeout != 10*time.Second || s.LogFormat != "text" || len(s.LEDs) != 2 || s.Policy.MaxMessageBytes != 65536 {
		t.Errorf("Settings() = %+v: not the file's defaults", s)
	}
}

// TestPart2Keys: each new key's good values build the Settings they say.
func TestPart2Keys(t *testing.T) {
	files := testFiles(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		yaml  string
		check func(s Settings) string // "" when right, else what is wrong
	}{
		{"per_board", "metrics:\n  per_board: true\n", func(s Settings) string {
			return want(s.MetricsPerBoard, true)
		}},
		{"control off", "control: \"\"\n", func(s Settings) string { return want(s.Control, "") }},
		{"control path", "control: /tmp/g.sock\n", func(s Settings) string { return want(s.Control, "/tmp/g.sock") }},
		{"boards", "boards:\n  require_hello: true\n  hello_timeout: 3s\n  require_token: true\n  tokens_file: {tokens}\n", func(s Settings) string {
			return want(s.Boards, BoardSettings{RequireHello: true, HelloTimeout: 3 * time.Second, RequireToken: true,
				TokensFile: files["tokens"], Tokens: map[string]string{"esp32-kitchen": "9f86d081", "esp.garage_2": "x-y=z"}})
		}},
		{"hello_timeout never", "boards:\n  hello_timeout: 0\n", func(s Settings) string { return want(s.Boards.HelloTimeout, time.Duration(0)) }},
		{"broker default port", "framing: line\nmqtt:\n  broker: mqtt://broker.lan\n", func(s Settings) string {
			return want(s.MQTT.Broker.String()+" "+s.MQTT.GatewayID, "mqtt://broker.lan:1883 "+host)
		}},
		{"mqtts default port", "framing: line\nmqtt:\n  broker: mqtts://10.0.0.2/\n", func(s Settings) string {
			return want(s.MQTT.Broker.String(), "mqtts://10.0.0.2:8883")
		}},
		{"broker IPv6 with port", "framing: line\nmqtt:\n  broker: \"mqtt://[fd00::1]:1884\"\n", func(s Settings) string {
			return want(s.MQTT.Broker.String(), "mqtt://[fd00::1]:1884")
		}},
		{"mqtt all keys", "framing: line\nmqtt:\n  broker: mqtts://b:8884\n  gateway_id: pi-1\n  topic_prefix: home/gw\n  username: u\n  password_file: {pw}\n  ca_file: {cert.pem}\n  queue_dir: /var/q\n  queue_max_bytes: 1024\n  queue_sync: commit\n", func(s Settings) string {
			m := s.MQTT
			if m.RootCAs == nil {
				return "RootCAs nil"
			}
			m.RootCAs, m.Broker, m.Brokers = nil, nil, nil
			return want(m, MQTTSettings{GatewayID: "pi-1", TopicPrefix: "home/gw", Username: "u", Password: "s3cret", CAFile: files["cert.pem"], QueueDir: "/var/q", QueueMaxBytes: 1024, MaxLineBytes: 65536, QueueSync: "commit", DiscoveryPrefix: "homeassistant"})
		}},
		{"password CRLF", "mqtt:\n  password_file: {pw-crlf}\n", func(s Settings) string { return want(s.MQTT.Password, "s3cret") }},
		{"password kept as is", "mqtt:\n  password_file: {pw-bare}\n", func(s Settings) string { return want(s.MQTT.Password, " two words ") }},
		{"tls", "tls:\n  cert_file: {cert.pem}\n  key_file: {key.pem}\n  client_ca_file: {cert.pem}\n  handshake_timeout: 2s\n", func(s Settings) string {
			if s.TLS.Certificate == nil || s.TLS.ClientCAs == nil {
				return "certificate or client CAs not loaded"
			}
			return want(s.TLS.HandshakeTimeout, 2*time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte(expand(tt.yaml, files)))
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(c.Settings()); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func want[T any](got, want T) string {
	if !reflect.DeepEqual(got, want) {
		return "got " + sprint(got) + ", want " + sprint(want)
	}
	return ""
}

func sprint(v any) string { return strings.TrimSpace(strings.ReplaceAll(fmtV(v), "\n", " ")) }

func TestQueueDirFromStateDirectory(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/gatewayd:/var/lib/other")
	if got := Default().Settings().MQTT.QueueDir; got != "/var/lib/gatewayd/queue" {
		t.Errorf("QueueDir = %q, want /var/lib/gatewayd/queue", got)
	}
}

// TestPart2Problems: each new key's bad values are problems naming the
// file, the line and the key.
func TestPart2Problems(t *testing.T) {
	files := testFiles(t)
	tests := []struct {
		name string
		yaml string
		want []string // each problem's start
	}{
		{"per_board not bool", "metrics:\n  per_board: yes\n", []string{`f.yaml:2: metrics.per_board: want true or false, got "yes"`}},
		{"control too long", "control: /" + strings.Repeat("s", 107) + "\n", []string{`f.yaml:1: control: "/sss`}},
		{"hello_timeout", "boards:\n  hello_timeout: -1s\n", []string{`f.yaml:2: boards.hello_timeout: must not be negative, got -1s`}},
		{"hello_timeout unit", "boards:\n  hello_timeout: 10\n", []string{`f.yaml:2: boards.hello_timeout: 10 has no unit`}},
		{"require_token alone", "boards:\n  require_token: true\n", []string{`f.yaml:2: boards.require_token: needs boards.tokens_file`}},
		{"tokens_file missing", "boards:\n  tokens_file: {missing}\n", []string{`f.yaml:2: boards.tokens_file: open {missing}: no such file or directory`}},
		{"tokens_file a directory", "boards:\n  tokens_file: {dir}\n", []string{`f.yaml:2: boards.tokens_file: "{dir}" is not a regular file (a directory)`}},
		{"tokens_file /dev/zero", "boards:\n  tokens_file: /dev/zero\n", []string{`f.yaml:2: boards.tokens_file: "/dev/zero" is not a regular file (a character device)`}},
		{"tokens_file too big", "boards:\n  tokens_file: {big}\n", []string{`f.yaml:2: boards.tokens_file: "{big}" is 2097152 bytes, more than the 1 MiB allowed`}},
		{"tokens_file bad", "boards:\n  tokens_file: {tokens-bad}\n", []string{
			`f.yaml:2: boards.tokens_file: {tokens-bad}:2: board ID "bad id": only A-Z a-z 0-9 . _ - are allowed`,
			`f.yaml:2: boards.tokens_file: {tokens-bad}:3: esp1: listed twice (first at line 1)`}},
		{"broker without framing line", "mqtt:\n  broker: mqtt://b\n", []string{`f.yaml:2: mqtt.broker: the MQTT bridge needs framing: line`}},
		{"broker scheme", "framing: line\nmqtt:\n  broker: tcp://b:1883\n", []string{`f.yaml:3: mqtt.broker: "tcp://b:1883": the scheme must be mqtt:// or mqtts://`}},
		{"broker bare host", "framing: line\nmqtt:\n  broker: broker.lan:1883\n", []string{`f.yaml:3: mqtt.broker: "broker.lan:1883": the scheme must be mqtt:// or mqtts://`}},
		{"broker no host", "framing: line\nmqtt:\n  broker: mqtt://:1883\n", []string{`f.yaml:3: mqtt.broker: "mqtt://:1883" has no host`}},
		{"broker port", "framing: line\nmqtt:\n  broker: mqtt://b:99999\n", []string{`f.yaml:3: mqtt.broker: "mqtt://b:99999": port must be a number from 1 to 65535`}},
		{"broker empty port", "framing: line\nmqtt:\n  broker: \"mqtt://b:\"\n", []string{`f.yaml:3: mqtt.broker: "mqtt://b:": port must be a number from 1 to 65535`}},
		{"broker user", "framing: line\nmqtt:\n  broker: mqtt://u:p@b\n", []string{`f.yaml:3: mqtt.broker: "mqtt://u:p@b": put the user in mqtt.username`}},
		{"broker list item", "framing: line\nmqtt:\n  broker:\n    - mqtt://a\n    - tcp://b\n", []string{`f.yaml:4: mqtt.broker[1]: "tcp://b": the scheme must be mqtt:// or mqtts://`}},
		{"broker list twice", "framing: line\nmqtt:\n  broker: [mqtt://a, \"mqtt://a:1883\"]\n", []string{`f.yaml:3: mqtt.broker[1]: mqtt://a:1883 is in the list twice`}},
		{"broker list not URLs", "framing: line\nmqtt:\n  broker: [mqtt://a, [x]]\n", []string{`f.yaml:3: mqtt.broker: item 2 (line 3): want a URL`}},
		{"broker mapping", "framing: line\nmqtt:\n  broker: {a: b}\n", []string{`f.yaml:3: mqtt.broker: want a URL or a list of URLs`}},
		{"max_line_bytes", "mqtt:\n  max_line_bytes: 0\n", []string{`f.yaml:2: mqtt.max_line_bytes: must be more than 0, got 0`}},
		{"broker path", "framing: line\nmqtt:\n  broker: mqtt://b/x\n", []string{`f.yaml:3: mqtt.broker: "mqtt://b/x": want only mqtt://HOST:PORT`}},
		{"broker not a URL", "framing: line\nmqtt:\n  broker: \"mqtt://b%zz\"\n", []string{`f.yaml:3: mqtt.broker: "mqtt://b%zz" is not a URL`}},
		{"gateway_id slash", "mqtt:\n  gateway_id: a/b\n", []string{`f.yaml:2: mqtt.gateway_id: "a/b": one topic level, without /`}},
		{"gateway_id wildcard", "mqtt:\n  gateway_id: \"a+\"\n", []string{`f.yaml:2: mqtt.gateway_id: "a+": + and # are wildcards`}},
		{"topic_prefix empty", "mqtt:\n  topic_prefix: \"\"\n", []string{`f.yaml:2: mqtt.topic_prefix: must not be empty`}},
		{"topic_prefix hash", "mqtt:\n  topic_prefix: \"gw/#\"\n", []string{`f.yaml:2: mqtt.topic_prefix: "gw/#": + and # are wildcards`}},
		{"topic_prefix empty level", "mqtt:\n  topic_prefix: gw//x\n", []string{`f.yaml:2: mqtt.topic_prefix: "gw//x" has an empty level`}},
		{"topic_prefix trailing slash", "mqtt:\n  topic_prefix: gw/\n", []string{`f.yaml:2: mqtt.topic_prefix: "gw/" has an empty level`}},
		{"topic_prefix $", "mqtt:\n  topic_prefix: $SYS\n", []string{`f.yaml:2: mqtt.topic_prefix: "$SYS": a topic starting with $ is the broker's own`}},
		{"queue_max_bytes 0", "mqtt:\n  queue_max_bytes: 0\n", []string{`f.yaml:2: mqtt.queue_max_bytes: must be more than 0, got 0`}},
		{"queue_max_bytes type", "mqtt:\n  queue_max_bytes: 64MB\n", []string{`f.yaml:2: mqtt.queue_max_bytes: want a whole number, got "64MB"`}},
		{"queue_sync", "mqtt:\n  queue_sync: always\n", []string{`f.yaml:2: mqtt.queue_sync: must be interval or commit, got "always"`}},
		{"password_file missing", "mqtt:\n  password_file: {missing}\n", []string{`f.yaml:2: mqtt.password_file: open {missing}: no such file or directory`}},
		{"password_file too big", "mqtt:\n  password_file: {big}\n", []string{`f.yaml:2: mqtt.password_file: "{big}" is 2097152 bytes, more than the 64 KiB allowed`}},
		{"ca_file not PEM", "mqtt:\n  ca_file: {notpem.txt}\n", []string{`f.yaml:2: mqtt.ca_file: "{notpem.txt}" holds no PEM certificate`}},
		{"ca_file a key", "mqtt:\n  ca_file: {key.pem}\n", []string{`f.yaml:2: mqtt.ca_file: "{key.pem}" holds no PEM certificate`}},
		{"cert without key", "tls:\n  cert_file: {cert.pem}\n", []string{`f.yaml:2: tls.key_file: empty, but tls.cert_file is set: give both or neither`}},
		{"key without cert", "tls:\n  key_file: {key.pem}\n", []string{`f.yaml:2: tls.cert_file: empty, but tls.key_file is set`}},
		{"key does not match", "tls:\n  cert_file: {cert.pem}\n  key_file: {other.pem}\n", []string{`f.yaml:3: tls.key_file: "{other.pem}" with "{cert.pem}": tls: private key does not match public key`}},
		{"cert missing", "tls:\n  cert_file: {missing}\n  key_file: {key.pem}\n", []string{`f.yaml:2: tls.cert_file: open {missing}: no such file`}},
		{"client_ca without cert", "tls:\n  client_ca_file: {cert.pem}\n", []string{`f.yaml:2: tls.client_ca_file: needs tls.cert_file and tls.key_file`}},
		{"client_ca not PEM", "tls:\n  cert_file: {cert.pem}\n  key_file: {key.pem}\n  client_ca_file: {notpem.txt}\n", []string{`f.yaml:4: tls.client_ca_file: "{notpem.txt}" holds no PEM certificate`}},
		{"handshake_timeout 0", "tls:\n  handshake_timeout: 0\n", []string{`f.yaml:2: tls.handshake_timeout: must be more than 0`}},
		{"handshake_timeout negative", "tls:\n  handshake_timeout: -1s\n", []string{`f.yaml:2: tls.handshake_timeout: must not be negative`}},
		{"unknown key in mqtt", "mqtt:\n  brokr: mqtt://b\n", []string{`f.yaml:2: mqtt.brokr: unknown key (did you mean "broker"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(expand(tt.yaml, files)))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.yaml)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems:\n%s\nwant %d", len(got), err, len(tt.want))
			}
			for i, w := range tt.want {
				if w = expand(w, files); !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, got[i], w)
				}
			}
		})
	}
}

func fmtV(v any) string { return fmt.Sprintf("%+v", v) }
