package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signature Version 4, as AWS checks it.
//
// The verifier rebuilds the canonical request the way the AWS SDK for Go
// v2's signer (aws/signer/v4) and botocore (the AWS CLI) build it, and
// refuses with the codes and messages AWS's own JSON and query endpoints
// use, so that an SDK or the CLI reports shoal's refusals as it would
// report AWS's.

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	sigV4Terminator = "aws4_request"
	// amzDateFormat is ISO 8601 "basic format", as X-Amz-Date carries it.
	amzDateFormat = "20060102T150405Z"
	// maxSkew is how far a request's time may be from shoal's clock, in
	// either direction: AWS's 15 minutes.
	maxSkew = 15 * time.Minute
	// maxPresignExpires is the longest X-Amz-Expires AWS accepts: 7 days.
	maxPresignExpires = 7 * 24 * 60 * 60
)

// AWS's messages, word for word.
const (
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken      = "The security token included in the request is invalid."
	msgHostNotSigned     = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
)

// authCodes are one protocol's names for the ways authentication fails:
// JSON services (ECS) and query services (ELBv2) name the same failures
// differently and answer them with different statuses.
type authCodes struct {
	missing, incomplete, unknownKey, mismatch string
	missingMessage                            string
	missingStatus, unknownKeyStatus           int
	mismatchStatus                            int
}

var (
	jsonAuthCodes = authCodes{
		missing:          "MissingAuthenticationTokenException",
		missingMessage:   "Missing Authentication Token",
		missingStatus:    http.StatusBadRequest,
		incomplete:       "IncompleteSignatureException",
		unknownKey:       "UnrecognizedClientException",
		unknownKeyStatus: http.StatusBadRequest,
		mismatch:         "InvalidSignatureException",
		mismatchStatus:   http.StatusBadRequest,
	}
	queryAuthCodes = authCodes{
		missing:          "MissingAuthenticationToken",
		missingMessage:   "Request is missing Authentication Token",
		missingStatus:    http.StatusForbidden,
		incomplete:       "IncompleteSignature",
		unknownKey:       "InvalidClientTokenId",
		unknownKeyStatus: http.StatusForbidden,
		mismatch:         "SignatureDoesNotMatch",
		mismatchStatus:   http.StatusForbidden,
	}
)

func (c *authCodes) missingErr() *Error {
	return &Error{Code: c.missing, Status: c.missingStatus, Message: c.missingMessage, Sender: true}
}

// incompleteErr: the signature is malformed (IncompleteSignature is 400
// for both protocols).
func (c *authCodes) incompleteErr(msg string) *Error {
	return &Error{Code: c.incomplete, Status: http.StatusBadRequest, Message: msg, Sender: true}
}

func (c *authCodes) unknownKeyErr() *Error {
	return &Error{Code: c.unknownKey, Status: c.unknownKeyStatus, Message: msgInvalidToken, Sender: true}
}

// mismatchErr: a well-formed signature that does not hold (wrong key,
// wrong scope, wrong time, or a request changed after signing).
func (c *authCodes) mismatchErr(msg string) *Error {
	return &Error{Code: c.mismatch, Status: c.mismatchStatus, Message: msg, Sender: true}
}

// sigV4 is what a request says about its signature, from either the
// Authorization header or the presigned query parameters.
type sigV4 struct {
	presigned     bool
	credential    string // AKID/YYYYMMDD/region/service/aws4_request
	signedHeaders string // as sent: lowercase names joined by ';'
	signature     string // lowercase hex
	// amzDate is the request's time as the string to sign carries it.
	amzDate string
	// dateFromDateHeader: the time came from the Date header, which then
	// must be signed (X-Amz-Date, when used, is held to the x-amz-* rule).
	dateFromDateHeader bool
	// expires is X-Amz-Expires in seconds (presigned only; 0: not given).
	expires int
}

// queryParam is one query-string parameter, decoded.
type queryParam struct{ key, value string }

