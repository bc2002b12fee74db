package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseRequest: ParseRequest never panics, fails only with
// ErrMalformed, and what it returns is safe to forward: written back as the
// front end writes it, it is one head, holds no CR, LF or NUL but its line
// ends, and parses back to the same fields with a verdict no worse than
// Acceptable (but for a GET or HEAD with a body, which stays what it is),
// so that nothing forwarded can be read as two requests.
func FuzzParseRequest(f *testing.F) {
	for _, c := range corpus {
		f.Add([]byte(c.raw))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		r, err := ParseRequest(head)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if r != nil && r.Verdict.Class != Severe {
				t.Fatalf("verdict %v on an error", r.Verdict)
			}
			return
		}
		checkWritable(t, r)
		out := serialize(r)
		if got, err := ReadHead(bufio.NewReader(bytes.NewReader(out)), nil, Limits{MaxLine: 1 << 20, MaxHead: 1 << 20}); err != nil || !bytes.Equal(got, out) {
			t.Fatalf("written back %q, read back as %q, %v", out, got, err)
		}
		r2, err := ParseRequest(out)
		if err != nil {
			t.Fatalf("written back %q: %v", out, err)
		}
		if diff := cmp.Diff(forwarded(r), forwarded(r2)); diff != "" {
			t.Fatalf("written back %q, parsed differently (-first +second):\n%s", out, diff)
		}
		if v := r2.Verdict; v.Class > Acceptable && !bodyless(r2.Method, v.Reason) {
			t.Fatalf("written back %q: %v %s", out, v.Class, v.Reason)
		}
		if again := serialize(r2); !bytes.Equal(again, out) {
			t.Fatalf("written back twice: %q, then %q", out, again)
		}
	})
}

// bodyless tells whether a verdict is one of a GET or HEAD with a body,
// which writing back keeps.
func bodyless(method, reason string) bool {
	return (method == "GET" || method == "HEAD") && (reason == reasonUndefinedCL || reason == reasonUndefinedTE)
}

// forwarded is what of a request the front end forwards.
func forwarded(r *Request) Request {
	return Request{Method: r.Method, Target: r.Target, Header: r.Header, Host: r.Host, ContentLength: r.ContentLength, Chunked: r.Chunked}
}

// serialize writes a request back as the front end does: the request line
// in HTTP/1.1, the header fields, then the framing.
func serialize(r *Request) []byte {
	var b bytes.Buffer
	b.WriteString(r.Method + " " + r.Target + " HTTP/1.1\r\n")
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	if r.Chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	} else if r.ContentLength > 0 {
		b.WriteString("Content-Length: " + strconv.FormatInt(r.ContentLength, 10) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// checkWritable: no CR, LF or NUL anywhere, names are tokens, the method a
// token, the target without white space but SP.
func checkWritable(t *testing.T, r *Request) {
	t.Helper()
	if !isToken(r.Method) || r.Target == "" || strings.ContainsAny(r.Target, "\r\n\x00\t") {
		t.Fatalf("method %q, target %q", r.Method, r.Target)
	}
	for k, vv := range r.Header {
		if !isToken(k) || k == "Content-Length" {
			t.Fatalf("header name %q", k)
		}
		for _, v := range vv {
			if hasBad(v) || v != trimOWS(v) {
				t.Fatalf("header %s: %q", k, v)
			}
		}
	}
	if r.Chunked != (r.ContentLength == -1) || r.ContentLength < -1 {
		t.Fatalf("Chunked %v, ContentLength %d", r.Chunked, r.ContentLength)
	}
}

// FuzzReadHead: ReadHead never panics, never holds more than its limits
// and a buffer, and agrees with a plain reading of the bytes: the same
// head, the rest left in the reader.
func FuzzReadHead(f *testing.F) {
	for _, c := range corpus {
		f.Add([]byte(c.raw), uint16(0), uint16(0))
	}
	f.Add([]byte("\r\n\nGET / HTTP/1.1\r\nA: b\r\n c\r\n\r\nrest"), uint16(10), uint16(40))
	f.Add([]byte("GET / HTTP/1.1\r\nA: "+strings.Repeat("b", 100)+"\r\n\r\n"), uint16(50), uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, maxLine, maxHead uint16) {
		lim := Limits{MaxLine: int(maxLine), MaxHead: int(maxHead)}
		c := &countingReader{r: bytes.NewReader(in)}
		br := bufio.NewReaderSize(c, 16)
		head, err := ReadHead(br, nil, lim)
		l := lim.withDefaults()
		if len(head) > l.MaxHead+br.Size() || c.n > l.MaxHead+l.MaxLine+br.Size()+2*maxLeadingEmptyLines {
			t.Fatalf("held %d bytes, read %d, for limits %+v", len(head), c.n, l)
		}
		want, skipped, werr := plainReadHead(in, l)
		switch {
		case err == nil && werr == nil:
			if !bytes.Equal(head, want) {
				t.Fatalf("head %q, want %q", head, want)
			}
			if rest, _ := io.ReadAll(br); !bytes.Equal(rest, in[skipped+len(head):]) {
				t.Fatalf("left %q, want %q", rest, in[skipped+len(head):])
			}
		case err == nil || werr == nil && !errors.Is(werr, errIncomplete):
			t.Fatalf("ReadHead: %q, %v; plain reading: %q, %v", head, err, want, werr)
		case isLimit(werr) && !isLimit(err), errors.Is(werr, ErrMalformed) && !errors.Is(err, ErrMalformed):
			t.Fatalf("ReadHead: %v; plain reading: %v", err, werr)
		case errors.Is(werr, errIncomplete) && !isLimit(err) && err != io.ErrUnexpectedEOF && err != io.EOF:
			t.Fatalf("ReadHead: %v on an incomplete head", err)
		}
	})
}

var errIncomplete = errors.New("incomplete")

func isLimit(err error) bool {
	return errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrHeaderTooLarge)
}

