package spec

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Parse decodes and validates a stack file's content. file is the name
// errors are reported against, and sets Stack.File and Stack.Dir ("" means
// the working directory). The error, if any, is an ErrorList holding every
// decoding and validation problem, in file order.
func Parse(file string, data []byte) (*Stack, error) {
	s, errs := decode(file, data)
	if s != nil {
		errs = append(errs, s.loadECSTaskDefinitions()...)
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
	s.daemonDefaults()
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
