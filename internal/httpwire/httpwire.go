// Package httpwire reads HTTP/1.x message heads off the wire for shoal's
// HTTP/1.1 front end, parses them, and classifies each request for HTTP
// desync (request smuggling) the way AWS Application Load Balancer does.
//
// ALB classifies every request with http-desync-guardian
// (github.com/aws/http-desync-guardian) and writes the outcome in the
// access log's "classification" and "classification_reason" fields. This
// package reproduces guardian's analysis of a raw request, then gives the
// front end values that are safe to write again: the front end never
// forwards the client's bytes, it writes a new head from Request's fields.
//
//	bufio.Reader ─▶ ReadHead ─▶ head ─▶ ParseRequest  ─▶ *Request: fields, framing, Verdict
//	                                 └▶ ParseResponse ─▶ *Response
//	bufio.Reader ─▶ NewChunkedReader ─▶ the decoded body, then io.EOF
//
// # Classes and modes
//
//   - Compliant: the request complies with RFC 7230 and poses no known
//     security threat.
//   - Acceptable: it does not comply with RFC 7230 but poses no known
//     security threat.
//   - Ambiguous: it does not comply with RFC 7230 and poses a risk, as web
//     servers and proxies may handle it differently.
//   - Severe: it poses a high security risk.
//
// What the front end does with each class, per desync mitigation mode:
//
//	class       monitor    defensive                                strictest
//	Compliant   forwarded  forwarded                                forwarded
//	Acceptable  forwarded  forwarded                                400, connection closed
//	Ambiguous   forwarded  forwarded, then the client and target   400, connection closed
//	                       connections are closed
//	Severe      forwarded  400, connection closed                   400, connection closed
//
// Strictest refuses Acceptable requests too, as ALB's documentation says
// ("strictest mode ... ensures that your application receives only
// requests that comply with RFC 7230") and guardian's (docs/README.md:
// Acceptable is "Blocked" in strictest mode). See the proxy package's
// desyncMode.decide.
//
// A request that cannot be read, framed or safely forwarded at all gets an
// error instead, and the same answer in every mode, its connection closed:
// 414 for a request line past the limit (ErrLineTooLong), 431 for headers
// past it (ErrHeaderTooLarge), 400 for anything else (ErrMalformed).
//
// # Classification reasons
//
// The reason is the classification_reason ALB logs. When several apply, the
// most severe class wins, and within it the first reason found in
// guardian's order: line ends and folding, then each header in turn, then
// Transfer-Encoding and Content-Length, then the method, the version, the
// request-target. "(error)" marks the reasons of requests ParseRequest also
// refuses: their Verdict is for the access log.
//
//	Acceptable
//	  NonCrLfLineTermination              a line ends with a bare LF, not CRLF
//	  NonCompliantHeader                  a header name holds white space, a control, separator or non-ASCII character, or a value a control character
//	  SpaceInUri                          the request-target holds an unencoded space
//	  NonCompliantVersion                 white space after the version, or HTTP/1.2 to HTTP/1.9
//	  GetHeadZeroContentLength            a GET or HEAD request with "Content-Length: 0"
//	Ambiguous
//	  MultilineHeader                     a header folded over several lines (obs-fold), but Content-Type
//	  MissingHeaderColon                  a header line without a colon (error)
//	  EmptyHeader                         an empty or white-space header name
//	  SuspiciousHeader                    a name that normalises to Transfer-Encoding or Content-Length: "Transfer_Encoding", "Content-Length ", "\x01Transfer-Encoding", "Transfer-Encodıng"
//	  AmbiguousUri                        the request-target holds a control character (tab, DEL, \x01)
//	  UndefinedContentLengthSemantics     a GET or HEAD request with a non-zero Content-Length
//	  UndefinedTransferEncodingSemantics  a GET, HEAD or HTTP/1.0 request with Transfer-Encoding
//	  DuplicateContentLength              several Content-Length headers of the same value
//	  BothTeClPresent                     both Transfer-Encoding and Content-Length
//	Severe
//	  BadHeader                           a header name or value holds NUL or CR
//	  BadUri                              the request-target holds NUL or CR
//	  BadMethod                           the method is not a token (error)
//	  BadVersion                          the version is not HTTP/1.x (error)
//	  MultipleContentLength               Content-Length headers of different values (error, unless one was a look-alike, dropped)
//	  BadContentLength                    a Content-Length that is not a number (error)
//	  MultipleTransferEncodingChunked     chunked twice in a row: "chunked, chunked"
//	  BadTransferEncoding                 a coding other than chunked, compress, deflate, gzip, identity, or an empty list element (error when the final coding is not chunked)
//
// These are all the reasons ALB documents for its access log, and three of
// guardian's raw-parsing reasons (NonCrLfLineTermination, MultilineHeader,
// MissingHeaderColon). Its other three, MissingUri, PartialHeaderLine and
// MissingLastEmptyLine, describe heads that ReadHead never returns or that
// ParseRequest refuses with no reason given.
//
// # What the front end receives
//
// Every field is safe to write back: no CR, LF or NUL is left in the
// method, the target, a header name or value, and writing them back as
// "METHOD SP TARGET SP HTTP/1.1", the header fields and the framing gives a
// request this package reads back the same, Compliant or Acceptable (but
// for a GET or HEAD with a body, which stays what it is).
//
//   - A header value's CR and NUL become SP (RFC 9110 §5.5); white space
//     around it is trimmed; an obs-fold becomes one SP (RFC 9112 §5.2).
//   - A header whose name is not a token (white space before the colon, a
//     control, separator or non-ASCII character, an empty name) is
//     classified, then dropped from Header. So is a look-alike of
//     Transfer-Encoding or Content-Length (SuspiciousHeader) even when its
//     name is a token ("Transfer_Encoding"): a target that reads "_" as "-"
//     would frame the body otherwise than shoal. So are folded lines before
//     the first header (RFC 9112 §2.2).
//   - The request-target's control characters are percent-encoded ("%09");
//     its spaces are kept.
//   - Content-Length is never in Header: ContentLength has the length, and
//     the front end writes the framing. Nor is the chunked coding: when
//     Chunked, Header["Transfer-Encoding"] holds only the known codings
//     applied before it ("gzip" of "gzip, chunked"), and the front end
//     writes "Transfer-Encoding: chunked" after the header fields.
//   - Host stays in Header as received; Request.Host is the host to route
//     by, the authority of an absolute-form target when there is one.
//
// # Where this differs from ALB's guardian
//
// Guardian classifies; the engine in front of it parses and frames. Here
// one parser does both, and refuses what it cannot frame or forward
// safely, where guardian would only classify:
//
//   - a header line without a colon (guardian: Ambiguous);
//   - a Transfer-Encoding whose final coding is not chunked ("gzip",
//     "identity", "chunked, gzip"; guardian: Compliant, or BothTeClPresent
//     with a Content-Length);
//   - an empty Content-Length (guardian reads it as 0), or one past 2^63-1
//     (guardian takes up to 2^64-1);
//   - HTTP/0.9 or no version (guardian: Acceptable), HTTP/2 or later in an
//     HTTP/1 request line (guardian does not analyse it), an empty method
//     (guardian lets it through): all BadVersion or BadMethod here;
//   - an empty request-target, or one of none of RFC 9112's forms;
//   - more than one Host header, or a Host that is not a valid host (RFC
//     9112 §3.2).
//
// Besides, SuspiciousHeader also covers the name followed by white space
// and more ("Transfer-Encoding x"), as guardian's own test cases expect of
// it; a line that starts with white space is a fold, so a header name with
// white space before it ("  Transfer-Encoding") reads as MultilineHeader,
// as guardian's raw parser reads it. A header line with a bare LF in its
// value is two lines here, a fold: MultilineHeader where guardian, given
// the value as one field, says BadHeader.
//
// Responses from targets are parsed strictly by ParseResponse: anything
// malformed is an error, and the front end answers 502.
package httpwire

