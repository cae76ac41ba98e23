//go:build !linux

package gateway

// hangups has no watch outside Linux: a blocked connection whose client
// left is noticed when the Uplink lets it go.
type hangups struct{}

func (h *hangups) watch(c *conn) int32        { return 0 }
func (h *hangups) unwatch(c *conn, tok int32) {}
