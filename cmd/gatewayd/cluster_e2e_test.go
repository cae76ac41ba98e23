package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// TestBridgeRabbitMQClusterNodeKilled: the broker is a 2-node RabbitMQ
// 3.10 cluster (Debian's rabbitmq-server, its MQTT plugin). Three
// gatewayd with 100 boards each publish to `broker: [node1, node2]`; a
// subscriber's queue lives on node2 and is mirrored to node1 (3.10's MQTT
// plugin makes a durable classic queue, mqtt-subscription-CLIENTIDqos1,
// for a clean_session=false subscription; a quorum queue of 2 members
// would stop with either node, so the queue is mirrored by policy). node1
// is killed with SIGKILL mid-run: every receipted line arrives, each
// board's in order (what was in flight on node1 may arrive again, as a
// run of lines in their order).
func TestBridgeRabbitMQClusterNodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a RabbitMQ cluster")
	}
	start := time.Now()
	c := gatewaytest.StartRabbitCluster(t, 2)
	node1, node2 := c.Nodes[0], c.Nodes[1]
	c.Ctl(node1, "set_policy", "--apply-to", "queues", "mqtt-mirrored", "^mqtt-subscription-", `{"ha-mode":"all","ha-sync-mode":"automatic"}`)
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))
	sub := mqtttest.SubscribeAny(t, []string{node2.URL(), node1.URL()}, "e2e/+/+/up")

	const gateways, perGateway = 3, 100
	brokers := fmt.Sprintf("[%s, %s]", node1.URL(), node2.URL())
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var all []*board
	var waits []func()
	for g := range gateways {
		gw := fmt.Sprintf("gw%d", g)
		p := start2(t, bridgeYAML(t, brokers, gw, filepath.Join(t.TempDir(), "q"), ""))
		addr := p.addr()
		bs, wait := startBoards(ctx, perGateway, gw+"-b", func() string { return addr }, func(b *board) { b.pace = 20 * time.Millisecond })
		all, waits = append(all, bs...), append(waits, wait)
	}
	time.Sleep(3 * time.Second)
	before := totalReceipted(all)
	node1.Kill()
	t.Logf("node1 killed after %d lines receipted", before)
	time.Sleep(5 * time.Second)
	stop()
	for _, w := range waits {
		w()
	}
	after := totalReceipted(all) - before
	if after == 0 {
		t.Errorf("no line was receipted after node1 was killed")
	}
	// Each gateway's connection to node1 was lost with lines in flight,
	// which go again to node2: a run of duplicates per board. One more is
	// allowed for a pass that times out on node2 while the cluster takes
	// in node1's death.
	d := checkDeliveredResent(t, sub, all, 2)
	t.Logf("RabbitMQ cluster: %d gatewayd, %d boards, %d lines receipted (%d after the kill), all delivered in order, %d duplicates; %v in all",
		gateways, len(all), totalReceipted(all), after, d.duplicates, time.Since(start).Round(time.Millisecond))
}
