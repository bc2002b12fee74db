package httpwire

import "strings"

// The classification reasons, as ALB's access log writes them.
const (
	reasonNonCrLf            = "NonCrLfLineTermination"
	reasonMultiline          = "MultilineHeader"
	reasonMissingColon       = "MissingHeaderColon"
	reasonNonCompliantHeader = "NonCompliantHeader"
	reasonBadHeader          = "BadHeader"
	reasonEmptyHeader        = "EmptyHeader"
	reasonSuspiciousHeader   = "SuspiciousHeader"
	reasonSpaceInURI         = "SpaceInUri"
	reasonAmbiguousURI       = "AmbiguousUri"
	reasonBadURI             = "BadUri"
	reasonBadMethod          = "BadMethod"
	reasonNonCompliantVer    = "NonCompliantVersion"
	reasonBadVersion         = "BadVersion"
	reasonGetHeadZeroCL      = "GetHeadZeroContentLength"
	reasonUndefinedCL        = "UndefinedContentLengthSemantics"
	reasonUndefinedTE        = "UndefinedTransferEncodingSemantics"
	reasonMultipleCL         = "MultipleContentLength"
	reasonDuplicateCL        = "DuplicateContentLength"
	reasonBadCL              = "BadContentLength"
	reasonMultipleChunked    = "MultipleTransferEncodingChunked"
	reasonBadTE              = "BadTransferEncoding"
	reasonBothTECL           = "BothTeClPresent"
)

// Byte classes, as guardian's build.rs draws them.
var (
	tchars     = byteSet("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	valueBytes = func() (t [256]bool) { // VCHAR, SP, HTAB, obs-text
		for b := range 256 {
			t[b] = b == '\t' || (b >= ' ' && b != 0x7f)
		}
		return t
	}()
)

func byteSet(s string) (t [256]bool) {
	for i := range len(s) {
		t[s[i]] = true
	}
	return t
}

func isTchar(b byte) bool { return tchars[b] }

// isBad: the characters that are never acceptable in a header or a
// request-target, the sign of a parser error or a crafted request.
func isBad(b byte) bool { return b == '\r' || b == '\n' || b == 0 }

func isWS(b byte) bool { return b == ' ' || b == '\t' }

// isCTL: the control characters, DEL included.
func isCTL(b byte) bool { return b < ' ' || b == 0x7f }

func isToken(s string) bool {
	for i := range len(s) {
		if !tchars[s[i]] {
			return false
		}
	}
	return s != ""
}

