package httpwire

import (
	"net/http"
	"strings"
)

// Request is a parsed request head.
type Request struct {
	Method string
	// Target is the request-target as sent (origin-form "/a?b",
	// absolute-form, authority-form for CONNECT, "*"), its control
	// characters percent-encoded.
	Target     string
	ProtoMajor int // 1
	ProtoMinor int // 0 or 1 (HTTP/1.2 to 1.9 read as 1.1)
	// Header has canonical keys (net/http's CanonicalHeaderKey), values
	// with surrounding white space trimmed, obs-folds joined with one SP, in
	// received order per key. It holds neither Content-Length nor the
	// chunked coding (see the package documentation); Host stays.
	Header http.Header
	// Host is the Host header, or the authority of an absolute-form target,
	// which wins (RFC 9112 §3.2.2); "" when there is neither.
	Host string
	// Body framing as the front end must read it (RFC 9112 §6.3): Chunked
	// when Transfer-Encoding's final coding is chunked (Content-Length then
	// ignored); else ContentLength from a valid Content-Length (several
	// equal values collapse to one); else 0 (no body). ContentLength is -1
	// when Chunked.
	ContentLength int64
	Chunked       bool
	// Close: the client asked to close after this request (Connection:
	// close, or HTTP/1.0 without Connection: keep-alive), or sent
	// Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1).
	Close   bool
	Verdict Verdict
}

// ParseRequest parses and classifies a head returned by ReadHead.
//
// A non-nil error wraps ErrMalformed: the request cannot be framed or
// parsed at all and must get 400 in every mode (a request line that is not
// METHOD SP TARGET SP HTTP/1.x, a header line without a colon, Content-Length
// values that differ or that are not numbers, a Transfer-Encoding whose final
// coding is not chunked, more than one Host; the package documentation has
// the list). The Request is then nil when not even a method could be read,
// and otherwise holds what was read, with Verdict Severe and guardian's
// reason where it has one, for the access log.
//
// Otherwise Verdict tells the class, and the fields are safe to write: see
// the package documentation for what is cleaned and what is dropped.
func ParseRequest(head []byte) (*Request, error) {
	s := string(head)
	line, bareLF, rest, ok := nextLine(s)
	if !ok {
		return nil, malformed("no line end in %q", s)
	}
	blk := &requestBlock{}
	p := requestParser{req: &blk.req}
	if bareLF {
		p.a.lines.raise(Acceptable, reasonNonCrLf)
	}
	if !p.requestLine(line) {
		return nil, p.err
	}
	p.hs = newHeaderSet(strings.Count(rest, "\n")-1, blk.strs[:])
	p.req.Header = p.hs.h
	if rest = p.fields(rest); rest != "" {
		p.fail("", malformed("%d bytes after the head", len(rest)))
	}
	p.a.framing(p.req.Method, p.req.ProtoMinor == 0)
	p.frame()
	p.host()
	p.req.Verdict = p.a.verdict()
	if p.err != nil {
		p.req.Verdict.raise(Severe, p.reason)
		return p.req, p.err
	}
	return p.req, nil
}

// requestBlock allocates a Request and the first values of its Header at
// once.
type requestBlock struct {
	req  Request
	strs [16]string
}

// requestParser holds a request being parsed: its classification, and the
// first error found, if any.
type requestParser struct {
	req    *Request
	a      analysis
	hs     headerSet
	err    error
	reason string // guardian's reason for err, or ""

	// What the fields kept say of the framing.
	sawTE, sawCL        bool
	hosts               int
	closeOpt, keepAlive bool
}

// fail records the first error and its reason.
func (p *requestParser) fail(reason string, err error) {
	if p.err == nil {
		p.err, p.reason = err, reason
	}
}

