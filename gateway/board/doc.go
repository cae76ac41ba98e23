// Package board parses the `!` line protocol that named boards speak to
// gatewayd under line framing: the opening `!hello ID [token=TOKEN]
// [fw=VERSION]` and the control lines that follow it.
//
// Every function here is pure, from bytes to a value or an error, so that
// the network code in package gateway holds no parsing of its own and the
// parsers can be fuzzed on their own. An error from ParseHello carries the
// Code the gateway answers with (`!err CODE TEXT`); its text never holds a
// token, so it may be logged and sent back as it is.
package board
