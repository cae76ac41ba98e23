package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// Board issues the certificate and key of board id from dir's CA, as
// dir/boards/ID.crt and ID.key. If the board has them already they are kept
// and returned again (so their lines can be pasted again), unless
// opt.Renew. Board never creates a CA: dir must have been made by Init.
func Board(dir, id string, opt Options) (*Result, error) {
	if err := board.CheckID(id); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	res := &Result{}
	if have, err := pairState(filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)); err != nil {
		return nil, err
	} else if have == pairMissing {
		return nil, fmt.Errorf("pki: no CA in %q: make one with pki init first", dir)
	}
	ca, err := loadCA(dir, opt.now(), res)
	if err != nil {
		return nil, err
	}
	res.CA, res.CAPEM = ca.cert, ca.certPEM

	bdir := filepath.Join(dir, BoardsDir)
	if err := os.MkdirAll(bdir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	certPath, keyPath := filepath.Join(bdir, id+".crt"), filepath.Join(bdir, id+".key")
	res.CertFile, res.KeyFile = certPath, keyPath
	have, err := pairState(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	switch {
	case have == pairComplete && !opt.Renew:
		p, err := loadIssued(certPath, keyPath, ca.cert)
		if err != nil {
			return nil, fmt.Errorf("%w (add -renew to issue a new board certificate)", err)
		}
		res.kept(certPath, keyPath)
		res.Cert, res.CertPEM, res.KeyPEM = p.cert, p.certPEM, p.keyPEM
		res.noteExpiry(certPath, p.cert, opt.now(), "add -renew to issue a new one and flash it")
		return res, nil
	case have == pairHalf && !opt.Renew:
		return nil, fmt.Errorf("pki: only one of %q and %q exists: add -renew to issue both again", certPath, keyPath)
	}
	is, err := newBoard(opt.now(), id, ca.cert, ca.key)
	if err != nil {
		return nil, err
	}
	if err := writeIssued(is, certPath, keyPath, opt.Renew); err != nil {
		return nil, err
	}
	res.wrote(certPath, keyPath)
	res.Cert, res.CertPEM, res.KeyPEM = is.cert, is.certPEM, is.keyPEM
	return res, nil
}
