package main

import (
	"time"

	"github.com/gatewayd/gatewayd/configs"
	"github.com/gatewayd/gatewayd/gateway/tlsconf"
)

// startTLS makes the listeners speak TLS when tls.cert_file and key_file
// are set, serving the certificate (and client CAs) the configuration
// already read; SIGHUP swaps them through reloadTLS.
func (d *daemon) startTLS() (func(), error) {
	t := d.cfg.Settings().TLS
	if t.Certificate == nil {
		return func() {}, nil
	}
	st, err := tlsconf.New(tlsFiles(t), t.Certificate, t.ClientCAs)
	if err != nil {
		return nil, err
	}
	d.tls = st
	d.srv.TLS = st.Config()
	d.log.Info("TLS on", "cert_file", t.CertFile, "client_ca_file", t.ClientCAFile,
		"names", st.Leaf().DNSNames, "not_after", st.Leaf().NotAfter.Format(time.DateOnly))
	return func() {}, nil
}

// reloadTLS applies a reloaded configuration's tls: section. Connections
// already open keep the certificate they started with; new handshakes get
// the new one. Turning TLS on or off needs a restart, as the listeners'
// protocol changes. A configuration whose files are bad never gets here:
// reload logs why and keeps everything, the certificate included.
func (d *daemon) reloadTLS(cfg *configs.Config) {
	t := cfg.Settings().TLS
	switch {
	case d.tls == nil && t.Certificate == nil:
		return
	case d.tls == nil || t.Certificate == nil:
		d.log.Warn("reload: tls.cert_file turns TLS on or off; restart gatewayd to apply it")
		return
	}
	if err := d.tls.Use(tlsFiles(t), t.Certificate, t.ClientCAs); err != nil {
		d.log.Error("reload: TLS certificate unchanged", "err", err)
		return
	}
	d.log.Info("TLS certificate reloaded", "cert_file", t.CertFile, "client_ca_file", t.ClientCAFile,
		"not_after", d.tls.Leaf().NotAfter.Format(time.DateOnly))
}

func tlsFiles(t configs.TLSSettings) tlsconf.Files {
	return tlsconf.Files{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile}
}