// requestLine reads METHOD SP TARGET SP VERSION. The method ends at the
// first SP and the version starts after the last one (white space after it
// aside), as guardian splits it: a target may hold spaces. It is false when
// the line has no SP at all.
func (p *requestParser) requestLine(line string) bool {
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		p.fail("", malformed("request line %q has no space", line))
		return false
	}
	r := p.req
	r.Method = line[:sp]
	p.a.checkMethod(r.Method)
	if !isToken(r.Method) {
		p.fail(reasonBadMethod, malformed("method %q is not a token", r.Method))
	}
	rest := line[sp+1:]
	sp = strings.LastIndexByte(strings.TrimRight(rest, " \t"), ' ')
	if sp < 0 {
		p.fail(reasonBadVersion, malformed("request line %q lacks a target or a version", line))
		return true
	}
	p.version(rest[sp+1:])
	p.target(rest[:sp])
	return true
}

// version reads HTTP/1.x; HTTP/1.2 to 1.9 are read as 1.1 (RFC 9112 §2.3).
func (p *requestParser) version(v string) {
	p.a.checkVersion(v)
	t := trimOWS(v)
	if len(t) != 8 || !strings.HasPrefix(t, "HTTP/1.") || t[7] < '0' || t[7] > '9' {
		p.fail(reasonBadVersion, malformed("version %q is not HTTP/1.x", v))
		return
	}
	p.req.ProtoMajor, p.req.ProtoMinor = 1, min(int(t[7]-'0'), 1)
}

// target reads the request-target, percent-encodes its control characters,
// and takes the host of an absolute-form or authority-form target.
func (p *requestParser) target(raw string) {
	p.a.checkURI(raw)
	if raw == "" {
		p.fail("", malformed("empty request-target"))
		return
	}
	t := encodeCTLs(raw)
	r := p.req
	r.Target = t
	switch {
	case t[0] == '/':
	case t == "*":
		if r.Method != "OPTIONS" {
			p.fail("", malformed("request-target * for %s", r.Method))
		}
	case r.Method == "CONNECT":
		p.targetHost(t)
	default:
		auth, hasAuth, ok := authority(t)
		if !ok {
			p.fail("", malformed("request-target %q is none of RFC 9112's forms", t))
		} else if hasAuth {
			p.targetHost(auth)
		}
	}
}

func (p *requestParser) targetHost(h string) {
	if h == "" || !validHost(h) {
		p.fail("", malformed("invalid host %q in the request-target", h))
		return
	}
	p.req.Host = h
}

// authority reads an absolute-form target: scheme ":" hier-part. hasAuth
// tells that "//" follows the scheme; auth is then the host and port
// (userinfo dropped).
func authority(t string) (auth string, hasAuth, ok bool) {
	i := strings.IndexByte(t, ':')
	if i <= 0 || !isAlpha(t[0]) {
		return "", false, false
	}
	for j := 1; j < i; j++ {
		if c := t[j]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return "", false, false
		}
	}
	rest, hasAuth := strings.CutPrefix(t[i+1:], "//")
	if !hasAuth {
		return "", false, true
	}
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return rest, true, true
}