// authenticate checks r's Signature Version 4 signature: made with
// a.cfg.Credentials, for a.cfg.Region and service, within AWS's 15 minutes
// of a.now(). jsonProtocol picks the error codes (JSON services and query
// services name the same failures differently).
func (a *api) authenticate(r *http.Request, body []byte, service string, jsonProtocol bool) *Error {
	codes := &queryAuthCodes
	if jsonProtocol {
		codes = &jsonAuthCodes
	}
	// A parameter that does not decode cannot be canonicalized, so a
	// request carrying one cannot be verified; it is refused below, once
	// it is known that the request tries to authenticate at all.
	query, queryOK := parseQuery(r.URL.RawQuery)

	sig, e := parseSigV4(r, query, codes)
	if e != nil {
		return e
	}
	if !queryOK {
		return codes.mismatchErr(msgSignatureMismatch)
	}

	// The credential scope: AKID/date/region/service/aws4_request.
	scope := strings.Split(sig.credential, "/")
	if len(scope) != 5 {
		return codes.incompleteErr("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + clip(sig.credential) + "'")
	}
	accessKey, scopeDate, region, scopeService, terminator := scope[0], scope[1], scope[2], scope[3], scope[4]
	if terminator != sigV4Terminator {
		return codes.mismatchErr("Credential should be scoped with a valid terminator: 'aws4_request', not '" + clip(terminator) + "'. ")
	}

	// Which headers must be signed. Host binds the signature to this
	// endpoint; every x-amz-* header (X-Amz-Target names the ECS
	// operation, X-Amz-Date the time) must be covered so that none can be
	// added or swapped by whoever replays a captured request.
	signed := strings.Split(sig.signedHeaders, ";")
	if !slices.Contains(signed, "host") {
		return codes.mismatchErr(msgHostNotSigned)
	}
	var unsigned []string
	for name := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && !slices.Contains(signed, lower) {
			unsigned = append(unsigned, lower)
		}
	}
	if sig.dateFromDateHeader && !slices.Contains(signed, "date") {
		unsigned = append(unsigned, "date")
	}
	if len(unsigned) > 0 {
		sort.Strings(unsigned)
		return codes.mismatchErr("There were headers present in the request which were not signed: " + clip(strings.Join(unsigned, ", ")) + ".")
	}

	if region != a.cfg.Region {
		return codes.mismatchErr("Credential should be scoped to a valid region, not '" + clip(region) + "'. ")
	}
	if scopeService != service {
		return codes.mismatchErr("Credential should be scoped to correct service: '" + service + "'. ")
	}

	// shoal's keys are long-term ones: a session token means temporary
	// credentials shoal never issued.
	if r.Header.Get("X-Amz-Security-Token") != "" || hasParam(query, "X-Amz-Security-Token") {
		return codes.unknownKeyErr()
	}
	want := a.cfg.Credentials
	if want.AccessKeyID == "" || want.SecretAccessKey == "" || accessKey != want.AccessKeyID {
		return codes.unknownKeyErr()
	}

	if scopeDate != sig.amzDate[:8] {
		return codes.mismatchErr("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			clip(scopeDate) + "' != '" + sig.amzDate[:8] + "', from '" + sig.amzDate + "'.")
	}
	signedAt, _ := time.Parse(amzDateFormat, sig.amzDate) // checked by parseSigV4
	if e := checkTime(signedAt, a.now().UTC(), sig.expires, codes); e != nil {
		return e
	}

	// The payload is always signed: ECS and ELBv2 take no unsigned or
	// streamed bodies, so X-Amz-Content-Sha256, when sent, must be the
	// body's hash (UNSIGNED-PAYLOAD would leave the body unauthenticated).
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Values("X-Amz-Content-Sha256"); len(h) > 0 && (len(h) > 1 || h[0] != payloadHash) {
		return codes.mismatchErr(msgSignatureMismatch)
	}

	key := signingKey(want.SecretAccessKey, scopeDate, region, service)
	headers := canonicalHeaders(r, signed)
	canonQuery := canonicalQuery(query, sig.presigned)
	path := rawPath(r)
	if verify(key, sig, r.Method, canonicalURI(path), canonQuery, headers, payloadHash) {
		return nil
	}
	// botocore (the AWS CLI) signs the path with dot segments and
	// repeated slashes removed, as AWS's endpoints accept; the Go SDK
	// signs it as sent. Either form of the path actually received is
	// accepted.
	if norm := normalizePath(path); norm != path &&
		verify(key, sig, r.Method, canonicalURI(norm), canonQuery, headers, payloadHash) {
		return nil
	}
	return codes.mismatchErr(msgSignatureMismatch)
}

// parseSigV4 finds the signature in r: the Authorization header or, for a
// presigned URL, the X-Amz-* query parameters (never both).
func parseSigV4(r *http.Request, query []queryParam, codes *authCodes) (sigV4, *Error) {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	presigned := hasParam(query, "X-Amz-Algorithm") || hasParam(query, "X-Amz-Credential") || hasParam(query, "X-Amz-Signature")
	switch {
	case auth == "" && !presigned:
		return sigV4{}, codes.missingErr()
	case auth != "" && presigned:
		return sigV4{}, codes.incompleteErr("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
	case presigned:
		return parsePresigned(query, codes)
	}

	// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
	// AWS splits the parameters at commas and spaces alike and reports the
	// first token that is not key=value, then every missing parameter.
	var sig sigV4
	algorithm, params, _ := strings.Cut(auth, " ")
	var haveCredential, haveSigned, haveSignature bool
	for _, tok := range strings.FieldsFunc(params, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' }) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			return sig, codes.incompleteErr("'" + clip(tok) + "' not a valid key=value pair (missing equal-sign) in Authorization header: '" + clip(auth) + "'.")
		}
		switch {
		case k == "Credential" && !haveCredential:
			sig.credential, haveCredential = v, true
		case k == "SignedHeaders" && !haveSigned:
			sig.signedHeaders, haveSigned = v, true
		case k == "Signature" && !haveSignature:
			sig.signature, haveSignature = v, true
		}
	}
	date := r.Header.Get("X-Amz-Date")
	if date == "" {
		date = r.Header.Get("Date")
		sig.dateFromDateHeader = date != ""
	}
	var missing strings.Builder
	if !haveCredential {
		missing.WriteString("Authorization header requires 'Credential' parameter. ")
	}
	if !haveSignature {
		missing.WriteString("Authorization header requires 'Signature' parameter. ")
	}
	if !haveSigned {
		missing.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
	}
	if date == "" {
		missing.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if missing.Len() > 0 {
		return sig, codes.incompleteErr(missing.String() + "Authorization=" + clip(auth))
	}
	if algorithm != sigV4Algorithm {
		return sig, codes.incompleteErr("Unsupported AWS 'algorithm': '" + clip(algorithm) + "'.")
	}
	amzDate, ok := parseRequestDate(date, sig.dateFromDateHeader)
	if !ok {
		return sig, codes.incompleteErr("Date must be in ISO-8601 'basic format'. Got '" + clip(date) + "'. See http://en.wikipedia.org/wiki/ISO_8601")
	}
	sig.amzDate = amzDate
	return sig, nil
}

// parsePresigned reads a presigned URL's X-Amz-* parameters.
func parsePresigned(query []queryParam, codes *authCodes) (sigV4, *Error) {
	sig := sigV4{presigned: true}
	var missing strings.Builder
	get := func(name string) string {
		v, ok := param(query, name)
		if !ok {
			missing.WriteString("AWS query-string parameters must include '" + name + "'. ")
		}
		return v
	}
	algorithm := get("X-Amz-Algorithm")
	sig.credential = get("X-Amz-Credential")
	sig.signedHeaders = get("X-Amz-SignedHeaders")
	sig.signature = get("X-Amz-Signature")
	date := get("X-Amz-Date")
	if missing.Len() > 0 {
		return sig, codes.incompleteErr(missing.String() + "Re-examine the query-string parameters.")
	}
	if algorithm != sigV4Algorithm {
		return sig, codes.incompleteErr("Unsupported AWS 'algorithm': '" + clip(algorithm) + "'.")
	}
	if v, ok := param(query, "X-Amz-Expires"); ok {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return sig, codes.incompleteErr("X-Amz-Expires should be a number")
		case n <= 0:
			return sig, codes.incompleteErr("X-Amz-Expires must be non-negative")
		case n > maxPresignExpires:
			return sig, codes.incompleteErr("X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		sig.expires = n
	}
	amzDate, ok := parseRequestDate(date, false)
	if !ok {
		return sig, codes.incompleteErr("Date must be in ISO-8601 'basic format'. Got '" + clip(date) + "'. See http://en.wikipedia.org/wiki/ISO_8601")
	}
	sig.amzDate = amzDate
	return sig, nil
}

// parseRequestDate returns the request's time in the form the string to
// sign carries. X-Amz-Date must be ISO 8601 basic format exactly (it is
// signed as sent); a Date header may also be an HTTP date, which the
// signer then puts in the string to sign in basic format.
func parseRequestDate(v string, dateHeader bool) (string, bool) {
	if len(v) == len(amzDateFormat) {
		if _, err := time.Parse(amzDateFormat, v); err == nil {
			return v, true
		}
	}
	if dateHeader {
		if t, err := http.ParseTime(v); err == nil {
			return t.UTC().Format(amzDateFormat), true
		}
	}
	return "", false
}

// checkTime refuses a request signed more than 15 minutes from now, or a
// presigned one past its X-Amz-Expires, in AWS's words.
func checkTime(signedAt, now time.Time, expires int, codes *authCodes) *Error {
	if limit := now.Add(maxSkew); signedAt.After(limit) {
		return codes.mismatchErr("Signature not yet current: " + signedAt.Format(amzDateFormat) + " is still later than " +
			limit.Format(amzDateFormat) + " (" + now.Format(amzDateFormat) + " + 15 min.)")
	}
	window, span := maxSkew, "15 min"
	if expires > 0 {
		window = time.Duration(expires) * time.Second
		if expires%60 == 0 {
			span = strconv.Itoa(expires/60) + " min"
		} else {
			span = strconv.Itoa(expires) + " sec"
		}
	}
	if limit := now.Add(-window); signedAt.Before(limit) {
		return codes.mismatchErr("Signature expired: " + signedAt.Format(amzDateFormat) + " is now earlier than " +
			limit.Format(amzDateFormat) + " (" + now.Format(amzDateFormat) + " - " + span + ".)")
	}
	return nil
}

// verify computes the signature over the canonical request with uri and
// compares it with the one sent, in constant time.
func verify(key []byte, sig sigV4, method, uri, query, headers, payloadHash string) bool {
	var b strings.Builder
	b.Grow(len(method) + len(uri) + len(query) + len(headers) + len(sig.signedHeaders) + len(payloadHash) + 5)
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	b.WriteString(headers) // each line ends in '\n'
	b.WriteByte('\n')
	b.WriteString(sig.signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	requestHash := sha256.Sum256([]byte(b.String()))

	scope := sig.credential[strings.IndexByte(sig.credential, '/')+1:] // date/region/service/aws4_request
	stringToSign := sigV4Algorithm + "\n" + sig.amzDate + "\n" + scope + "\n" + hex.EncodeToString(requestHash[:])

	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(stringToSign))
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], mac.Sum(nil))
	return hmac.Equal(want[:], []byte(sig.signature))
}

// signingKey derives the key for one day, region and service:
// HMAC chains from "AWS4"+secret through date, region, service and the
// terminator, so that a leaked day key is useless elsewhere.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, sigV4Terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// canonicalHeaders lists the signed headers, in the signed order, as
// "name:value\n": values trimmed, inner runs of spaces collapsed, repeated
// headers joined by commas in the order received.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		if name == "host" {
			// net/http moves Host out of the header map into r.Host.
			b.WriteString(collapseSpaces(r.Host))
		} else {
			for i, v := range headerValues(r, name) {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strings.TrimSpace(collapseSpaces(v)))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// headerValues are the values of the header named name (lowercase), in
// order. net/http's server canonicalizes names; a request built in
// process may hold others ("x-custom-HEADER"), taken after the canonical
// one in name order.
func headerValues(r *http.Request, name string) []string {
	canon := textproto.CanonicalMIMEHeaderKey(name)
	values := r.Header[canon]
	var others []string
	for k := range r.Header {
		if k != canon && strings.EqualFold(k, name) {
			others = append(others, k)
		}
	}
	if len(others) > 0 {
		values = slices.Clone(values)
		sort.Strings(others)
		for _, k := range others {
			values = append(values, r.Header[k]...)
		}
	}
	// An outgoing request keeps its length in ContentLength, not in the
	// header map; the SDK signs it from there.
	if len(values) == 0 && name == "content-length" && r.ContentLength > 0 {
		values = []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	return values
}

// collapseSpaces trims spaces at both ends and turns each inner run of
// spaces into one, as the signers do.
func collapseSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseQuery decodes a raw query string into its parameters, in order, as
// url.ParseQuery does ('+' is a space; empty pairs are skipped), but keeps
// ';' and reports, rather than drops, a parameter that does not decode.
func parseQuery(raw string) (params []queryParam, ok bool) {
	ok = true
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			ok = false
			continue
		}
		params = append(params, queryParam{key, value})
	}
	return params, ok
}