// plainReadHead reads a head out of in line by line: the empty lines
// skipped first, the head, or errIncomplete when in ends before it.
func plainReadHead(in []byte, lim Limits) (head []byte, skipped int, err error) {
	for n := 0; ; n++ {
		w := 0
		if bytes.HasPrefix(in[skipped:], []byte("\n")) {
			w = 1
		} else if bytes.HasPrefix(in[skipped:], []byte("\r\n")) {
			w = 2
		}
		if w == 0 {
			break
		}
		if n == maxLeadingEmptyLines {
			return nil, 0, ErrMalformed
		}
		skipped += w
	}
	rest := in[skipped:]
	off, fieldStart := 0, 0
	for first := true; ; first = false {
		i := bytes.IndexByte(rest[off:], '\n')
		if i < 0 {
			return nil, skipped, errIncomplete
		}
		line := bytes.TrimSuffix(rest[off:off+i], []byte("\r"))
		switch {
		case len(line) == 0 && !first:
			if off+i+1 > lim.MaxHead {
				return nil, skipped, ErrHeaderTooLarge
			}
			return rest[:off+i+1], skipped, nil
		case first && len(line) > lim.MaxLine:
			return nil, skipped, ErrLineTooLong
		case first:
			fieldStart = off + i + 1
		case line[0] != ' ' && line[0] != '\t':
			fieldStart = off
		}
		if !first && off+len(line)-fieldStart > lim.MaxLine {
			return nil, skipped, ErrHeaderTooLarge
		}
		if off+i+1 > lim.MaxHead {
			return nil, skipped, ErrHeaderTooLarge
		}
		off += i + 1
	}
}

// FuzzChunkedReader: the chunked reader never panics, fails only with
// ErrMalformedChunk or io.ErrUnexpectedEOF, and when it reaches the end it
// has read exactly the body, no byte past its terminator: the bytes read
// decode alone to the same body, one byte fewer do not, and the rest is
// left in the reader. net/http's own decoder agrees on the body.
func FuzzChunkedReader(f *testing.F) {
	for _, s := range []string{"5\r\nhello\r\n0\r\n\r\n", "5;a=\"b\"\r\nhello\r\n0\r\nX: y\r\n\r\nGET", "0\r\n\r\n", "a\r\n0123456789\r\n0\r\n\r\n\r\n",
		"5 ;a\r\nhello\r\n0\r\n\r\n", "1\r\nx\r\n00000000000000000\r\n\r\n"} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxLine: 64, MaxHead: 256}
	f.Fuzz(func(t *testing.T, in []byte) {
		body, n, err := decodeChunked(in, lim)
		if err != nil {
			if !errors.Is(err, ErrMalformedChunk) && err != io.ErrUnexpectedEOF {
				t.Fatalf("error %v", err)
			}
			return
		}
		if n < 5 || !bytes.HasSuffix(in[:n], []byte("\r\n\r\n")) && !bytes.HasSuffix(in[:n], []byte("\r\n")) {
			t.Fatalf("read %q, which does not end a body", in[:n])
		}
		if alone, m, err := decodeChunked(in[:n], lim); err != nil || m != n || !bytes.Equal(alone, body) {
			t.Fatalf("the %d bytes read decode alone to %q, %d bytes, %v; want %q", n, alone, m, err, body)
		}
		if _, _, err := decodeChunked(in[:n-1], lim); err != io.ErrUnexpectedEOF {
			t.Fatalf("one byte short of %q: %v, want io.ErrUnexpectedEOF", in[:n], err)
		}
		std, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in[:n])))
		if err != nil || !bytes.Equal(std, body) {
			t.Fatalf("net/http decodes %q to %q, %v; want %q", in[:n], std, err, body)
		}
		again := fmt.Appendf(nil, "%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		if len(body) == 0 {
			again = []byte("0\r\n\r\n")
		}
		if round, _, err := decodeChunked(again, lim); err != nil || !bytes.Equal(round, body) {
			t.Fatalf("re-encoded %q decodes to %q, %v", again, round, err)
		}
	})
}

// decodeChunked decodes a body at the start of in, and tells how many bytes
// of in it read.
func decodeChunked(in []byte, lim Limits) (body []byte, n int, err error) {
	br := bufio.NewReaderSize(bytes.NewReader(in), 16)
	body, err = io.ReadAll(NewChunkedReader(br, lim))
	rest, _ := io.ReadAll(br)
	return body, len(in) - len(rest), err
}
