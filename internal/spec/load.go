package spec

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse decodes and validates a stack file's content. file is the name
// errors are reported against, and sets Stack.File and Stack.Dir ("" means
// the working directory). The error, if any, is an ErrorList holding every
// decoding and validation problem, in file order.
func Parse(file string, data []byte) (*Stack, error) {
	s, errs := decode(file, data)
	if s != nil {
		errs = append(errs, s.validate()...)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// decode turns data into a stack with its defaults, without validating it.
// It returns no stack when data is not a YAML document at all.
func decode(file string, data []byte) (*Stack, ErrorList) {
	root, err := readDocument(file, data)
	if err != nil {
		return nil, ErrorList{err}
	}
	s := &Stack{File: file, Dir: dirOf(file), src: newSource()}
	s.setDefaults()
	d := &decoder{file: file, src: s.src}
	s.src.pos[""] = position{root.Line, root.Column}
	d.value(root, reflect.ValueOf(s).Elem(), "")
	if s.Name == "" {
		s.Name = filepath.Base(s.Dir)
	}
	return s, d.errs
}

// dirOf returns the absolute folder of file, or the working directory.
func dirOf(file string) string {
	dir := "."
	if file != "" {
		dir = filepath.Dir(file)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// readDocument parses data as one YAML document and returns its root.
func readDocument(file string, data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root *yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(file, data, err)
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // an empty document, like a trailing ---
		}
		if root != nil {
			return nil, &Error{File: file, Line: doc.Line, Column: doc.Column,
				Msg: "the file holds more than one YAML document: keep one stack per file"}
		}
		root = doc.Content[0]
	}
	if root == nil {
		return nil, &Error{File: file, Msg: "the stack is empty: see examples/catalog/shoal.yaml"}
	}
	return root, nil
}

// syntaxError turns a YAML parser error ("yaml: line 3: did not find
// expected key") into an Error at its line.
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
	if anchor, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		line = lineOf(data, "*"+strings.TrimSuffix(anchor, "' referenced"))
		msg = "aliases are not supported: write the value out in full"
	}
	switch {
	case lineHasTab(data, line):
		msg += " (YAML does not allow tabs for indentation: use spaces)"
	case msg == "did not find expected key" || msg == "did not find expected '-' indicator":
		msg += " (check the indentation of this line and of those after it)"
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// isParserProblem reports whether msg comes from the YAML parser rather
// than its scanner (the two count lines differently).
func isParserProblem(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		msg == "found undefined tag handle" ||
		msg == "found incompatible YAML document"
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
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(lines[line-1], " "), []byte("\t"))
}