func isAlpha(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// encodeCTLs percent-encodes the control characters of a request-target, so
// that no engine downstream can take a CR or a tab for a delimiter.
func encodeCTLs(t string) string {
	n := 0
	for i := range len(t) {
		if isCTL(t[i]) {
			n++
		}
	}
	if n == 0 {
		return t
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(t)+2*n)
	for i := range len(t) {
		if c := t[i]; isCTL(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// fields reads the header lines, classifying each as guardian does and
// keeping in the Header those safe to forward. It returns what follows the
// empty line that ends them.
func (p *requestParser) fields(s string) string {
	var (
		f        field
		prevName string // the name of the last field line, that guardian gives folds
		hasPrev  bool
		prevCT   bool // that name is Content-Type: guardian allows folding it
	)
	for {
		line, bareLF, rest, ok := nextLine(s)
		if !ok {
			p.flush(&f)
			p.fail("", malformed("the head does not end with an empty line"))
			return ""
		}
		s = rest
		if bareLF {
			p.a.lines.raise(Acceptable, reasonNonCrLf)
		}
		switch {
		case line == "":
			p.flush(&f)
			return s
		case isWS(line[0]):
			p.fold(&f, line, prevName, hasPrev, prevCT)
			continue
		}
		p.flush(&f)
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			p.a.lines.raise(Ambiguous, reasonMissingColon)
			p.a.header(line, "", nameTier(line), false)
			p.fail(reasonMissingColon, malformed("header line %q has no colon", line))
			continue
		}
		prevName, hasPrev, prevCT = name, true, asciiEqualFold(name, "content-type")
		f = p.field(name, value)
	}
}

// field classifies a header line and tells whether it goes into the Header.
func (p *requestParser) field(name, value string) field {
	var key string
	common := false
	nt := nameTier(name)
	if nt == tierCompliant && name != "" { // a token
		key, common = canonicalKey(name)
	}
	knownDistant := common && key != "Transfer-Encoding" && key != "Content-Length"
	lookalike, bad := p.a.header(name, value, nt, knownDistant)
	return field{active: true, keep: key != "" && !lookalike, key: key, value: value, bad: bad}
}

// fold handles a line that starts with white space: for the Header, an
// obs-fold of the field before it (dropped when there is none, RFC 9112
// §2.2); for guardian, MultilineHeader (but in Content-Type), and a header
// of its own when it holds a colon, as an engine that ignores folding sees
// it.
func (p *requestParser) fold(f *field, line, prevName string, hasPrev, prevCT bool) {
	name, value, colon := strings.Cut(line, ":")
	switch {
	case hasPrev && (prevCT || !colon):
		p.a.header(prevName, name, nameTier(prevName), false)
	default:
		p.a.header(name, value, nameTier(name), false)
	}
	if !prevCT {
		p.a.lines.raise(Ambiguous, reasonMultiline)
	}
	if f.active {
		f.fold(line)
		f.bad = f.bad || hasBad(line)
	}
}

// flush puts the field read into the Header, if it is to be kept, and
// notes the fields that frame the request.
func (p *requestParser) flush(f *field) {
	if f.active && f.keep {
		v := trimOWS(f.value)
		if f.bad {
			v = cleanValue(v)
		}
		p.hs.add(f.key, v)
		switch f.key {
		case "Transfer-Encoding":
			p.sawTE = true
		case "Content-Length":
			p.sawCL = true
		case "Host":
			p.hosts++
		case "Connection":
			c, k := connection(v)
			p.closeOpt, p.keepAlive = p.closeOpt || c, p.keepAlive || k
		}
	}
	*f = field{}
}

// frame sets the body's framing from the Transfer-Encoding and
// Content-Length headers kept (RFC 9112 §6.3), and takes them out of the
// Header.
func (p *requestParser) frame() {
	r, h := p.req, p.req.Header
	r.Close = p.closeOpt || r.ProtoMinor == 0 && !p.keepAlive
	if p.sawCL {
		n, reason, err := contentLength(h["Content-Length"])
		if err != nil {
			p.fail(reason, err)
		}
		r.ContentLength = n
		delete(h, "Content-Length")
	}
	if !p.sawTE {
		return
	}
	te := h["Transfer-Encoding"]
	delete(h, "Transfer-Encoding")
	kept, chunked, _, _ := codings(te)
	if !chunked {
		p.fail(reasonBadTE, malformed("the final transfer coding of %q is not chunked", strings.Join(te, ", ")))
		return
	}
	r.Chunked, r.ContentLength = true, -1
	r.Close = r.Close || r.ProtoMinor == 0
	if kept != "" {
		h["Transfer-Encoding"] = []string{kept}
	}
}

// host checks the Host header (RFC 9112 §3.2): one at most, a valid host;
// it is the request's host unless the target gave one.
func (p *requestParser) host() {
	switch {
	case p.hosts > 1:
		p.fail("", malformed("%d Host headers", p.hosts))
	case p.hosts == 1:
		h := p.req.Header["Host"][0]
		if !validHost(h) {
			p.fail("", malformed("invalid Host %q", h))
		} else if p.req.Host == "" {
			p.req.Host = h
		}
	}
}
