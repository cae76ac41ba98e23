package homeassistant

import (
	"regexp"
	"testing"
)

// nodeRE is the node_id group of TOPIC_MATCHER in Home Assistant's
// homeassistant/components/mqtt/discovery.py (home-assistant/core, commit
// bdc5ec6042ca8092f29b687456a50a159dbce8a7).
var nodeRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func TestNodeID(t *testing.T) {
	tests := []struct{ gateway, board, want string }{
		{"pi-1", "kitchen", "pi-1_kitchen"},
		{"pi-1", "kitchen.temp", "pi-1_kitchen_temp"},
		{"pi-1", "a-b.c_d", "pi-1_a-b_c_d"},
		{"pi.lan", "ip-192-168-1-7", "pi_lan_ip-192-168-1-7"},
		{"raspberrypi-3f2a1b", "", "raspberrypi-3f2a1b"},
		{"gw", "x/y+z#é", "gw_x_y_z___"},
	}
	for _, tt := range tests {
		got := NodeID(tt.gateway, tt.board)
		if got != tt.want {
			t.Errorf("NodeID(%q, %q) = %q; want %q", tt.gateway, tt.board, got, tt.want)
		}
		if !nodeRE.MatchString(got) {
			t.Errorf("NodeID(%q, %q) = %q: Home Assistant would not match it", tt.gateway, tt.board, got)
		}
	}
}
