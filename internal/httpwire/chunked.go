package httpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxChunkLine bounds a chunk-size line, extensions included, as net/http
// does: extensions carry nothing shoal uses, and a peer must not make it
// buffer without end.
const maxChunkLine = 4096

// maxSizeDigits bounds the hex digits of a chunk size, leading zeros
// included, as net/http does.
const maxSizeDigits = 16

// NewChunkedReader decodes a chunked body (RFC 9112 §7.1) from br, strictly:
// a size of at most 16 hex digits (no sign, 0x or white space), within 63
// bits; chunk extensions of RFC 9112's grammar (but no white space before
// ';'), the size line at most 4 KiB; CRLF after each size line and each
// chunk's data (a bare LF is an error).
// Trailer fields are read, checked and discarded, bounded by lim (each line
// by MaxLine, all of them by MaxHead). Read returns io.EOF after the last
// chunk and its trailers, never having read a byte past them, so that the
// next request on the connection stays intact in br.
//
// Malformed input is an error wrapping ErrMalformedChunk (and
// ErrHeaderTooLarge for trailers past lim); a connection closed mid-body is
// io.ErrUnexpectedEOF; read errors come as br returns them. Errors are
// sticky.
func NewChunkedReader(br *bufio.Reader, lim Limits) io.Reader {
	return &chunkedReader{br: br, lim: lim.withDefaults()}
}

var (
	errChunkLineTooLong = fmt.Errorf("%w: chunk size line too long", ErrMalformedChunk)
	errTrailersTooLarge = fmt.Errorf("%w: trailers: %w", ErrMalformedChunk, ErrHeaderTooLarge)
)

type chunkedReader struct {
	br      *bufio.Reader
	lim     Limits
	state   chunkState
	left    int64  // bytes of the current chunk's data not read yet
	err     error  // sticky; io.EOF once the body is read
	scratch []byte // a line longer than br's buffer
}

type chunkState uint8

const (
	atSize    chunkState = iota // before a chunk-size line
	inData                      // in a chunk's data
	atDataEnd                   // at the CRLF after a chunk's data
)

func (cr *chunkedReader) Read(p []byte) (int, error) {
	for cr.err == nil {
		switch cr.state {
		case inData:
			return cr.readData(p)
		case atDataEnd:
			if cr.err = cr.crlf(); cr.err == nil {
				cr.state = atSize
			}
		case atSize:
			cr.err = cr.size()
		}
	}
	return 0, cr.err
}

func (cr *chunkedReader) readData(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > cr.left {
		p = p[:cr.left]
	}
	n, err := cr.br.Read(p)
	if cr.left -= int64(n); cr.left == 0 {
		cr.state = atDataEnd
	}
	if err != nil {
		cr.err = unexpected(err)
		if n == 0 {
			return 0, cr.err
		}
	}
	return n, nil
}

// crlf reads the CRLF that ends a chunk's data.
func (cr *chunkedReader) crlf() error {
	for _, want := range [...]byte{'\r', '\n'} {
		b, err := cr.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if b != want {
			return chunkError("chunk data not followed by CRLF")
		}
	}
	return nil
}

// size reads a chunk-size line; for the last chunk, the trailers too.
func (cr *chunkedReader) size() error {
	line, err := cr.line(maxChunkLine, errChunkLineTooLong)
	if err != nil {
		return err
	}
	n, err := chunkSize(line)
	if err != nil {
		return err
	}
	if n > 0 {
		cr.left, cr.state = n, inData
		return nil
	}
	if err := cr.trailers(); err != nil {
		return err
	}
	return io.EOF
}

// chunkSize reads chunk-size [ chunk-ext ].
func chunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d, ok := unhex(line[i])
		if !ok {
			break
		}
		if i == maxSizeDigits || n > (1<<63-1)>>4 {
			return 0, chunkError("chunk size overflows")
		}
		n = n<<4 | int64(d)
	}
	if i == 0 {
		return 0, chunkError(fmt.Sprintf("chunk size line %q has no size", clipBytes(line)))
	}
	if !chunkExt(line[i:]) {
		return 0, chunkError(fmt.Sprintf("chunk size line %q", clipBytes(line)))
	}
	return n, nil
}

