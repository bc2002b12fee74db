package proxy

import "github.com/shoalhq/shoal/internal/httpwire"

// Desync mitigation modes, as ALB's routing.http.desync_mitigation_mode.
const (
	DesyncMonitor   = "monitor"
	DesyncDefensive = "defensive"
	DesyncStrictest = "strictest"
)

// desyncMode is a listener's desync mitigation mode.
type desyncMode uint8

const (
	desyncDefensive desyncMode = iota
	desyncMonitor
	desyncStrictest
)

func parseDesyncMode(s string) desyncMode {
	switch s {
	case DesyncMonitor:
		return desyncMonitor
	case DesyncStrictest:
		return desyncStrictest
	}
	return desyncDefensive
}

// decide is what the mode does with a request of class c, as ALB's table:
//
//	class       monitor   defensive        strictest
//	compliant   forward   forward          forward
//	acceptable  forward   forward          400
//	ambiguous   forward   forward, close   400
//	severe      forward   400              400
//
// "close" closes the connections to the client and to the target after
// the answer. Strictest lets through only requests that comply with RFC
// 7230, as ALB's documentation says of it. shoal also closes the
// connections after a severe request it forwards in monitor mode: RFC 9112
// §6.1 requires it for a request framed by both Content-Length and
// Transfer-Encoding. Whatever the class, a request goes out re-framed by
// shoal, never as the client sent it.
func (m desyncMode) decide(c httpwire.Class) (refuse, closeAfter bool) {
	switch {
	case c == httpwire.Compliant:
		return false, false
	case m == desyncStrictest:
		return true, true
	case c == httpwire.Acceptable:
		return false, false
	case m == desyncDefensive && c == httpwire.Severe:
		return true, true
	case m == desyncMonitor && c == httpwire.Ambiguous:
		return false, false
	}
	return false, true
}
