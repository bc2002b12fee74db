package spec

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// mappingValues is the YAML parser's message for a ": " where no key can
// start, as in command: echo a: b.
const mappingValues = "mapping values are not allowed in this context"

// syntaxError turns a YAML parser error ("yaml: line 3: did not find
// expected key") into an Error at its line and column, with a hint for the
// common mistakes. The parser gives only the line: the column is that of
// the token on the line that the problem is about.
func syntaxError(file string, data []byte, err error) *Error {
	msg, ok := strings.CutPrefix(err.Error(), "yaml: ")
	if !ok {
		return &Error{File: file, Msg: "invalid YAML: " + err.Error()}
	}
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, _ := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); err == nil {
			line, msg = n, text
		}
	}
	if isParserProblem(msg) || line == 0 {
		// The parser (unlike the scanner) counts lines from 0, and leaves
		// out line 0.
		line++
	}
	text, lineOK := lineAt(data, line)
	col := -1 // the byte offset in text of the token the problem is about
	switch {
	case strings.HasPrefix(msg, "unknown anchor '"):
		alias := "*" + strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		line = lineOf(data, alias)
		text, lineOK = lineAt(data, line)
		col = strings.Index(text, alias)
		msg = "aliases are not supported: write the value out in full"
	case lineHasTab(data, line):
		col = strings.IndexByte(text, '\t')
		msg += " (YAML does not allow tabs for indentation: use spaces)"
	case msg == mappingValues:
		col = badColon(data, line)
		msg += colonHint(text, col)
	case msg == "did not find expected key" || msg == "did not find expected '-' indicator":
		msg += " (check the indentation of this line and of those after it)"
	case msg == "found character that cannot start any token":
		col = strings.IndexAny(text, "@`\t")
	case msg == "did not find expected ',' or ']'":
		if col = unclosed(text, '[', ']'); col >= 0 {
			msg += " (the list that starts here is not closed: end it with ])"
		}
	case msg == "did not find expected ',' or '}'":
		if col = unclosed(text, '{', '}'); col >= 0 {
			msg += " (the mapping that starts here is not closed: end it with })"
		}
	case msg == "found unknown escape character":
		col = strings.IndexByte(text, '\\')
	case msg == "found unexpected end of stream":
		col = strings.IndexAny(text, `"'`)
	}
	e := &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
	if lineOK {
		e.Column = column(text, col)
	}
	return e
}

// isParserProblem reports whether msg comes from the YAML parser rather
// than its scanner (the two count lines differently).
func isParserProblem(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		msg == "found undefined tag handle" ||
		msg == "found incompatible YAML document"
}

// column is the 1-based column, counted in characters as YAML does, of the
// byte offset i in text; when i is unknown (< 0), of the first thing
// written on the line.
func column(text string, i int) int {
	if i < 0 {
		i = len(text) - len(strings.TrimLeft(text, " "))
	}
	return 1 + utf8.RuneCountInString(text[:i])
}

// lineAt returns the text of the 1-based line of data, without its line
// break, and whether data has that line.
func lineAt(data []byte, line int) (string, bool) {
	if line < 1 {
		return "", false
	}
	for rest := data; ; line-- {
		text, after, more := bytes.Cut(rest, []byte("\n"))
		if line == 1 {
			return string(bytes.TrimSuffix(text, []byte("\r"))), true
		}
		if !more {
			return "", false
		}
		rest = after
	}
}

// lineStart returns the byte offset in data where the 1-based line starts.
func lineStart(data []byte, line int) int {
	off := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	return off
}

// lineOf returns the 1-based line where s first appears in data, or 1.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 1
	}
	return 1 + bytes.Count(data[:i], []byte("\n"))
}

func lineHasTab(data []byte, line int) bool {
	text, _ := lineAt(data, line)
	return strings.HasPrefix(strings.TrimLeft(text, " "), "\t")
}

// maxColonTries bounds the parses badColon makes on one line.
const maxColonTries = 16

// badColon returns the byte offset in the line of the ":" that the parser
// refused as the start of a value, or -1. It is the first one at which the
// file, cut just after it, already fails that way: which one that is
// depends on the lines before as much as on this one (in "a: b: c" the
// second, but in a line that continues the value of the line above, the
// first).
func badColon(data []byte, line int) int {
	text, _ := lineAt(data, line)
	start := lineStart(data, line)
	tries := 0
	for i := 0; i < len(text) && tries < maxColonTries; i++ {
		if text[i] != ':' || (i+1 < len(text) && text[i+1] != ' ' && text[i+1] != '\t') {
			continue
		}
		tries++
		if firstProblem(data[:start+i+1]) == mappingValues {
			return i
		}
	}
	return -1
}

// firstProblem parses data and returns the YAML parser's first complaint
// about it without its "yaml: line N: " prefix, or "".
func firstProblem(data []byte) string {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if rest, ok := strings.CutPrefix(msg, "line "); ok {
				if _, text, ok := strings.Cut(rest, ": "); ok {
					msg = text
				}
			}
			return msg
		}
	}
}

// colonHint says how to fix a ": " the parser refused at byte offset col
// of text: in a plain value (command: echo a: b), by quoting the value; as
// the line's own key, by fixing the line's indentation, since the parser
// took the line for the rest of the value above it.
func colonHint(text string, col int) string {
	e, ok := splitEntry(text)
	switch {
	case col < 0 || !ok:
		return ""
	case col <= e.sep:
		return " (check the indentation of this line: it is read as the rest of the value above it)"
	case e.value == "":
		return ""
	}
	fixed := e.key + ": " + quote(e.value)
	if e.comment != "" {
		fixed += " " + e.comment
	}
	return ` (a value that holds ": " must be quoted: ` + fixed + ")"
}

// entryLine is a line "KEY: VALUE # comment", maybe after list markers ("- ").
type entryLine struct {
	// key is the line from its first character (list markers included)
	// to the ":" after the key, which is at byte offset sep.
	key string
	sep int
	// value is the value when it is a plain one (not quoted, no list or
	// mapping, no block), without the comment; "" otherwise.
	value, comment string
}

// notPlain holds the characters a plain YAML scalar cannot start with.
const notPlain = `"'[{|>&*!%@#` + "`"

func splitEntry(text string) (entryLine, bool) {
	rest := strings.TrimLeft(text, " ")
	first := len(text) - len(rest)
	for strings.HasPrefix(rest, "- ") {
		rest = strings.TrimLeft(rest[2:], " ")
	}
	sep := strings.Index(rest, ": ")
	if rest == "" || sep <= 0 || strings.ContainsRune(notPlain, rune(rest[0])) {
		return entryLine{}, false
	}
	off := len(text) - len(rest)
	e := entryLine{key: text[first : off+sep], sep: off + sep}
	value := strings.TrimLeft(rest[sep+2:], " \t")
	if value == "" || strings.ContainsRune(notPlain, rune(value[0])) {
		return e, true
	}
	if i := strings.Index(value, " #"); i >= 0 {
		value, e.comment = value[:i], strings.TrimLeft(value[i:], " ")
	}
	e.value = strings.TrimRight(value, " \t")
	return e, true
}

// quote writes s as a YAML string in quotes: double ones, or single ones
// when s holds a double quote or a backslash.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// unclosed returns the byte offset in text of the last open bracket that
// is not closed on the line, or -1.
func unclosed(text string, open, close byte) int {
	var opened []int
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case open:
			opened = append(opened, i)
		case close:
			if len(opened) > 0 {
				opened = opened[:len(opened)-1]
			}
		}
	}
	if len(opened) == 0 {
		return -1
	}
	return opened[len(opened)-1]
}