func unhex(b byte) (byte, bool) {
	switch {
	case b >= '0' && b <= '9':
		return b - '0', true
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10, true
	case b >= 'A' && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

// chunkExt checks *( ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ):
// RFC 9112's grammar but for white space before ';', which net/http
// refuses too: "5 ;a" and "5 " are the same whitespace trick.
func chunkExt(s []byte) bool {
	for len(s) > 0 {
		if s[0] != ';' {
			return false
		}
		s = skipWS(s[1:])
		n := tokenLen(s)
		if n == 0 {
			return false
		}
		s = s[n:]
		if t := skipWS(s); len(t) > 0 && t[0] == '=' {
			if s = extValue(skipWS(t[1:])); s == nil {
				return false
			}
		}
	}
	return true
}

// extValue skips a token or a quoted-string; nil when there is neither.
func extValue(s []byte) []byte {
	if n := tokenLen(s); n > 0 {
		return s[n:]
	}
	if len(s) == 0 || s[0] != '"' {
		return nil
	}
	for i := 1; i < len(s); i++ {
		switch b := s[i]; {
		case b == '"':
			return s[i+1:]
		case b == '\\':
			if i++; i == len(s) || !valueBytes[s[i]] {
				return nil
			}
		case !valueBytes[b]:
			return nil
		}
	}
	return nil
}

func skipWS(s []byte) []byte {
	for len(s) > 0 && isWS(s[0]) {
		s = s[1:]
	}
	return s
}

func tokenLen(s []byte) int {
	n := 0
	for n < len(s) && isTchar(s[n]) {
		n++
	}
	return n
}

// trailers reads and checks the trailer section, up to its empty line.
func (cr *chunkedReader) trailers() error {
	total := 0
	for {
		line, err := cr.line(cr.lim.MaxLine, errTrailersTooLarge)
		if err != nil {
			return err
		}
		if total += len(line) + 2; total > cr.lim.MaxHead {
			return errTrailersTooLarge
		}
		if len(line) == 0 {
			return nil
		}
		if !trailerField(line) {
			return chunkError(fmt.Sprintf("trailer %q", clipBytes(line)))
		}
	}
}

// trailerField checks name ":" value, no fold, no control character in the
// value but tab.
func trailerField(line []byte) bool {
	n := tokenLen(line)
	if n == 0 || n == len(line) || line[n] != ':' {
		return false
	}
	for _, b := range line[n+1:] {
		if !valueBytes[b] {
			return false
		}
	}
	return true
}

// line reads a line ending in CRLF, of at most limit bytes without it, and
// returns it without the CRLF. The line is valid until the next read.
func (cr *chunkedReader) line(limit int, tooLong error) ([]byte, error) {
	b, err := cr.br.ReadSlice('\n')
	if err == nil {
		if len(b) > limit+2 {
			return nil, tooLong
		}
		return crlfLine(b)
	}
	cr.scratch = append(cr.scratch[:0], b...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(cr.scratch) > limit+2 {
			return nil, tooLong
		}
		b, err = cr.br.ReadSlice('\n')
		cr.scratch = append(cr.scratch, b...)
	}
	if err != nil {
		return nil, unexpected(err)
	}
	if len(cr.scratch) > limit+2 {
		return nil, tooLong
	}
	return crlfLine(cr.scratch)
}

func crlfLine(b []byte) ([]byte, error) {
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return nil, chunkError("line ends with a bare LF")
	}
	return b[:len(b)-2], nil
}

// unexpected turns the end of the stream mid-body into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func chunkError(detail string) error {
	return fmt.Errorf("%w: %s", ErrMalformedChunk, detail)
}

func clipBytes(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
