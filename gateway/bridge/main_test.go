package bridge

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if broker := os.Getenv(willChildEnv); broker != "" {
		willChild(broker)
		return
	}
	goleak.VerifyTestMain(m)
}

const willChildEnv = "BRIDGE_WILL_CHILD_BROKER"

// willChild runs a bridge until it is killed, saying "up" once connected.
func willChild(broker string) {
	b, err := Open(Config{Brokers: brokers(broker), GatewayID: "gw1", TopicPrefix: "t", QueueDir: os.Getenv("BRIDGE_WILL_CHILD_DIR")}, nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for b.Health() != nil {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("up")
	<-context.Background().Done()
}

// brokerWait bounds the waits on a real broker: longer than
// gatewaytest.EventuallyWithin, since a reconnect waits out the bridge's
// backoff first.
const brokerWait = 30 * time.Second
