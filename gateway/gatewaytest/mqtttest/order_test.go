package mqtttest

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckOrder(t *testing.T) {
	msgs := func(seqs string) []Message {
		var m []Message
		for _, s := range strings.Fields(seqs) {
			m = append(m, Message{Topic: "p/g/b/up", Payload: "b " + s})
		}
		return m
	}
	tests := []struct {
		name    string
		seqs    string
		replays int
		wantErr string
		want    Order
	}{
		{"in order", "0 1 2 3", 0, "", Order{Lines: 4}},
		{"a line again at once", "0 1 1 2 2 3", 0, "", Order{Lines: 4, Duplicates: 2}},
		{"a gap", "0 1 3", 0, "line 3 arrived when 2 was next", Order{}},
		{"an older line", "0 1 2 1 3", 0, "line 1 arrived after line 2", Order{}},
		{"the issue's subscriber", "33 34 35 36 36 37 36 38", 0, "line 33 arrived when 0 was next", Order{}},
		{"older line, no kill", "0 1 2 3 4 2 3 4 5", 0, "line 2 arrived after line 4", Order{}},
		{"a replay after a kill", "0 1 2 3 4 2 3 4 5", 1, "", Order{Lines: 6, Duplicates: 3, Replays: 1}},
		{"a replay cut short", "0 1 2 3 4 2 3 5", 1, "", Order{Lines: 6, Duplicates: 2, Replays: 1}},
		{"a replay with a hole", "0 1 2 3 4 1 3 5", 1, "line 3 arrived after line 4", Order{}},
		{"two replays, one kill", "0 1 2 3 1 2 3 4 2 3 4 5", 1, "line 2 arrived after line 4", Order{}},
		{"two replays, two kills", "0 1 2 3 1 2 3 4 2 3 4 5", 2, "", Order{Lines: 6, Duplicates: 6, Replays: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckOrder(msgs(tt.seqs), tt.replays)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("CheckOrder(%s) = %v, want an error with %q", tt.seqs, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckOrder(%s): %v", tt.seqs, err)
			}
			got.Next = nil
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("CheckOrder(%s) = %+v, want %+v", tt.seqs, got, tt.want)
			}
		})
	}
}
