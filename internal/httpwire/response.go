package httpwire

import (
	"net/http"
	"strings"
)

// Response is a parsed response head from a target.
type Response struct {
	ProtoMajor, ProtoMinor int
	StatusCode             int
	Reason                 string
	// Header is as Request's: canonical keys, trimmed values, folds joined;
	// no Content-Length, and Transfer-Encoding only for the codings other
	// than chunked.
	Header http.Header
	// ContentLength is -1 when unknown: chunked, or read until close.
	ContentLength int64
	Chunked       bool
	Close         bool // Connection: close, or HTTP/1.0 without keep-alive
}

// ParseResponse parses a response head read with ReadHead. It is strict:
// a malformed status line or framing is an error wrapping ErrMalformed (the
// front end answers 502). What it accepts:
//
//   - HTTP/1.0 or HTTP/1.1 (1.2 to 1.9 read as 1.1), SP, a three-digit
//     status from 100, and SP and a reason phrase without control
//     characters, or nothing ("HTTP/1.1 200");
//   - bare LF line ends; white space between a header name and its colon,
//     which is removed (RFC 9112 §5.1); obs-folds, each replaced by one SP
//     (RFC 9112 §5.2);
//   - not: a header name that is not a token, a line without a colon, a
//     fold before the first header, CR or NUL in a value;
//   - Transfer-Encoding of known codings, chunked once and last (then
//     Content-Length is ignored, RFC 9112 §6.3), or without chunked (the
//     body then runs until the connection closes), not in HTTP/1.0;
//     Content-Length values that are numbers, all the same.
//
// Whether the response has a body at all (HEAD, 1xx, 204, 304) is the
// caller's business.
func ParseResponse(head []byte) (*Response, error) {
	s := string(head)
	line, _, rest, ok := nextLine(s)
	if !ok {
		return nil, malformed("no line end in %q", s)
	}
	blk := &responseBlock{}
	r := &blk.resp
	if err := r.statusLine(line); err != nil {
		return nil, err
	}
	hs := newHeaderSet(strings.Count(rest, "\n")-1, blk.strs[:])
	r.Header = hs.h
	rest, err := responseFields(rest, &hs)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, malformed("%d bytes after the head", len(rest))
	}
	if err := r.frame(); err != nil {
		return nil, err
	}
	return r, nil
}

// responseBlock allocates a Response and the first values of its Header at
// once.
type responseBlock struct {
	resp Response
	strs [16]string
}

// statusLine reads HTTP-version SP status-code [SP reason-phrase].
func (r *Response) statusLine(line string) error {
	if len(line) < len("HTTP/1.1 200") || line[8] != ' ' || !strings.HasPrefix(line, "HTTP/1.") || !isDigit(line[7]) {
		return malformed("status line %q", line)
	}
	r.ProtoMajor, r.ProtoMinor = 1, min(int(line[7]-'0'), 1)
	code := 0
	for i := 9; i < 12; i++ {
		if !isDigit(line[i]) {
			return malformed("status code in %q", line)
		}
		code = code*10 + int(line[i]-'0')
	}
	if code < 100 {
		return malformed("status code %d", code)
	}
	r.StatusCode = code
	if len(line) == 12 {
		return nil
	}
	if line[12] != ' ' {
		return malformed("status line %q", line)
	}
	r.Reason = line[13:]
	for i := range len(r.Reason) {
		if !valueBytes[r.Reason[i]] {
			return malformed("control character in reason phrase %q", r.Reason)
		}
	}
	return nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// responseFields reads the header lines of a response into hs, strictly.
// It returns what follows the empty line that ends them.
func responseFields(s string, hs *headerSet) (string, error) {
	var f field
	for {
		line, _, rest, ok := nextLine(s)
		if !ok {
			return "", malformed("the head does not end with an empty line")
		}
		s = rest
		switch {
		case line == "":
			flushStrict(hs, &f)
			return s, nil
		case isWS(line[0]):
			if !f.active || hasBad(line) {
				return "", malformed("folded line %q", line)
			}
			f.fold(line)
			continue
		}
		flushStrict(hs, &f)
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimRight(name, " \t")
		if !ok || !isToken(name) {
			return "", malformed("header line %q", line)
		}
		if hasBad(value) {
			return "", malformed("CR or NUL in the value of %s", name)
		}
		key, _ := canonicalKey(name)
		f = field{active: true, keep: true, key: key, value: value}
	}
}

func flushStrict(hs *headerSet, f *field) {
	if f.active {
		hs.add(f.key, trimOWS(f.value))
	}
	*f = field{}
}

// frame sets the body's framing (RFC 9112 §6.3) and takes Content-Length
// and the chunked coding out of the Header.
func (r *Response) frame() error {
	h := r.Header
	te, cl := h["Transfer-Encoding"], h["Content-Length"]
	delete(h, "Transfer-Encoding")
	delete(h, "Content-Length")
	closeOpt, keepAlive := false, false
	for _, v := range h["Connection"] {
		c, k := connection(v)
		closeOpt, keepAlive = closeOpt || c, keepAlive || k
	}
	r.Close = closeOpt || r.ProtoMinor == 0 && !keepAlive
	r.ContentLength = -1
	if len(te) > 0 {
		kept, chunked, strict, found := codings(te)
		if !strict || !found || r.ProtoMinor == 0 {
			return malformed("Transfer-Encoding %q", strings.Join(te, ", "))
		}
		r.Chunked = chunked
		if kept != "" {
			h["Transfer-Encoding"] = []string{kept}
		}
		return nil
	}
	if len(cl) > 0 {
		n, _, err := contentLength(cl)
		if err != nil {
			return err
		}
		r.ContentLength = n
	}
	return nil
}