// param is the first value of the query parameter named name.
func param(query []queryParam, name string) (string, bool) {
	for _, p := range query {
		if p.key == name {
			return p.value, true
		}
	}
	return "", false
}

func hasParam(query []queryParam, name string) bool {
	_, ok := param(query, name)
	return ok
}

// canonicalQuery encodes each name and value per RFC 3986 and sorts the
// pairs by encoded name, then encoded value (AWS sorts after encoding). A
// presigned URL's signature is not part of what it signs.
func canonicalQuery(query []queryParam, presigned bool) string {
	if len(query) == 0 {
		return ""
	}
	enc := make([]queryParam, 0, len(query))
	for _, p := range query {
		if presigned && p.key == "X-Amz-Signature" {
			continue
		}
		enc = append(enc, queryParam{uriEncode(p.key, false), uriEncode(p.value, false)})
	}
	slices.SortFunc(enc, func(a, b queryParam) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// rawPath is the request's path exactly as it came on the wire (still
// escaped): the signers sign the escaped path, so decoding it would lose
// the difference between "/a%2Fb" and "/a/b".
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if strings.HasPrefix(p, "/") {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
	} else {
		// Absolute-form request line, or a request built in process.
		p = r.URL.EscapedPath()
	}
	if p == "" {
		return "/"
	}
	return p
}

// canonicalURI escapes the (already escaped) path once more, as every
// service but S3 expects: each byte but the unreserved ones and '/' is
// percent-encoded, '%' included (the Go SDK's httpbinding.EscapePath,
// botocore's quote(path, safe='/~')).
func canonicalURI(path string) string { return uriEncode(path, true) }

// normalizePath removes "." and ".." segments and empty ones (repeated
// slashes), keeping a trailing slash, as botocore does before signing.
func normalizePath(p string) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	n := "/" + strings.Join(out, "/")
	if len(out) > 0 && strings.HasSuffix(p, "/") {
		n += "/"
	}
	return n
}

// uriEncode percent-encodes every byte of s except RFC 3986's unreserved
// characters (and '/' when keepSlash), with uppercase hex.
func uriEncode(s string, keepSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (s[i] != '/' || !keepSlash) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (c == '/' && keepSlash) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// clip bounds what a refusal quotes back from the request (AWS quotes the
// offending value; a megabyte of header should not come back whole).
func clip(s string) string {
	const max = 512
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
