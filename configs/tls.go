package configs

import "crypto/tls"

func (c *Config) tls(b *builder) TLSSettings {
	t := c.TLS
	s := TLSSettings{
		CertFile:         t.CertFile,
		KeyFile:          t.KeyFile,
		ClientCAFile:     t.ClientCAFile,
		HandshakeTimeout: b.duration("tls.handshake_timeout", t.HandshakeTimeout),
	}
	if t.HandshakeTimeout == 0 {
		b.add("tls.handshake_timeout", "must be more than 0: a client that never finishes its handshake would hold its connection for ever")
	}
	switch {
	case t.CertFile == "" && t.KeyFile != "":
		b.add("tls.cert_file", "empty, but tls.key_file is set: give both or neither")
	case t.CertFile != "" && t.KeyFile == "":
		b.add("tls.key_file", "empty, but tls.cert_file is set: give both or neither")
	case t.CertFile != "":
		s.Certificate = loadKeyPair(b, t.CertFile, t.KeyFile)
	}
	if t.ClientCAFile != "" {
		if t.CertFile == "" {
			b.add("tls.client_ca_file", "needs tls.cert_file and tls.key_file: client certificates are checked only on a TLS listener")
		}
		pool, err := readCertPool(t.ClientCAFile)
		if err != nil {
			b.add("tls.client_ca_file", "%v", err)
		}
		s.ClientCAs = pool
	}
	return s
}

// loadKeyPair is tls.LoadX509KeyPair within readFile's bounds, with a
// problem at the key at fault.
func loadKeyPair(b *builder, certFile, keyFile string) *tls.Certificate {
	certPEM, err := readFile(certFile, maxPEMFileBytes)
	if err != nil {
		b.add("tls.cert_file", "%v", err)
	}
	keyPEM, keyErr := readFile(keyFile, maxPEMFileBytes)
	if keyErr != nil {
		b.add("tls.key_file", "%v", keyErr)
	}
	if err != nil || keyErr != nil {
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		b.add("tls.key_file", "%q with %q: %v", keyFile, certFile, err)
		return nil
	}
	return &cert
}
