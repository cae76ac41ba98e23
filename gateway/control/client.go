package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
)

// ErrNoSuchBoard is what an error from Client.Tell is (errors.Is) when
// the board is not connected.
var ErrNoSuchBoard = errors.New("control: board not connected")

// Error is a refusal from the daemon: its HTTP status and its message.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return "gatewayd: " + e.Msg }

// Is makes a 404 from a delivery ErrNoSuchBoard.
func (e *Error) Is(target error) bool {
	return target == ErrNoSuchBoard && e.Status == http.StatusNotFound
}

// Client talks to a gatewayd's control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the socket at path; "" means
// Env{}.ClientPath(""): $GATEWAYD_SOCKET, else where the daemon puts it.
func NewClient(path string) *Client {
	if path == "" {
		path = Env{}.ClientPath("")
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression: true,
		// gatewayctl makes a request or two; nothing is left open after.
		DisableKeepAlives: true,
	}
	return &Client{socket: path, http: &http.Client{Transport: tr}}
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Boards lists the connected boards.
func (c *Client) Boards(ctx context.Context) ([]Board, error) {
	var bs []Board
	err := c.do(ctx, http.MethodGet, "/v1/boards", nil, &bs)
	return bs, err
}

// Tell delivers message to board id as one `!msg` line. It returns an
// error wrapping ErrNoSuchBoard if no such board is connected.
func (c *Client) Tell(ctx context.Context, id, message string) error {
	return c.do(ctx, http.MethodPost, "/v1/boards/"+url.PathEscape(id)+"/messages", []byte(message), nil)
}

// DeadLetters lists the lines the broker refused, oldest first.
func (c *Client) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	var dl []DeadLetter
	err := c.do(ctx, http.MethodGet, "/v1/mqtt/dead-letters", nil, &dl)
	return dl, err
}

// Forget asks the daemon to remove board id's Home Assistant discovery
// configs from the broker.
func (c *Client) Forget(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/v1/boards/"+url.PathEscape(id)+"/forget", nil, nil)
}

// Reload asks the daemon to read its configuration file again and waits
// until it has: the error holds every problem when the file is bad.
func (c *Client) Reload(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/reload", nil, nil)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://gatewayd"+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.dialError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("control: reading %s from %s: %w", path, c.socket, err)
	}
	if resp.StatusCode >= 300 {
		var e apiError
		msg := resp.Status
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &Error{Status: resp.StatusCode, Msg: msg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("control: %s from %s: %w", path, c.socket, err)
	}
	return nil
}

// dialError says what to fix when the socket cannot be reached.
func (c *Client) dialError(err error) error {
	hint := ""
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		hint = " (is gatewayd running, with its control socket there?)"
	case errors.Is(err, fs.ErrPermission):
		hint = " (are you root or in the gatewayd group?)"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return fmt.Errorf("cannot reach gatewayd's control socket %s: %v%s", c.socket, err, hint)
}
