package control

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveForget serves a control socket whose Forget is forget.
func serveForget(t *testing.T, forget func(string) error) *Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatewayd.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	cs := &Server{Status: func() Status { return Status{} }, Forget: forget}
	done := make(chan error, 1)
	go func() { done <- cs.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs.Shutdown(ctx)
		<-done
	})
	return NewClient(path)
}

func TestForget(t *testing.T) {
	var got []string
	client := serveForget(t, func(id string) error {
		if id == "busy" {
			return errors.New("homeassistant: no")
		}
		got = append(got, id)
		return nil
	})
	ctx := context.Background()
	if err := client.Forget(ctx, "kitchen.1"); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if len(got) != 1 || got[0] != "kitchen.1" {
		t.Errorf("forgot %q, want kitchen.1", got)
	}
	if err := client.Forget(ctx, "busy"); err == nil || !strings.Contains(err.Error(), "homeassistant: no") {
		t.Errorf("Forget refused = %v", err)
	}
	var e *Error
	if err := client.Forget(ctx, "a b"); !errors.As(err, &e) || e.Status != 400 {
		t.Errorf("Forget of a bad ID = %v, want a 400", err)
	}

	off := serveForget(t, nil)
	if err := off.Forget(ctx, "kitchen.1"); !errors.As(err, &e) || e.Status != 409 || !strings.Contains(err.Error(), "mqtt.homeassistant: false") {
		t.Errorf("Forget with discovery off = %v, want a 409 naming mqtt.homeassistant", err)
	}
}
