package httpwire

import (
	"errors"
	"testing"
)

// corpusCase is one raw request and how ALB's classifier, as reproduced
// here, takes it. from names the http-desync-guardian test case it comes
// from (file: case name), when it does; their YAML gives the request as
// parsed fields, which guardian's own test also turns into a raw request
// the way guardian() does. note says why the outcome differs from the
// YAML's expectation, when it does.
type corpusCase struct {
	name   string
	raw    string
	class  Class
	reason string
	bad    bool // ParseRequest fails with ErrMalformed (400 in every mode)
	from   string
	note   string
}

var corpus = []corpusCase{
	// Compliant controls.
	{name: "browser GET", raw: browser, class: Compliant},
	{name: "no headers", raw: guardian("GET", "/foo/bar", "HTTP/1.1"), class: Compliant, from: "rfc-compliant: No headers"},
	{name: "TE chunked", raw: post("Transfer-Encoding", "chunked"), class: Compliant, from: "rfc-compliant: Valid Transfer-Encoding (chunked)"},
	{name: "CL", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "Content-Length", "1000"), class: Compliant, from: "rfc-compliant: Valid Content-Length"},
	{name: "obs-text value", raw: post("Transfer-Encoding", "chunked", "My-Custom-Header", "\t\t\tCustom-Value;\x60\x85\x93\xA0"), class: Compliant, from: "rfc-compliant: Valid Transfer-Encoding (chunked) + custom header (non-ascii)"},
	{name: "every tchar in a name", raw: post("My-Custom-Header.!#$%&'*+^_`|~0123456789", "v"), class: Compliant, from: "rfc-compliant: Valid custom header with tchar in name and obs-text"},
	{name: "underscore in a name", raw: post("My_Custom_Header", "v"), class: Compliant, from: "rfc-compliant: Valid custom header with underscore in name"},
	{name: "TE codings one per header", raw: post("Transfer-Encoding", "gzip", "Transfer-Encoding", "deflate", "Transfer-Encoding", "identity", "Transfer-Encoding", "compress", "Transfer-Encoding", "chunked"), class: Compliant, from: "rfc-compliant: Different Transfer-Encoding headers"},
	{name: "TE codings in a list", raw: post("Transfer-Encoding", "gzip , deflate , \tidentity\t, compress\t, chunked"), class: Compliant, from: "rfc-compliant: Different Transfer-Encoding headers combined"},
	{name: "TE codings with parameters", raw: post("Transfer-Encoding", "   gzip   ;   ", "Transfer-Encoding", "deflate\t\t;\t\t", "Transfer-Encoding", "\t\t\t\tchunked;custom_param;\t\t\t\t"), class: Compliant, from: "rfc-compliant: Transfer-Encoding with a param"},
	{name: "URL of many delimiters", raw: guardian("POST", "/user:pass123@www.example.com:8080/site/index.php?action=login%20++~!@#$%^&*()_+:<>?,./;'[]{}`~\"|&prev=index#form", "HTTP/1.1", "Accept", "*/*"), class: Compliant, from: "rfc-compliant: Compliant URL"},
	{name: "UTF-8 in the target", raw: guardian("GET", "/странные-символы/поддерживаются", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Compliant, from: "rfc-compliant: International in URI"},
	{name: "CL with white space", raw: guardian("PUT", "/test.html", "HTTP/1.1", "Connection", " keep-alive", "Content-Length", " 22220  "), class: Compliant, from: "more-compliant-tests: Has a CL in PUT OK"},
	{name: "TE value naming a header", raw: post("Content-Length", " 4000000", "X-test", "Transfer-Encoding: chunked"), class: Compliant, from: "more-compliant-tests: Large Size OK"},
	{name: "TE deflate, identity, chunked", raw: post("Transfer-Encoding", " deflate, identity, chunked"), class: Compliant, from: "more-compliant-tests: Transfer-Encoding: identity and chunked OK"},
	{name: "encoded tab in the target", raw: guardian("GET", "/path-%09-uri", "HTTP/1.1"), class: Compliant, from: "uri-specific-test-cases: %09 in URI is OK"},
	{name: "encoded CR in the target", raw: guardian("GET", "/path-%0D-uri", "HTTP/1.1"), class: Compliant, from: "uri-specific-test-cases: %0D in URI is OK"},
	{name: "fragment in the target", raw: guardian("GET", "/a?b=c#frag", "HTTP/1.1", "Host", "example.com"), class: Compliant},
	{name: "absolute-form", raw: guardian("GET", "http://example.com:8080/a", "HTTP/1.1", "Host", "example.com"), class: Compliant},
	{name: "OPTIONS *", raw: guardian("OPTIONS", "*", "HTTP/1.1", "Host", "example.com"), class: Compliant},
	{name: "CONNECT authority-form", raw: guardian("CONNECT", "example.com:443", "HTTP/1.1", "Host", "example.com:443"), class: Compliant},
	{name: "HTTP/1.0", raw: guardian("GET", "/", "HTTP/1.0"), class: Compliant},
	{name: "lower-case method", raw: guardian("get", "/", "HTTP/1.1"), class: Compliant},
	{name: "TE tab before chunked", raw: post("Transfer-Encoding", "\tchunked"), class: Compliant},
	{name: "TE upper case", raw: post("Transfer-Encoding", "CHUNKED"), class: Compliant},
	{name: "Content-Type folded", raw: "POST /a HTTP/1.1\r\nContent-Type: multipart/mixed;\r\n boundary=x\r\nContent-Length: 0\r\n\r\n", class: Compliant, note: "guardian lets Content-Type fold (its message/http exception)"},
	{name: "leading zeros in CL", raw: post("Content-Length", "007"), class: Compliant},

	// Acceptable.
	{name: "bare LF", raw: "GET / HTTP/1.1\nHost: a\n\n", class: Acceptable, reason: "NonCrLfLineTermination"},
	{name: "bare LF on the empty line only", raw: "GET / HTTP/1.1\r\nHost: a\r\n\n", class: Acceptable, reason: "NonCrLfLineTermination"},
	{name: "space before a colon", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "x-my-custom-header ", "some value", "x-my-second-custom-header", "v"), class: Acceptable, reason: "NonCompliantHeader", from: "acceptable: No TE/CL headers, some others are non-compliant"},
	{name: "space before a colon, TE", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "x-my-custom-header ", "some value", "Transfer-Encoding", "chunked"), class: Acceptable, reason: "NonCompliantHeader", from: "acceptable: TE and some others are non-compliant"},
	{name: "control character in a name", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "\x01x-my-custom-header", "some value", "Transfer-Encoding", "chunked"), class: Acceptable, reason: "NonCompliantHeader", from: "acceptable: A non-essential header with a non-printable character (x01)"},
	{name: "space before a colon, CL", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "x-my-custom-header ", "some value", "Content-Length", "10000"), class: Acceptable, reason: "NonCompliantHeader", from: "acceptable: CL and some others are non-compliant"},
	{name: "GET CL 0", raw: guardian("GET", "/foo/bar", "HTTP/1.1", "Content-Length", "0"), class: Acceptable, reason: "GetHeadZeroContentLength", from: "acceptable: Get with a body and Content-Length:0"},
	{name: "HEAD CL 0", raw: guardian("HEAD", "/foo/bar", "HTTP/1.1", "Content-Length", "0"), class: Acceptable, reason: "GetHeadZeroContentLength", from: "acceptable: Get with a body and Content-Length:0 (HEAD)"},
	{name: "HTTP/1.2", raw: guardian("GET", "/foo/bar", "HTTP/1.2", "X-My-Header", "some value"), class: Acceptable, reason: "NonCompliantVersion", from: "acceptable: Unknown but OK HTTP/1.2"},
	{name: "HTTP/1.1 then a space", raw: guardian("GET", "/endpoint_a", "HTTP/1.1 ", "X-Forwarded-For", "1.1.1.1"), class: Acceptable, reason: "NonCompliantVersion", from: "uri-specific-test-cases: Extra spaces in version"},
	{name: "HTTP/1.1 then a tab", raw: "GET / HTTP/1.1\t\r\n\r\n", class: Acceptable, reason: "NonCompliantVersion"},
	{name: "space in the target", raw: guardian("GET", "/endpoint_a?param=not escaped spaces", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Acceptable, reason: "SpaceInUri", from: "uri-specific-test-cases: [space] in URI"},
	{name: "a target holding a version", raw: guardian("GET", "/endpoint_a", "HTTP/1.1 HTTP/1.1"), class: Acceptable, reason: "SpaceInUri", from: "uri-specific-test-cases: [space] in URI resulted in a bad version", note: "the YAML's parsed form says BadVersion; raw, the last token is the version, as guardian's raw parser also reads it"},
	{name: "control character in a value", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "Some-Custom-Header", "\x01Non-Rfc Compliant", "Transfer-Encoding", "chunked"), class: Acceptable, reason: "NonCompliantHeader", from: "bad-header-characters: Some-Header: \\x01value"},
	{name: "control character after a name", raw: post("Some-Custom-Header\x01", "Non-Rfc Compliant", "Transfer-Encoding", "chunked"), class: Acceptable, reason: "NonCompliantHeader", from: "bad-header-characters: Some-Header\\x01"},
	{name: "DEL in a value", raw: post("X-A", "b\x7fc"), class: Acceptable, reason: "NonCompliantHeader"},
	{name: "non-ASCII name", raw: post("X-Föö", "bar"), class: Acceptable, reason: "NonCompliantHeader"},
	{name: "separator in a name", raw: post("X(Foo)", "bar"), class: Acceptable, reason: "NonCompliantHeader"},
	{name: "space in a name", raw: post("X Foo", "bar"), class: Acceptable, reason: "NonCompliantHeader"},
	{name: "bare LF before a NonCompliantHeader", raw: "GET / HTTP/1.1\r\nX Foo: bar\r\nA: b\n\r\n", class: Acceptable, reason: "NonCrLfLineTermination", note: "guardian reports line ends before headers"},

	// Ambiguous.
	{name: "obs-fold", raw: "GET / HTTP/1.1\r\nX-Foo: a\r\n b\r\n\r\n", class: Ambiguous, reason: "MultilineHeader"},
	{name: "obs-fold with a tab", raw: "GET / HTTP/1.1\r\nX-Foo: a\r\n\tb\r\n\r\n", class: Ambiguous, reason: "MultilineHeader"},
	{name: "folds with LF", raw: post("Content-Length", "1000", "Some-Custom-Header", "Multi-line values\n are \n deprecated. E.g. it may contain \n Transfer-Encoding: chunked"), class: Ambiguous, reason: "MultilineHeader", from: "severe: Multiline headers are deprecated (with \\n only)", note: "raw, an LF always ends a line: the value is folded, not Bad"},
	{name: "folds with CRLF", raw: post("Content-Length", "1000", "Some-Custom-Header", "Multi-line values\r\n are \n deprecated. E.g. it may contain \n Transfer-Encoding: chunked"), class: Ambiguous, reason: "MultilineHeader", from: "severe: Multiline headers are deprecated", note: "as above"},
	{name: "LF in a value", raw: post("Content-Length", "1000", "Some-Custom-Header", "Parser error\n must not contain\n symbols."), class: Ambiguous, reason: "MultilineHeader", from: "severe: Http Engine missed LF", note: "as above"},
	{name: "TE space colon", raw: post("Transfer-Encoding ", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with a trailing space in name"},
	{name: "TE tab colon", raw: post("Transfer-Encoding\t", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with a trailing tab in name"},
	{name: "\\x01TE", raw: post("\x01Transfer-Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: \\x01Transfer-Encoding with a non-printable character"},
	{name: "\\x01\\x01TE", raw: post("\x01\x01Transfer-Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: \\x01\\x01Transfer-Encoding with a non-printable character"},
	{name: "\\x01\\x01CL", raw: post("\x01\x01Content-Length", "1"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: \\x01\\x01Content-Length with a non-printable character"},
	{name: "\\x01CL", raw: post("\x01Content-Length", "1"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: \\x01Content-Length with a non-printable character"},
	{name: "TE\\x01", raw: post("Some-Custom-Header", "Non-Rfc Compliant", "Transfer-Encoding\x01", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "bad-header-characters: Transfer-Encoding\\x01"},
	{name: "CL\\x01", raw: post("Some-Custom-Header", "Non-Rfc Compliant", "Content-Length\x01", "1000"), class: Ambiguous, reason: "SuspiciousHeader", from: "bad-header-characters: Content-Length\\x01"},
	{name: "TE space inside", raw: post("Transfer- Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with a space in the middle"},
	{name: "Transfer_Encoding", raw: post("Transfer_Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer_Encoding with underscore."},
	{name: "Content_Length", raw: post("Content_Length", "1000"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Content_Length with underscore."},
	{name: "duplicate CL", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "Content-Length", "1000", "Content-Length", "1000"), class: Ambiguous, reason: "DuplicateContentLength", from: "ambiguous: Duplicate Content-Length"},
	{name: "duplicate CL with white space", raw: post("Content-Length", " 5", "Content-Length", " 5"), class: Ambiguous, reason: "DuplicateContentLength", from: "real-life-test-cases: Two Identical Fields - CL"},
	{name: "TE chunked and CL", raw: post("Transfer-Encoding", "chunked", "Content-Length", "100"), class: Ambiguous, reason: "BothTeClPresent", from: "ambiguous: Both Transfer-Encoding:chunked and Content-Length"},
	{name: "CL then TE chunked", raw: post("Content-Length", " 4", "Transfer-Encoding", " chunked"), class: Ambiguous, reason: "BothTeClPresent", from: "real-life-test-cases: Chunks Priority on Content-Length"},
	{name: "GET with CL", raw: guardian("GET", "/foo/bar", "HTTP/1.1", "Content-Length", "1000"), class: Ambiguous, reason: "UndefinedContentLengthSemantics", from: "ambiguous: Get with a body and Content-Length"},
	{name: "GET with TE", raw: guardian("GET", "/foo/bar", "HTTP/1.1", "Transfer-Encoding", "chunked"), class: Ambiguous, reason: "UndefinedTransferEncodingSemantics", from: "ambiguous: Get with a body and Transfer-Encoding"},
	{name: "HEAD with CL", raw: guardian("HEAD", "/foo/bar", "HTTP/1.1", "Content-Length", "1000"), class: Ambiguous, reason: "UndefinedContentLengthSemantics", from: "ambiguous: Head with a body and Content-Length"},
	{name: "HEAD with TE", raw: guardian("HEAD", "/foo/bar", "HTTP/1.1", "Transfer-Encoding", "chunked"), class: Ambiguous, reason: "UndefinedTransferEncodingSemantics", from: "ambiguous: Head with a body and Transfer-Encoding"},
	{name: "GET with CL, browser", raw: guardian("GET", "/test.html", "HTTP/1.1", "Accept", " */*", "Content-Length", " 22"), class: Ambiguous, reason: "UndefinedContentLengthSemantics", from: "real-life-test-cases: Has a CL in GET"},
	{name: "TE space colon, and CL", raw: post("Transfer-Encoding ", "chunked", "Content-Length", "1000"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding[white-space] and Content-Length"},
	{name: "TE tab colon, and CL", raw: post("Transfer-Encoding\t", " chunked", "Content-Length", " 4"), class: Ambiguous, reason: "SuspiciousHeader", from: "real-life-test-cases: Transfer-Encoding[tab]: chunked"},
	{name: "fold mimicking TE, and CL", raw: post(" Transfer-Encoding", "chunked", "Content-Length", "1000"), class: Ambiguous, reason: "MultilineHeader", from: "ambiguous: [white-space]Transfer-Encoding and Content-Length", note: "raw, a line starting with SP is a fold: reported first, as guardian's raw parser does"},
	{name: "folds mimicking TE and CL", raw: post(" Transfer-Encoding", "chunked", " Content-Length", "1000"), class: Ambiguous, reason: "MultilineHeader", from: "ambiguous: [white-space]Transfer-Encoding and [white-space]Content-Length", note: "as above"},
	{name: "TE and CL, spaces before the colons", raw: post("Transfer-Encoding ", "chunked", "Content-Length ", "1000"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding[white-space] and Content-Length[white-space]"},
	{name: "TE x", raw: post("Transfer-Encoding x", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding[white-space] with a printable character"},
	{name: "te XY", raw: post("transfer-encoding XY", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: transfer-encoding[white-space] with printable characters"},
	{name: "TE space \\x01", raw: post("Transfer-Encoding \x01", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding[white-space] with a non-printable character"},
	{name: "empty name", raw: post("", "chunked", "Content-Length", "1000"), class: Ambiguous, reason: "EmptyHeader", from: "ambiguous: Empty header name"},
	{name: "name starting with a colon", raw: post(":SomeHeader:Transfer-Encoding:", "chunked", "Content-Length", "1000"), class: Ambiguous, reason: "EmptyHeader", from: "ambiguous: Header name starts with :"},
	{name: "white space name", raw: post("   \t\t  ", "chunked", "Content-Length", "1000"), class: Ambiguous, reason: "MultilineHeader", from: "ambiguous: Only white-spaces header name", note: "raw, the line starts with white space: a fold, reported first"},
	{name: "white space name after a header", raw: "POST / HTTP/1.1\r\nX: a\r\n\t: chunked\r\n\r\n", class: Ambiguous, reason: "MultilineHeader"},
	{name: "HTTP/1.0 with TE", raw: guardian("POST", "/foo/bar", "HTTP/1.0", "Transfer-Encoding", "chunked"), class: Ambiguous, reason: "UndefinedTransferEncodingSemantics", from: "ambiguous: Transfer-Encoding for HTTP/1.0"},
	{name: "long s", raw: post("Tranſfer-Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding Latin Small Letter Long S"},
	{name: "dotless i", raw: post("Transfer-Encodıng", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding Latin Small Letter Dotless I"},
	{name: "hyphens", raw: post("Transfer---Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with multiple hyphens"},
	{name: "underscores", raw: post("Transfer___Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with multiple delimiters"},
	{name: "UTF-8 space before TE", raw: post("\u2003Transfer-Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with UTF8 spaces"},
	{name: "UTF-8 space after CL", raw: post("Content-Length\u2003", "1000"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Content-Length with UTF8 spaces"},
	{name: "UTF-8 dash", raw: post("Transfer\u2015Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with a UTF8 delimiter"},
	{name: "non-UTF-8 byte after TE", raw: post("Transfer-Encoding\x88", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Transfer-Encoding with arbitrary non-ASCII chars"},
	{name: "non-UTF-8 byte before CL", raw: post("\xa0Content-Length", "100"), class: Ambiguous, reason: "SuspiciousHeader", from: "ambiguous: Content-Length with arbitrary non-ASCII chars"},
	{name: "\\x01TE after a header", raw: post("Some-Custom-Header", "Non-Rfc Compliant", "\x01Transfer-Encoding", "chunked"), class: Ambiguous, reason: "SuspiciousHeader", from: "bad-header-characters: \\x01Transfer-Encoding"},
	{name: "\\x01CL after a header", raw: post("Some-Custom-Header", "Non-Rfc Compliant", "\x01Content-Length", "1000"), class: Ambiguous, reason: "SuspiciousHeader", from: "bad-header-characters: \\x01Content-Length"},
	{name: "GET TE with a NonCompliantHeader", raw: guardian("GET", "/foo/bar", "HTTP/1.1", "Some-Custom-Header", "Non Rfc -Compliant\x01", "Transfer-Encoding", "chunked"), class: Ambiguous, reason: "UndefinedTransferEncodingSemantics", from: "edge-cases: Non-compliant customer header does not shadow ambiguous Transfer-Encoding for GET"},
	{name: "HEAD CL with a NonCompliantHeader", raw: guardian("HEAD", "/foo/bar", "HTTP/1.1", "Some-Custom-Header", "Non Rfc Compliant\x01", "Content-Length", "9000"), class: Ambiguous, reason: "UndefinedContentLengthSemantics", from: "edge-cases: Non-compliant customer header does not shadow ambiguous Content-Length for HEAD"},
	{name: "GET CL and a tab in the target", raw: guardian("GET", "/foo/bar\t/baz", "HTTP/1.1", "Some-Custom-Header", "Non Rfc -Compliant\x01", "Content-Length", "9000"), class: Ambiguous, reason: "UndefinedContentLengthSemantics", from: "edge-cases: Bad URI does not shadow essential ambiguous headers"},
	{name: "tab in the target", raw: guardian("GET", "/endpoint_a\tHTTP/1.1", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Ambiguous, reason: "AmbiguousUri", from: "uri-specific-test-cases: \\t in URI"},
	{name: "\\x01 in the target", raw: guardian("GET", "/endpoint_a\x01HTTP/1.1", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Ambiguous, reason: "AmbiguousUri", from: "uri-specific-test-cases: \\x01 in URI"},
	{name: "DEL in the target", raw: guardian("GET", "/a\x7fb", "HTTP/1.1"), class: Ambiguous, reason: "AmbiguousUri"},

	// Severe, still framed: forwarded in monitor mode only.
	{name: "TE chunked twice", raw: post("Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"), class: Severe, reason: "MultipleTransferEncodingChunked", from: "severe: Multiple Transfer-Encoding: chunked"},
	{name: "TE chunked,chunked", raw: post("Transfer-Encoding", "chunked,chunked"), class: Severe, reason: "MultipleTransferEncodingChunked", from: "severe: Multiple Transfer-Encoding: chunked,chunked"},
	{name: "TE twice, and CL", raw: post("Transfer-Encoding", " chunked", "Transfer-Encoding", " chunked", "Content-Length", " 4"), class: Severe, reason: "MultipleTransferEncodingChunked", from: "real-life-test-cases: Two Identical Fields - TE"},
	{name: "TE space colon, and TE", raw: post("Transfer-Encoding ", "chunked", "Transfer-Encoding", "chunked"), class: Severe, reason: "MultipleTransferEncodingChunked", from: "severe: Transfer-Encoding[white-space] and Transfer-Encoding"},
	{name: "CL space colon, and another CL", raw: post("Content-Length ", "100", "Content-Length", "1000"), class: Severe, reason: "MultipleContentLength", from: "severe: Content-Length[white-space] and Content-Length", note: "the look-alike is dropped: framed by the other"},
	{name: "fold mimicking CL, and another CL", raw: post(" Content-Length", "100", "Content-Length", "1000"), class: Severe, reason: "MultipleContentLength", from: "severe: [white-space]Content-Length and Content-Length"},
	{name: "LF then a CL in a value", raw: post("Some-Bad-Header", "value\n content-length: 1000", "Content-Length", "100"), class: Severe, reason: "MultipleContentLength", from: "severe: \\n in value is bad", note: "raw, the LF makes a fold mimicking a Content-Length"},
	{name: "CR in a value", raw: post("Content-Length", "1000", "Some-Custom-Header", "Parser error\r must not contain\r symbols."), class: Severe, reason: "BadHeader", from: "severe: Http Engine missed CR"},
	{name: "CR in a name", raw: post("Some-Bad-Header\r", "1000"), class: Severe, reason: "BadHeader", from: "severe: \\r in name is bad"},
	{name: "NUL in a name", raw: post("Some-Bad-Header\x00", "1000"), class: Severe, reason: "BadHeader", from: "severe: \\0 in name is bad"},
	{name: "CR then a CL in a value", raw: post("Some-Bad-Header", "value\rcontent-length: 1000", "Content-Length", "100"), class: Severe, reason: "BadHeader", from: "severe: \\r in value is bad"},
	{name: "NUL in a value", raw: post("Some-Bad-Header", "value\x00content-length: 1000", "Content-Length", "100"), class: Severe, reason: "BadHeader", from: "severe: \\0 in value is bad"},
	{name: "NUL starting a line", raw: post("\x00Some-Bad-Header", "value", "Content-Length", "100"), class: Severe, reason: "BadHeader", from: "severe: \\0 at the start of a line"},
	{name: "NUL starting a value", raw: post("Some-Bad-Header", "\x00value", "Content-Length", "100"), class: Severe, reason: "BadHeader", from: "severe: \\0 at the start of a value"},
	{name: "NUL ending a value", raw: post("Some-Bad-Header", "value\x00", "Content-Length", "100"), class: Severe, reason: "BadHeader", from: "severe: \\0 at the end of a value"},
	{name: "NUL after controls", raw: guardian("PUT", "/foo/bar", "HTTP/1.1", "Some-Custom-Header\t", "\x11\x12 But then \x00 which is bad", "Transfer-Encoding\t", "chunked"), class: Severe, reason: "BadHeader", from: "edge-cases: Non-compliant character does not shadow bad character"},
	{name: "NUL in Accept-Encoding", raw: post("Bad-Accept-Encoding", " gzip, \x00deflate", "Transfer-Encoding", " chunked", "Content-Length", " 4"), class: Severe, reason: "BadHeader", from: "real-life-test-cases: Null in Headers"},
	{name: "NUL before TE", raw: post("Content-Length", " 4", "\x00Transfer-Encoding", " chunked"), class: Severe, reason: "BadHeader", from: "real-life-test-cases: CRLF"},
	{name: "CR then TE in a value", raw: post("Content-Length", " 4", "X-test", " x\rTransfer-Encoding: chunked"), class: Severe, reason: "BadHeader", from: "real-life-test-cases: Size Issue"},
	{name: "CR before TE, and CL", raw: post("\rTransfer-Encoding", " chunked", "Content-Length", " 4"), class: Severe, reason: "BadHeader", from: "real-life-test-cases: \\rTransfer-Encoding: chunked"},
	{name: "CR before TE", raw: post("\rTransfer-Encoding", " chunked"), class: Severe, reason: "BadHeader", from: "real-life-test-cases: \\rTransfer-Encoding: chunked without CL"},
	{name: "CR before CL", raw: post("\rContent-Length", " 1000", "Content-Length", " 100"), class: Severe, reason: "BadHeader", from: "real-life-test-cases: \\rContent-Length without TE"},
	{name: "CR in the target", raw: guardian("GET", "/endpoint_a\rHTTP/1.1", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Severe, reason: "BadUri", from: "uri-specific-test-cases: \\r in URI"},
	{name: "NUL in the target", raw: guardian("GET", "/endpoint_a\x00HTTP/1.1", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Severe, reason: "BadUri", from: "uri-specific-test-cases: \\0 in URI"},
	{name: "TE chunked then an empty element", raw: post("Transfer-Encoding", "chunked,"), class: Severe, reason: "BadTransferEncoding", note: "guardian checks every list element; the empty one is ignored for framing (RFC 9110 §5.6.1)"},
	{name: "fold of a TE", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n", class: Severe, reason: "BadTransferEncoding", note: "guardian sees \"gzip,\" and \" chunked\", an empty element; joined, \"gzip, chunked\" frames"},
	{name: "unknown coding before chunked", raw: post("Transfer-Encoding", "xchunked, chunked"), class: Severe, reason: "BadTransferEncoding"},

	// Errors: 400 in every mode; the Verdict is for the access log.
	{name: "CLs differ", raw: post("Content-Length", "1000", "Content-Length", "100"), class: Severe, reason: "MultipleContentLength", bad: true, from: "severe: Multiple Content-Length"},
	{name: "CL list", raw: post("Content-Length", "1000,1000"), class: Severe, reason: "BadContentLength", bad: true, from: "severe: Bad Content-Length: 1000,1000"},
	{name: "CL with a space inside", raw: post("Content-Length", "1000 1000"), class: Severe, reason: "BadContentLength", bad: true, from: "severe: Bad Content-Length: 1000 1000"},
	{name: "CL with a dot", raw: post("Content-Length", "1000.1000"), class: Severe, reason: "BadContentLength", bad: true, from: "severe: Bad Content-Length: 1000.1000"},
	{name: "CL past 64 bits", raw: post("Content-Length", "18446744073709551616"), class: Severe, reason: "BadContentLength", bad: true, from: "severe: Bad Content-Length (64-bits overflow)"},
	{name: "CL past 63 bits", raw: post("Content-Length", "9223372036854775808"), class: Severe, reason: "BadContentLength", bad: true, note: "guardian takes it (u64); shoal's lengths are int64"},
	{name: "CL with a control character", raw: post("Content-Length", "1000\x11"), class: Severe, reason: "BadContentLength", bad: true, from: "severe: Bad character in Content-Length value: 1000\\x11"},
	{name: "CL \\x01 first", raw: post("Content-Length", "\x011000"), class: Severe, reason: "BadContentLength", bad: true, from: "bad-header-characters: Content-Length: \\x01 1000"},
	{name: "CL with obs-text", raw: post("Content-Length", "1000\xa0"), class: Severe, reason: "BadContentLength", bad: true, from: "bad-header-characters: Content-Length: 1000\\xa0"},
	{name: "CL +5", raw: post("Content-Length", "+5"), class: Severe, reason: "BadContentLength", bad: true},
	{name: "CL -1", raw: post("Content-Length", "-1"), class: Severe, reason: "BadContentLength", bad: true},
	{name: "CL 0x5", raw: post("Content-Length", "0x5"), class: Severe, reason: "BadContentLength", bad: true},
	{name: "CL empty", raw: post("Content-Length", ""), class: Severe, reason: "BadContentLength", bad: true, note: "guardian reads an empty Content-Length as 0"},
	{name: "CL bad, TE bad", raw: post("Some-Custom-Header", "\x11Rfc Compliant", "Transfer-Encoding", "chunked\x80", "Content-Length", "$9000"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "edge-cases: Bad header does not shadow other bad headers"},
	{name: "CL bad, TE bad, tab in the target", raw: guardian("POST", "/foo/bar\t/baz", "HTTP/1.1", "Some-Custom-Header", "\x11Rfc Compliant", "Transfer-Encoding", "chunked\x80", "Content-Length", "$9000"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "edge-cases: Bad URI does not shadow essential bad headers"},
	{name: "CL bad after a NonCompliantHeader", raw: post("Some-Custom-Header", "Non-Rfc Compliant\x12", "Content-Length", "1000\x11"), class: Severe, reason: "BadContentLength", bad: true, from: "edge-cases: Bad non-essential header does not shadow bad Content-Length"},
	{name: "TE bad after a NonCompliantHeader", raw: post("Some-Custom-Header", "Non-Rfc Compliant\x11", "Transfer-Encoding", "chunked\x7f"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "edge-cases: Bad non-essential header does not shadow bad Transfer-Encoding"},
	{name: "TE xchunked", raw: post("Transfer-Encoding", "xchunked"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "severe: Unknown Transfer-Encoding: xchunked"},
	{name: "TE xchunked, and CL", raw: post("Transfer-Encoding", " xchunked", "Content-Length", " 4"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "real-life-test-cases: Transfer-Encoding: xchunked"},
	{name: "TE chunk", raw: post("Transfer-Encoding", " chunk", "Content-Length", " 4"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "real-life-test-cases: Transfer-Encoding: chunk"},
	{name: "TE chunked\\x11", raw: post("Transfer-Encoding", "chunked\x11"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "severe: Bad character in Transfer-Encoding value: chunked\\x11"},
	{name: "TE \\x01chunked", raw: post("Transfer-Encoding", "\x01chunked"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "bad-header-characters: Transfer-Encoding: \\x01chunked"},
	{name: "TE chunked\\x01", raw: post("Transfer-Encoding", "chunked\x01"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "bad-header-characters: Transfer-Encoding: chunked\\x01"},
	{name: "TE \\xa0chunked", raw: post("Transfer-Encoding", "\xa0chunked"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "bad-header-characters: Transfer-Encoding: \\xa0chunked"},
	{name: "TE chunked\\xa0", raw: post("Transfer-Encoding", "chunked\xa0"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "bad-header-characters: Transfer-Encoding: chunked\\xa0"},
	{name: "TE vertical tab chunked", raw: post("Transfer-Encoding", "\x0bchunked"), class: Severe, reason: "BadTransferEncoding", bad: true},
	{name: "TE ch unked", raw: post("Transfer-Encoding", "ch unked"), class: Severe, reason: "BadTransferEncoding", bad: true},
	{name: "TE identity", raw: post("Transfer-Encoding", "identity", "Content-Length", "5"), class: Severe, reason: "BadTransferEncoding", bad: true, note: "guardian: BothTeClPresent; a request's final coding must be chunked (RFC 9112 §6.3)"},
	{name: "TE gzip, and CL", raw: post("Transfer-Encoding", "gzip", "Content-Length", "100"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "ambiguous: Both Transfer-Encoding and Content-Length", note: "guardian: Ambiguous; shoal cannot frame it"},
	{name: "TE deflate, and CL", raw: post("Transfer-Encoding", " deflate", "Content-Length", " 4"), class: Severe, reason: "BadTransferEncoding", bad: true, from: "real-life-test-cases: Transfer-Encoding: identity and Content-Length", note: "as above"},
	{name: "TE chunked, gzip", raw: post("Transfer-Encoding", "chunked, gzip"), class: Severe, reason: "BadTransferEncoding", bad: true, note: "guardian: Compliant; chunked must be final"},
	{name: "TE empty", raw: post("Transfer-Encoding", ""), class: Severe, reason: "BadTransferEncoding", bad: true},
	{name: "bad method", raw: guardian("bad_method\x01", "/foo/bar", "HTTP/1.1", "Host", "localhost"), class: Severe, reason: "BadMethod", bad: true, from: "severe: Bad method"},
	{name: "method with @", raw: guardian("G@T", "/", "HTTP/1.1"), class: Severe, reason: "BadMethod", bad: true},
	{name: "method and tab", raw: "GET\t/ HTTP/1.1\r\n\r\n", class: Severe, reason: "BadMethod", bad: true},
	{name: "empty method", raw: " GET / HTTP/1.1\r\n\r\n", class: Severe, reason: "BadMethod", bad: true, note: "guardian lets an empty method through"},
	{name: "HTTP/2.0", raw: guardian("GET", "/", "HTTP/2.0"), class: Severe, reason: "BadVersion", bad: true, note: "guardian does not analyse HTTP/2 or later"},
	{name: "HTTP/1.1x", raw: guardian("GET", "/", "HTTP/1.1x"), class: Severe, reason: "BadVersion", bad: true},
	{name: "HTTP/1.10", raw: guardian("GET", "/", "HTTP/1.10"), class: Severe, reason: "BadVersion", bad: true},
	{name: "http/1.1", raw: guardian("GET", "/", "http/1.1"), class: Severe, reason: "BadVersion", bad: true},
	{name: "HTTP/1.1 then junk", raw: guardian("GET", "/", "HTTP/1.1\x01"), class: Severe, reason: "BadVersion", bad: true},
	{name: "HTTP/0.9", raw: guardian("GET", "/foo/bar", "HTTP/0.9", "X-My-Header", "some value"), class: Severe, reason: "BadVersion", bad: true, from: "acceptable: Non-RFC, but OK HTTP/0.9", note: "guardian: Acceptable"},
	{name: "HTTP/0.9 with TE", raw: guardian("POST", "/foo/bar", "HTTP/0.9", "Transfer-Encoding", "chunked"), class: Severe, reason: "BadVersion", bad: true, from: "ambiguous: Transfer-Encoding for HTTP/0.9", note: "guardian: Ambiguous"},
	{name: "HTTP/0.9 with CL", raw: guardian("POST", "/foo/bar", "HTTP/0.9", "Content-Length", "100"), class: Severe, reason: "BadVersion", bad: true, from: "ambiguous: Content-Length for HTTP/0.9", note: "guardian: Ambiguous"},
	{name: "no version", raw: guardian("GET", "/foo/bar", "", "X-My-Header", "some value"), class: Severe, reason: "BadVersion", bad: true, from: "acceptable: Empty version, which means HTTP/0.9", note: "guardian: Acceptable"},
	{name: "no version, TE", raw: guardian("POST", "/foo/bar", "", "Transfer-Encoding", "chunked"), class: Severe, reason: "BadVersion", bad: true, from: "ambiguous: Transfer-Encoding for empty protocol, which is HTTP/0.9", note: "guardian: Ambiguous"},
	{name: "empty target", raw: guardian("GET", "", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Severe, bad: true, from: "rfc-compliant: Empty URI", note: "guardian: Compliant (as parsed fields)"},
	{name: "target of no form", raw: guardian("GET", "foo", "HTTP/1.1"), class: Severe, bad: true},
	{name: "NUL starting the target", raw: guardian("GET", "\x00/endpoint_aHTTP/1.1", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Severe, reason: "BadUri", bad: true, from: "uri-specific-test-cases: \\0 at the start of URI", note: "not origin-form once encoded"},
	{name: "LF in the target", raw: guardian("GET", "/endpoint_a\nHTTP/1.1", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Severe, reason: "BadVersion", bad: true, from: "uri-specific-test-cases: \\n in URI", note: "raw, the LF ends the request line"},
	{name: "request smuggled in the target", raw: guardian("GET", "/endpoint_a\tHTTP/1.1\r\nHost:localhost\r\n\r\nGET\t/endpoint_b\t", "HTTP/1.1", "X-Forwarded-For", "1.1.1.1"), class: Severe, reason: "BadVersion", bad: true, from: "uri-specific-test-cases: Request Smuggling in URI", note: "raw, the first head ends early and its request line has no version"},
	{name: "no colon", raw: "GET / HTTP/1.1\r\nHost example.com\r\n\r\n", class: Severe, reason: "MissingHeaderColon", bad: true},
	{name: "LF in a name", raw: post("Some-Bad-Header\n", "Content-Length:1000\r\n Transfer-Encoding: chunked", "Content-Length", "100"), class: Severe, reason: "MissingHeaderColon", bad: true, from: "severe: \\n in name is bad", note: "raw, the LF ends the line before the colon"},
	{name: "two Hosts", raw: guardian("GET", "/", "HTTP/1.1", "Host", "a.example.com", "Host", "b.example.com"), class: Severe, bad: true},
	{name: "Host with a space", raw: guardian("GET", "/", "HTTP/1.1", "Host", "a b"), class: Severe, bad: true},
	{name: "Host with a slash", raw: guardian("GET", "/", "HTTP/1.1", "Host", "a/b"), class: Severe, bad: true},
	{name: "absolute-form without a host", raw: guardian("GET", "http:///a", "HTTP/1.1"), class: Severe, bad: true},
	{name: "scheme with an underscore", raw: guardian("GET", "ht_p://a/", "HTTP/1.1"), class: Severe, bad: true},
	{name: "asterisk for GET", raw: guardian("GET", "*", "HTTP/1.1"), class: Severe, bad: true},
	{name: "no space", raw: "GET\r\n\r\n", bad: true},
}

// TestParseRequest_Corpus reads each raw request as the front end does
// (ReadHead, then ParseRequest) and checks its class, reason and error.
func TestParseRequest_Corpus(t *testing.T) {
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			r, err := readRequest(t, c.raw)
			if c.bad != (err != nil) {
				t.Fatalf("error %v, want an error: %v", err, c.bad)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if r == nil {
				if !c.bad || c.class != Compliant {
					t.Fatalf("no Request, want verdict %v %q", c.class, c.reason)
				}
				return
			}
			if got, want := r.Verdict, (Verdict{c.class, c.reason}); got != want {
				t.Errorf("verdict %v %q, want %v %q (error %v)", got.Class, got.Reason, want.Class, want.Reason, err)
			}
		})
	}
}

// TestParseRequest_CorpusCoversEveryReason: every reason of the package
// documentation has a case, and so does every class.
func TestParseRequest_CorpusCoversEveryReason(t *testing.T) {
	reasons := map[string]bool{}
	classes := map[Class]bool{}
	for _, c := range corpus {
		reasons[c.reason] = true
		classes[c.class] = true
	}
	for _, r := range []string{
		reasonNonCrLf, reasonMultiline, reasonMissingColon, reasonNonCompliantHeader, reasonBadHeader,
		reasonEmptyHeader, reasonSuspiciousHeader, reasonSpaceInURI, reasonAmbiguousURI, reasonBadURI,
		reasonBadMethod, reasonNonCompliantVer, reasonBadVersion, reasonGetHeadZeroCL, reasonUndefinedCL,
		reasonUndefinedTE, reasonMultipleCL, reasonDuplicateCL, reasonBadCL, reasonMultipleChunked,
		reasonBadTE, reasonBothTECL,
	} {
		if !reasons[r] {
			t.Errorf("no case for %s", r)
		}
	}
	for c := Compliant; c <= Severe; c++ {
		if !classes[c] {
			t.Errorf("no case for %v", c)
		}
	}
}
