package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a stack file, at the place it was found.
type Error struct {
	// File is the stack file's path as given to Load or Parse.
	File string
	// Line and Column are 1-based; 0 when unknown (a stack built in code).
	Line, Column int
	// Path is the dotted path of the field, like services.api.target_group
	// or load_balancers.web.listeners[0].port; "" for the whole stack.
	Path string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error formats the error as file:line:column: path: message, the way
// compilers do, so that editors can jump to it.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a stack file, in file order.
type ErrorList []*Error

// Error returns one error per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single *Error in the list.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sort orders the errors by position. It is stable so that errors at the
// same place (or with no place) keep the order they were found in.
func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Column < l[j].Column
	})
}

// Err returns the list in file order as an error, or nil when it is empty,
// so that callers never get a non-nil error interface holding an empty
// list. Callers that add problems of their own (see Stack.ErrorAt) use it.
func (l ErrorList) Err() error { return l.err() }

func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.sort()
	return l
}

// ErrorAt returns an Error about the field at path (dotted, as in
// Error.Path), placed where the field was written, or where its closest
// written parent was when it was left out. Checks made outside this package,
// like whether a task's command can be found, use it so that their problems
// read like those of Validate.
func (s *Stack) ErrorAt(path, msg string) *Error {
	line, col := s.src.position(path)
	return &Error{File: s.File, Line: line, Column: col, Path: path, Msg: msg}
}
