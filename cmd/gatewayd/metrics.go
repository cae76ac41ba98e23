package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatewayd/gatewayd/gateway"
)

// metricsServer serves /metrics (Prometheus text format) and /healthz
// when metrics.listen is set. Values are read from the server's and the
// LED worker's own counters at scrape time, so the echo path pays nothing
// for them.
type metricsServer struct {
	http *http.Server
	done chan struct{}
}

func startMetrics(addr string, d *daemon, log *slog.Logger) (*metricsServer, error) {
	m := &metricsServer{done: make(chan struct{})}
	if addr == "" {
		close(m.done)
		return m, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError(addr, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{d: d})

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := d.healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(err.Error() + "\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	m.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("metrics listening", "addr", l.Addr().String())
	go func() {
		defer close(m.done)
		if err := m.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server failed", "err", err)
		}
	}()
	return m, nil
}

func (m *metricsServer) shutdown() {
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if m.http.Shutdown(ctx) != nil {
			m.http.Close()
		}
	}
	<-m.done
}

var (
	descClients   = prometheus.NewDesc("gatewayd_clients", "Clients connected now.", nil, nil)
	descAccepted  = prometheus.NewDesc("gatewayd_connections_accepted_total", "Connections admitted.", nil, nil)
	descRejected  = prometheus.NewDesc("gatewayd_connections_rejected_total", "Connections closed as soon as accepted, by reason.", []string{"reason"}, nil)
	descMessages  = prometheus.NewDesc("gatewayd_messages_total", "Messages received (in) and echoed (out).", []string{"direction"}, nil)
	descBytes     = prometheus.NewDesc("gatewayd_bytes_total", "Bytes received (in) and echoed (out).", []string{"direction"}, nil)
	descLEDChange = prometheus.NewDesc("gatewayd_led_changes_total", "LED changes written to GPIO.", nil, nil)
	descCoalesced = prometheus.NewDesc("gatewayd_led_events_coalesced_total", "LED events folded into one already pending instead of shown on their own.", nil, nil)
	descGPIOErr   = prometheus.NewDesc("gatewayd_gpio_errors_total", "GPIO writes that failed.", nil, nil)
	descUp        = prometheus.NewDesc("gatewayd_up", "1 while the accept loop and the LED worker are alive.", nil, nil)
	descBuild     = prometheus.NewDesc("gatewayd_build_info", "Build information.", []string{"version", "commit", "goversion"}, nil)
)

type collector struct{ d *daemon }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descAccepted, descRejected, descMessages, descBytes, descLEDChange, descCoalesced, descGPIOErr, descUp, descBuild} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.srv.Stats()
	leds := c.d.leds.Totals()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descClients, float64(st.Clients))
	counter(descAccepted, st.Accepted)
	for _, r := range gateway.RejectReasons() {
		counter(descRejected, st.Rejected[r], r.String())
	}
	// Raw framing counts a read as a message, line framing a line; "in"
	// also counts lines dropped as too long, which are never echoed.
	counter(descMessages, st.MessagesIn, "in")
	counter(descMessages, st.Messages, "out")
	counter(descBytes, st.BytesIn, "in")
	counter(descBytes, st.BytesOut, "out")
	counter(descLEDChange, leds.Changes)
	counter(descCoalesced, leds.Coalesced)
	counter(descGPIOErr, leds.Errors)
	up := 1.0
	if c.d.healthy() != nil {
		up = 0
	}
	gauge(descUp, up)
	gauge(descBuild, 1, version, commit, runtime.Version())
}
