package metrics

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves GET /metrics, GET /healthz and GET /v1/status (the
// snapshot as JSON, as on the control socket) from src. /healthz is the
// snapshot's verdict: 200 "ok", or 503 and the unhealthy part. Serve it
// with gateway/httpd, which bounds what a client can hold.
func Handler(src Source, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{src: src})
	if src.Boards != nil {
		reg.MustRegister(boardCollector{boards: src.Boards})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		st := src.Status()
		if !st.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write([]byte(st.Health + "\n"))
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(src.Status())
	})
	return mux
}
