package httpwire

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// nextLine splits the first line off s: the line without its line end
// (LF, and one CR before it), whether that end was a bare LF, and the rest.
// ok is false when s holds no LF.
func nextLine(s string) (line string, bareLF bool, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", false, s, false
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1], false, rest, true
	}
	return line, true, rest, true
}

// commonKeys maps the lower-case spelling of the header names seen on most
// requests and responses to their canonical form, so that canonicalising
// them allocates nothing whatever case the peer used.
var commonKeys = func() map[string]string {
	keys := [...]string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Access-Control-Allow-Origin", "Age", "Alt-Svc", "Authorization", "Cache-Control",
		"Connection", "Content-Disposition", "Content-Encoding", "Content-Language",
		"Content-Length", "Content-Location", "Content-Range", "Content-Type", "Cookie",
		"Date", "Dnt", "Etag", "Expect", "Expires", "Forwarded", "Host", "If-Match",
		"If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
		"Keep-Alive", "Last-Modified", "Link", "Location", "Origin", "Pragma", "Priority",
		"Proxy-Authorization", "Proxy-Connection", "Range", "Referer", "Sec-Ch-Ua",
		"Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode",
		"Sec-Fetch-Site", "Sec-Fetch-User", "Sec-Websocket-Accept", "Sec-Websocket-Extensions",
		"Sec-Websocket-Key", "Sec-Websocket-Protocol", "Sec-Websocket-Version", "Server",
		"Set-Cookie", "Strict-Transport-Security", "Te", "Trailer", "Transfer-Encoding",
		"Upgrade", "Upgrade-Insecure-Requests", "User-Agent", "Vary", "Via",
		"Www-Authenticate", "X-Amzn-Trace-Id", "X-Content-Type-Options",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto",
		"X-Frame-Options", "X-Real-Ip", "X-Requested-With",
	}
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// maxCommonKey is the length of the longest name in commonKeys.
const maxCommonKey = len("Access-Control-Allow-Origin")

// canonicalKey is http.CanonicalHeaderKey of a token, allocating only for a
// name neither common nor already canonical: a name in canonical form is
// its own key (a substring of the head), another is looked up in
// commonKeys. common tells that it was found there.
func canonicalKey(name string) (key string, common bool) {
	if isCanonical(name) {
		return name, false
	}
	if len(name) <= maxCommonKey {
		var b [maxCommonKey]byte
		for i := range len(name) {
			b[i] = lower(name[i])
		}
		if k, ok := commonKeys[string(b[:len(name)])]; ok {
			return k, true
		}
	}
	return textproto.CanonicalMIMEHeaderKey(name), false
}

// isCanonical tells whether a token is in canonical form already: upper
// case first and after each '-', lower case elsewhere.
func isCanonical(s string) bool {
	upper := true
	for i := range len(s) {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// headerSet fills an http.Header, taking each key's first value slice out
// of one backing array, as net/textproto does, to allocate once.
type headerSet struct {
	h    http.Header
	strs []string
	seen uint64 // a bit per key signature added
}

// newHeaderSet makes room for lines header lines, in strs when it is large
// enough.
func newHeaderSet(lines int, strs []string) headerSet {
	lines = max(lines, 0)
	if lines > len(strs) {
		strs = make([]string, lines)
	}
	return headerSet{h: make(http.Header, lines), strs: strs[:lines]}
}

// add appends a value to a key's. A key whose signature was never seen is
// new: it is stored without looking it up first, a map access saved for
// nearly every header.
func (s *headerSet) add(k, v string) {
	bit := uint64(1) << ((uint(len(k))*31 + uint(k[0]) + uint(k[len(k)-1])*7) & 63)
	var vv []string
	if s.seen&bit != 0 {
		vv = s.h[k]
	}
	s.seen |= bit
	if vv == nil && len(s.strs) > 0 {
		vv, s.strs = s.strs[:1:1], s.strs[1:]
		vv[0] = v
		s.h[k] = vv
		return
	}
	s.h[k] = append(vv, v)
}

// field is a header field being read: obs-fold lines add to its value.
type field struct {
	active bool   // a field line was read and may take folds
	keep   bool   // it goes into the Header
	key    string // its canonical name
	value  string // its value, folds joined, not trimmed yet
	bad    bool   // the value holds CR, LF or NUL
}

// fold adds a continuation line to the value, the obs-fold replaced by one
// SP (RFC 9112 §5.2).
func (f *field) fold(line string) {
	if cont := trimOWS(line); cont != "" {
		if v := trimOWS(f.value); v != "" {
			f.value = v + " " + cont
		} else {
			f.value = cont
		}
	}
}

// cleanValue trims a value and turns each CR, LF and NUL left in it into SP
// (RFC 9110 §5.5), so that it is safe to write.
// Bytes, not runes: obs-text need not be UTF-8, and stays as it came.
func cleanValue(v string) string {
	v = trimOWS(v)
	if !hasBad(v) {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if isBad(c) {
			b[i] = ' '
		}
	}
	return trimOWS(string(b))
}

// hasBad tells whether s holds CR, LF or NUL.
func hasBad(s string) bool {
	for i := range len(s) {
		if isBad(s[i]) {
			return true
		}
	}
	return false
}

// connection reads the close and keep-alive options of a Connection
// header.
func connection(v string) (closeOpt, keepAlive bool) {
	for opt := range strings.SplitSeq(v, ",") {
		opt = trimOWS(opt)
		closeOpt = closeOpt || asciiEqualFold(opt, "close")
		keepAlive = keepAlive || asciiEqualFold(opt, "keep-alive")
	}
	return closeOpt, keepAlive
}

// contentLength is the body length that Content-Length headers give: each
// a decimal number (RFC 9110 §8.6), all the same; reason is guardian's name
// for what is wrong otherwise.
func contentLength(values []string) (n int64, reason string, err error) {
	for i, v := range values {
		t := trimOWS(v)
		m, ok := parseUint(t)
		if !ok || t == "" || m > 1<<63-1 {
			return 0, reasonBadCL, malformed("Content-Length %q is not a number", v)
		}
		if i > 0 && int64(m) != n {
			return 0, reasonMultipleCL, malformed("Content-Length values %q and %q differ", values[0], v)
		}
		n = int64(m)
	}
	return n, "", nil
}

// codings reads Transfer-Encoding headers: the known codings other than
// chunked, in order and comma-separated (what the Header keeps), whether
// the final coding is chunked, and whether every coding is known and
// chunked comes once and last (strict, for responses). Empty list elements
// are ignored (RFC 9110 §5.6.1); found is false when there is no coding.
func codings(values []string) (kept string, chunked, strict, found bool) {
	strict = true
	var b strings.Builder
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if trimOWS(item) == "" {
				continue
			}
			c, known := knownCoding(item)
			strict = strict && known && !chunked
			found, chunked = true, c == "chunked"
			if known && !chunked {
				if b.Len() > 0 {
					b.WriteString(", ")
				}
				b.WriteString(c)
			}
		}
	}
	return b.String(), chunked, strict, found
}

// validHost tells whether a Host header or an authority holds only what a
// host and port may: no white space, controls, or URI delimiters.
func validHost(h string) bool {
	for i := range len(h) {
		if b := h[i]; b <= ' ' || b == 0x7f || strings.IndexByte("\"#/<>?\\^`{|}", b) >= 0 {
			return false
		}
	}
	return true
}

// malformed is an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > 64 {
			args[i] = s[:64] + "..."
		}
	}
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