func trimOWS(s string) string {
	for s != "" && isWS(s[0]) {
		s = s[1:]
	}
	for s != "" && isWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// tier is guardian's classification of one header: compliant, non-compliant
// (a control or non-token character) or bad (NUL, CR, LF).
type tier uint8

const (
	tierCompliant tier = iota
	tierNonCompliant
	tierBad
)

// nameTier and valueTier are guardian's tiers of a header name (tchars are
// compliant) and of a value (VCHAR, SP, HTAB and obs-text are); a header's
// tier is the worse of the two.
func nameTier(name string) tier {
	t := tierCompliant
	for i := range len(name) {
		if !tchars[name[i]] {
			if isBad(name[i]) {
				return tierBad
			}
			t = tierNonCompliant
		}
	}
	return t
}

func valueTier(value string) tier {
	t := tierCompliant
	i := 0
	for ; i+8 <= len(value) && plainWord(value[i:i+8]); i += 8 {
	}
	for ; i < len(value); i++ {
		if !valueBytes[value[i]] {
			if isBad(value[i]) {
				return tierBad
			}
			t = tierNonCompliant
		}
	}
	return t
}

// plainWord tells whether 8 bytes are all SP to '~' or obs-text, 8 at a
// time: values are long, and almost always plain.
func plainWord(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	below := (w - ones*' ') &^ w & highs // a byte under SP
	del := w ^ (ones * 0x7f)
	del = (del - ones) &^ del & highs // a DEL
	return below|del == 0
}

// analysis is guardian's classification of one request, kept in phases so
// that "the first reason found" follows guardian's order whatever order the
// head is read in: line ends and folding, the headers, Transfer-Encoding
// and Content-Length, the method, the version, the request-target.
type analysis struct {
	lines, headers, tecl, method, version, uri Verdict

	// The values of the headers that are, or look like, Transfer-Encoding
	// and Content-Length (guardian's te_indexes and cl_indexes), checked as
	// they come, each kind in a phase of its own.
	te, cl           Verdict
	teCount, clCount int
	chunked          bool   // the last transfer coding seen was chunked
	hasCL            bool   // a Content-Length was a number
	clValue          uint64 // the first such
}

// verdict merges the phases.
func (a *analysis) verdict() Verdict {
	v := a.lines
	for _, p := range [...]Verdict{a.headers, a.tecl, a.method, a.version, a.uri} {
		v.raise(p.Class, p.Reason)
	}
	return v
}

// header classifies one header as guardian sees it: name and value raw, as
// received, nt the name's tier. It tells whether the name looks like
// Transfer-Encoding or Content-Length without being either, and whether the
// value holds NUL, CR or LF. knownDistant skips the comparison for names
// known to be neither.
func (a *analysis) header(name, value string, nt tier, knownDistant bool) (lookalike, badValue bool) {
	te, cl := distant, distant
	if !knownDistant {
		te = similar(nameTE, name)
		if te == distant {
			cl = similar(nameCL, name)
		}
	}
	essential := te == identical || cl == identical
	vt := valueTier(value)
	t := max(nt, vt)
	switch t {
	case tierBad:
		a.headers.raise(Severe, reasonBadHeader)
	case tierNonCompliant:
		a.headers.raise(Acceptable, reasonNonCompliantHeader)
	}
	trimmed := trimOWS(name)
	switch {
	case trimmed == "" || trimmed[0] == ':':
		a.headers.raise(Ambiguous, reasonEmptyHeader)
	case !essential && t != tierBad:
		if te == sameLetters {
			a.transferEncoding(value)
		} else if cl == sameLetters {
			a.contentLength(value)
		}
		if te == sameLetters || cl == sameLetters {
			a.headers.raise(Ambiguous, reasonSuspiciousHeader)
		}
	case te == identical:
		a.transferEncoding(value)
	case cl == identical:
		a.contentLength(value)
	}
	return te == sameLetters || cl == sameLetters, vt == tierBad
}

// transferEncoding checks each coding of a Transfer-Encoding: a known one,
// and chunked never twice in a row.
func (a *analysis) transferEncoding(v string) {
	a.teCount++
	for item := range strings.SplitSeq(v, ",") {
		coding, ok := knownCoding(item)
		if !ok {
			a.te.raise(Severe, reasonBadTE)
			continue
		}
		if a.chunked && coding == "chunked" {
			a.te.raise(Severe, reasonMultipleChunked)
		}
		a.chunked = coding == "chunked"
	}
}

// contentLength checks a Content-Length value: a number, and the same as
// the first.
func (a *analysis) contentLength(v string) {
	a.clCount++
	n, ok := parseUint(trimOWS(v))
	switch {
	case !ok:
		a.cl.raise(Severe, reasonBadCL)
	case a.hasCL && n != a.clValue:
		a.cl.raise(Severe, reasonMultipleCL)
	case a.hasCL:
		a.cl.raise(Ambiguous, reasonDuplicateCL)
	default:
		a.clValue, a.hasCL = n, true
	}
}

// framing is guardian's verify_te_cl_headers, once every header is in.
func (a *analysis) framing(method string, http10 bool) {
	if a.teCount == 0 && a.clCount == 0 {
		return
	}
	if http10 && a.teCount > 0 {
		a.tecl.raise(Ambiguous, reasonUndefinedTE)
		return
	}
	a.tecl = a.te
	a.tecl.raise(a.cl.Class, a.cl.Reason)
	hasTE := a.teCount > 0
	if method == "GET" || method == "HEAD" {
		if hasTE {
			a.tecl.raise(Ambiguous, reasonUndefinedTE)
		}
		if a.hasCL && a.clValue == 0 {
			a.tecl.raise(Acceptable, reasonGetHeadZeroCL)
		} else if a.hasCL {
			a.tecl.raise(Ambiguous, reasonUndefinedCL)
		}
	}
	if a.hasCL && hasTE {
		a.tecl.raise(Ambiguous, reasonBothTECL)
	}
}

// knownCoding is guardian's is_valid_te: the coding of a list item, its
// parameters and white space dropped, when it is one guardian knows.
func knownCoding(item string) (string, bool) {
	if i := strings.IndexByte(item, ';'); i >= 0 {
		item = item[:i]
	}
	item = trimOWS(item)
	for _, c := range [...]string{"chunked", "compress", "deflate", "gzip", "identity"} {
		if asciiEqualFold(item, c) {
			return c, true
		}
	}
	return "", false
}

// parseUint is guardian's parse_num: decimal digits only, within 64 bits.
// The empty string is 0, as guardian reads it.
func parseUint(s string) (uint64, bool) {
	var n uint64
	for i := range len(s) {
		d := s[i] - '0'
		if d > 9 || n > (1<<64-1-uint64(d))/10 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	return n, true
}

// checkMethod: a method is a token.
func (a *analysis) checkMethod(m string) {
	if !isToken(m) {
		a.method.raise(Severe, reasonBadMethod)
	}
}

// checkVersion is guardian's check_version on the version as sent, white
// space after it included.
func (a *analysis) checkVersion(v string) {
	t := trimOWS(v)
	switch {
	case t == "HTTP/0.9":
		a.version.raise(Acceptable, reasonNonCompliantVer)
	case len(t) != 8 || !strings.HasPrefix(t, "HTTP/1.") || t[7] < '0' || t[7] > '9':
		a.version.raise(Severe, reasonBadVersion)
	case len(t) != len(v) || t[7] > '1':
		a.version.raise(Acceptable, reasonNonCompliantVer)
	}
}

// checkURI is guardian's check_uri: NUL, CR and LF are Severe, other
// control characters Ambiguous, a space Acceptable.
func (a *analysis) checkURI(u string) {
	for i := range len(u) {
		switch b := u[i]; {
		case b > ' ' && b != 0x7f:
		case isBad(b):
			a.uri.raise(Severe, reasonBadURI)
			return
		case b == ' ':
			a.uri.raise(Acceptable, reasonSpaceInURI)
		default:
			a.uri.raise(Ambiguous, reasonAmbiguousURI)
		}
	}
}

func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		if lower(s[i]) != lower(t[i]) {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
