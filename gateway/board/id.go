package board

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// CheckID is the one rule for a board ID, wherever an ID is made or
// checked: the hello, the certificates pki issues (whose common name is
// the ID) and gatewayctl's -hello. An ID is 1 to MaxIDBytes characters of
// A-Z a-z 0-9 . _ - and does not start with ReservedPrefix. The error
// names the ID and what is wrong with it.
func CheckID(id string) error {
	err := checkID([]byte(id))
	if err == nil {
		err = checkReserved(id)
	}
	var e *Error
	if errors.As(err, &e) {
		return fmt.Errorf("board ID %q: %s", id, e.Text)
	}
	return err
}

// checkReserved refuses the IDs that AnonymousID makes.
func checkReserved(id string) error {
	if strings.HasPrefix(id, ReservedPrefix) {
		return errorf(CodeReserved, "IDs starting with %q name clients that never said hello", ReservedPrefix)
	}
	return nil
}

// AnonymousID is the name of a client at addr that never said hello, as
// the bridge publishes its lines: ReservedPrefix and the address, dots and
// colons written as '-' (ip-192-0-2-7). No board can say hello as one.
func AnonymousID(addr netip.Addr) string {
	return ReservedPrefix + strings.NewReplacer(".", "-", ":", "-").Replace(addr.WithZone("").String())
}
