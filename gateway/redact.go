package gateway

import "regexp"

// tokenValue matches a token in a hello, so the debug log of payloads can
// show a hello without its secret.
var tokenValue = regexp.MustCompile(`token=[^ \r\n]*`)

// redactTokens is data as a string with every token= value hidden. It is
// only called when debug logging is on.
func redactTokens(data []byte) string {
	return string(tokenValue.ReplaceAll(data, []byte("token=REDACTED")))
}
