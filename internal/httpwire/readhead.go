package httpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxLeadingEmptyLines is how many empty lines ReadHead skips before a start
// line. RFC 9112 §2.2 asks a server to ignore "at least one" (clients that
// end a POST body with an extra CRLF); a stream of them is not a request.
const maxLeadingEmptyLines = 4

// ReadHead reads one head (the start line through the empty line that ends
// it) from br and returns its bytes, appended to buf[:0] (reuse buf across
// calls; the result aliases it). It consumes exactly the head and nothing
// more: the body, or the next request, stays in br.
//
// It accepts CRLF and bare LF line ends (so that ParseRequest can classify
// bare LF), skips up to 4 empty lines before the start line (RFC 9112 §2.2;
// they are not part of the result), and enforces lim while reading, so that
// it never holds more than lim.MaxHead plus one buffer of br whatever the
// peer sends. It allocates nothing when buf has the capacity.
//
// Errors: io.EOF when the connection closed before any byte of a start line;
// io.ErrUnexpectedEOF when it closed mid-head; ErrLineTooLong for a start
// line past lim.MaxLine; ErrHeaderTooLarge for a header line (with its
// folds) past lim.MaxLine or a head past lim.MaxHead; ErrMalformed for more
// than 4 empty lines first; read errors (timeouts) as br returns them. On an
// error the result holds what was read of the head.
func ReadHead(br *bufio.Reader, buf []byte, lim Limits) ([]byte, error) {
	buf = buf[:0]
	if err := skipEmptyLines(br); err != nil {
		return buf, err
	}
	h := headLimits{lim: lim.withDefaults(), first: true}
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if err == nil {
			done, lerr := h.lineEnded(buf)
			if done || lerr != nil {
				return buf, lerr
			}
			continue
		}
		if lerr := h.lineGrew(buf); lerr != nil {
			return buf, lerr
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
}

// skipEmptyLines discards the empty lines (CRLF or LF) before a start line,
// failing past maxLeadingEmptyLines. It returns br's error when br ends
// before anything else, io.EOF for a closed connection.
func skipEmptyLines(br *bufio.Reader) error {
	for skipped := 0; ; skipped++ {
		b, err := br.Peek(1)
		if err != nil {
			return err
		}
		n := 1
		if b[0] == '\r' {
			b, err = br.Peek(2)
			if err != nil || b[1] != '\n' {
				return nil // a start line beginning with CR: ReadHead reads it
			}
			n = 2
		} else if b[0] != '\n' {
			return nil
		}
		if skipped == maxLeadingEmptyLines {
			return fmt.Errorf("%w: more than %d empty lines before the start line", ErrMalformed, maxLeadingEmptyLines)
		}
		if _, err := br.Discard(n); err != nil {
			return err
		}
	}
}

// headLimits follows the lines of a head as ReadHead appends them, to fail
// as soon as one of them, or the head, is past its limit.
type headLimits struct {
	lim        Limits
	start      int  // where the current line starts in the head
	fieldStart int  // where the current header field starts: an obs-fold continues it
	first      bool // the current line is the start line
}

// lineEnded checks the line that buf now ends with (its LF included) and
// tells whether it was the empty line that ends the head.
func (h *headLimits) lineEnded(buf []byte) (done bool, err error) {
	line := buf[h.start:]
	n := len(line) - 1 // without the LF
	if n > 0 && line[n-1] == '\r' {
		n--
	}
	if n == 0 && !h.first {
		if len(buf) > h.lim.MaxHead {
			return false, ErrHeaderTooLarge
		}
		return true, nil
	}
	if err := h.check(buf, h.start+n); err != nil {
		return false, err
	}
	h.first = false
	h.start = len(buf)
	if h.fieldStart == 0 {
		h.fieldStart = h.start // the header fields start after the start line
	}
	return false, nil
}

// lineGrew checks the line that buf ends with, not ended yet: a CR at its
// end may be the first half of a CRLF.
func (h *headLimits) lineGrew(buf []byte) error {
	end := len(buf)
	if end == h.start {
		return nil // nothing new: checked when the last line ended
	}
	if buf[end-1] == '\r' {
		end--
	}
	return h.check(buf, end)
}

// check fails when the current line, whose content ends at end in buf, or
// the head is past its limit.
func (h *headLimits) check(buf []byte, end int) error {
	if h.first {
		if end-h.start > h.lim.MaxLine {
			return ErrLineTooLong
		}
	} else {
		if h.start < len(buf) && !isWS(buf[h.start]) {
			h.fieldStart = h.start // a field line of its own, not an obs-fold
		}
		if end-h.fieldStart > h.lim.MaxLine {
			return ErrHeaderTooLarge
		}
	}
	if len(buf) > h.lim.MaxHead {
		return ErrHeaderTooLarge
	}
	return nil
}
