package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gatewayd/gateway"
)

// Per-board series are opt-in (metrics.per_board): a fleet of thousands of
// boards would otherwise give Prometheus thousands of series per metric.
// Only connected boards are listed, and their counters are the session's:
// they start again from 0 when a board reconnects, which rate() and
// increase() read as a counter reset.
var (
	descBoardMessages = prometheus.NewDesc("gatewayd_board_messages_total",
		"Lines from (in) and to (out: receipts and deliveries) a connected board, this session.", []string{"board", "direction"}, nil)
	descBoardBytes = prometheus.NewDesc("gatewayd_board_bytes_total",
		"Bytes from (in) and to (out) a connected board, this session.", []string{"board", "direction"}, nil)
	descBoardLastSeen = prometheus.NewDesc("gatewayd_board_last_seen_timestamp_seconds",
		"When a connected board last sent a line, as a Unix time.", []string{"board"}, nil)
	descBoardTLS = prometheus.NewDesc("gatewayd_board_tls",
		"1 if a connected board talks over TLS.", []string{"board"}, nil)
)

// boardCollector turns the connected boards into per-board samples.
type boardCollector struct{ boards func() []gateway.BoardInfo }

func (c boardCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBoardMessages, descBoardBytes, descBoardLastSeen, descBoardTLS} {
		ch <- d
	}
}

func (c boardCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.boards() {
		ch <- prometheus.MustNewConstMetric(descBoardMessages, prometheus.CounterValue, float64(b.MessagesIn), b.ID, "in")
		ch <- prometheus.MustNewConstMetric(descBoardMessages, prometheus.CounterValue, float64(b.MessagesOut), b.ID, "out")
		ch <- prometheus.MustNewConstMetric(descBoardBytes, prometheus.CounterValue, float64(b.BytesIn), b.ID, "in")
		ch <- prometheus.MustNewConstMetric(descBoardBytes, prometheus.CounterValue, float64(b.BytesOut), b.ID, "out")
		if !b.LastSeen.IsZero() {
			ch <- prometheus.MustNewConstMetric(descBoardLastSeen, prometheus.GaugeValue, float64(b.LastSeen.UnixNano())/1e9, b.ID)
		}
		tls := 0.0
		if b.TLS {
			tls = 1
		}
		ch <- prometheus.MustNewConstMetric(descBoardTLS, prometheus.GaugeValue, tls, b.ID)
	}
}