import (
	"errors"
	"strconv"
)

// Class is how dangerous a request is, in ALB's four classes.
type Class uint8

// The classes, from the safest.
const (
	Compliant Class = iota
	Acceptable
	Ambiguous
	Severe
)

// String is the class as ALB's access log writes it.
func (c Class) String() string {
	switch c {
	case Compliant:
		return "Compliant"
	case Acceptable:
		return "Acceptable"
	case Ambiguous:
		return "Ambiguous"
	case Severe:
		return "Severe"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Verdict is a request's classification; Reason is ALB's
// classification_reason ("" when Compliant). When several apply, the most
// severe class wins (first reason found of that class).
type Verdict struct {
	Class  Class
	Reason string
}

// raise makes v the verdict of class c for reason when c is more severe than
// v's: the first reason found at the highest class is kept.
func (v *Verdict) raise(c Class, reason string) {
	if c > v.Class {
		*v = Verdict{Class: c, Reason: reason}
	}
}

// Limits bound a head. Zero fields mean the defaults, ALB's: MaxLine 16 KiB
// (the request or status line without its line end; a header field from
// its first byte to the end of its last obs-fold continuation, without the
// final line end), MaxHead 64 KiB (the whole head, line ends and the empty
// line that ends it included).
type Limits struct {
	MaxLine, MaxHead int
}

// The default limits, ALB's ("request line 16 K, single header 16 K, whole
// header 64 K").
const (
	defaultMaxLine = 16 << 10
	defaultMaxHead = 64 << 10
)

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = defaultMaxLine
	}
	if l.MaxHead <= 0 {
		l.MaxHead = defaultMaxHead
	}
	return l
}

// The errors, each mapped to one answer by the front end.
var (
	// ErrLineTooLong: a request line past MaxLine (414).
	ErrLineTooLong = errors.New("request line too long")
	// ErrHeaderTooLarge: one header line past MaxLine, or the whole head
	// past MaxHead (431).
	ErrHeaderTooLarge = errors.New("header too large")
	// ErrMalformed: not parseable as HTTP/1.x at all (400); errors wrap it
	// with the detail.
	ErrMalformed = errors.New("malformed HTTP message")
	// ErrMalformedChunk: a bad chunk size, extension, CRLF or trailer in a
	// chunked body (400 from a client, 502 from a target).
	ErrMalformedChunk = errors.New("malformed chunked encoding")
)
