package gatewaytest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rabbitmqBin is where Debian's rabbitmq-server package keeps the real
// scripts; /usr/sbin holds wrappers that switch to the rabbitmq user and
// write to /var/log.
const rabbitmqBin = "/usr/lib/rabbitmq/bin"

// RabbitCluster is a real RabbitMQ cluster (Debian's rabbitmq-server with
// its rabbitmq_mqtt plugin) that a test runs on free loopback ports, each
// node with its own directories, a shared Erlang cookie (in a HOME of the
// test's) and an epmd of the test's own on a free port, so that nothing
// touches the machine's RabbitMQ and nothing is left running after the
// test: every node's process group and the epmd are killed at cleanup.
type RabbitCluster struct {
	Nodes []*RabbitNode

	tb      testing.TB
	env     []string // shared by every node and rabbitmqctl
	epmd    *exec.Cmd
	mu      sync.Mutex
	stopped bool
}

// RabbitNode is one node of a RabbitCluster.
type RabbitNode struct {
	Name     string // rtN@localhost
	MQTTPort int

	c   *RabbitCluster
	env []string
	cmd *exec.Cmd
	log string
}

// URL is the node's MQTT listener, as mqtt.broker takes it.
func (n *RabbitNode) URL() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", n.MQTTPort) }

// StartRabbitCluster starts n nodes, joins every node to the first
// (rabbitmqctl join_cluster) and returns once all of them accept MQTT
// connections. It skips the test if rabbitmq-server is not installed.
func StartRabbitCluster(tb testing.TB, n int) *RabbitCluster {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(rabbitmqBin, "rabbitmq-server")); err != nil {
		tb.Skip("rabbitmq-server not installed (apt-get install rabbitmq-server; deploy/install-deps.sh installs it for CI)")
	}
	epmdBin, err := exec.LookPath("epmd")
	if err != nil {
		tb.Skip("epmd not found (it comes with rabbitmq-server's erlang-base)")
	}
	dir := tb.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		tb.Fatal(err)
	}
	cookie := fmt.Sprintf("GATEWAYDTEST%d", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(home, ".erlang.cookie"), []byte(cookie), 0o400); err != nil {
		tb.Fatal(err)
	}
	plugins := filepath.Join(dir, "enabled_plugins")
	envConf := filepath.Join(dir, "rabbitmq-env.conf") // empty: not /etc/rabbitmq's
	for path, data := range map[string]string{plugins: "[rabbitmq_mqtt].\n", envConf: ""} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	epmdPort := FreePort(tb)
	c := &RabbitCluster{tb: tb, env: append(os.Environ(),
		"HOME="+home,
		fmt.Sprintf("ERL_EPMD_PORT=%d", epmdPort),
		"RABBITMQ_CONF_ENV_FILE="+envConf,
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
	)}
	tb.Cleanup(c.stop)
	// Our own epmd, in the foreground, so that it is ours to stop; the
	// nodes find it by ERL_EPMD_PORT rather than start a daemon.
	c.epmd = exec.Command(epmdBin, "-port", fmt.Sprint(epmdPort), "-address", "127.0.0.1")
	c.epmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.epmd.Start(); err != nil {
		tb.Fatal(err)
	}
	waitListening(tb, fmt.Sprintf("127.0.0.1:%d", epmdPort), 10*time.Second, "epmd")

	for i := range n {
		nd := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		if err := os.MkdirAll(nd, 0o755); err != nil {
			tb.Fatal(err)
		}
		node := &RabbitNode{Name: fmt.Sprintf("rt%d@localhost", i+1), MQTTPort: FreePort(tb), c: c, log: filepath.Join(nd, "out.log")}
		conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nmqtt.listeners.tcp.default = 127.0.0.1:%d\nmqtt.allow_anonymous = true\nloopback_users = none\n",
			FreePort(tb), node.MQTTPort)
		confFile := filepath.Join(nd, "rabbitmq.conf")
		if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
			tb.Fatal(err)
		}
		node.env = append(append([]string(nil), c.env...),
			"RABBITMQ_NODENAME="+node.Name,
			"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
			fmt.Sprintf("RABBITMQ_NODE_PORT=%d", FreePort(tb)),
			fmt.Sprintf("RABBITMQ_DIST_PORT=%d", FreePort(tb)),
			"RABBITMQ_MNESIA_BASE="+filepath.Join(nd, "mnesia"),
			"RABBITMQ_LOG_BASE="+filepath.Join(nd, "log"),
			"RABBITMQ_CONFIG_FILE="+confFile,
			"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(nd, "advanced.config"),
			"RABBITMQ_PID_FILE="+filepath.Join(nd, "pid"),
			"RABBITMQ_PLUGINS_EXPAND_DIR="+filepath.Join(nd, "plugins-expand"),
		)
		c.Nodes = append(c.Nodes, node)
		node.start()
	}
	for _, node := range c.Nodes {
		waitListening(tb, fmt.Sprintf("127.0.0.1:%d", node.MQTTPort), 3*time.Minute, node.Name+" (its log: "+node.log+")")
	}
	for _, node := range c.Nodes[1:] {
		c.Ctl(node, "stop_app")
		c.Ctl(node, "join_cluster", c.Nodes[0].Name)
		c.Ctl(node, "start_app")
		waitListening(tb, fmt.Sprintf("127.0.0.1:%d", node.MQTTPort), 3*time.Minute, node.Name+" after joining")
	}
	return c
}

func (n *RabbitNode) start() {
	logf, err := os.Create(n.log)
	if err != nil {
		n.c.tb.Fatal(err)
	}
	defer logf.Close()
	n.cmd = exec.Command(filepath.Join(rabbitmqBin, "rabbitmq-server"))
	n.cmd.Env = n.env
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		n.c.tb.Fatal(err)
	}
}

// Kill ends the node at once (SIGKILL to its process group), as a power
// cut or the OOM killer would.
func (n *RabbitNode) Kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	_ = n.cmd.Wait()
	n.cmd = nil
}

// Ctl runs rabbitmqctl against node, failing the test if it fails.
func (c *RabbitCluster) Ctl(node *RabbitNode, args ...string) string {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(rabbitmqBin, "rabbitmqctl"), append([]string{"-n", node.Name}, args...)...)
	cmd.Env = c.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		c.tb.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// stop kills every node and the epmd.
func (c *RabbitCluster) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	for _, n := range c.Nodes {
		n.Kill()
	}
	if c.epmd != nil && c.epmd.Process != nil {
		_ = syscall.Kill(-c.epmd.Process.Pid, syscall.SIGKILL)
		_ = c.epmd.Wait()
	}
}

// waitListening waits until addr accepts a connection.
func waitListening(tb testing.TB, addr string, within time.Duration, what string) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not listen on %s within %v", what, addr, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
