package awsapi

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The query protocol's parameters are flat: a struct's member is
// "Name.Member", a list's items "Name.member.1", "Name.member.2" …, a map's
// entries "Name.entry.1.key" and "Name.entry.1.value", and an empty list
// is "Name=" alone. qnode rebuilds the tree, and each read marks what it
// took, so that an operation can refuse whatever it did not read: shoal
// never drops a parameter the caller set without saying so.

// qnode is one parameter, or the parent of nested ones.
type qnode struct {
	key  string // the full parameter name ("Actions.member.1" for an inner one)
	val  string
	set  bool // a value was sent under this exact name
	used bool
	kids map[string]*qnode
}

// parseQueryTree builds the tree of the form's parameters (Action and
// Version included).
func parseQueryTree(form url.Values) (*qnode, *Error) {
	root := &qnode{}
	for key, vals := range form {
		if len(vals) > 1 {
			return nil, elbValidation(fmt.Sprintf("parameter %s is given %d times: give it once", key, len(vals)))
		}
		n := root
		for part := range strings.SplitSeq(key, ".") {
			if n.kids == nil {
				n.kids = map[string]*qnode{}
			}
			c := n.kids[part]
			if c == nil {
				c = &qnode{key: part}
				if n.key != "" {
					c.key = n.key + "." + part
				}
				n.kids[part] = c
			}
			n = c
		}
		n.val, n.set = vals[0], true
	}
	return root, nil
}

// get is the child name, or nil.
func (n *qnode) get(name string) *qnode {
	if n == nil {
		return nil
	}
	return n.kids[name]
}

// has reports whether anything was sent under name.
func (n *qnode) has(name string) bool { return n.get(name) != nil }

// str is the value of name.
func (n *qnode) str(name string) (string, bool) {
	c := n.get(name)
	if c == nil || !c.set {
		return "", false
	}
	c.used = true
	return c.val, true
}

// list is the items of list name, in index order; present is false when
// the list was not sent at all ("Name=" is an empty list, present).
func (n *qnode) list(name string) (items []*qnode, present bool) {
	c := n.get(name)
	if c == nil {
		return nil, false
	}
	if c.set {
		c.used = true // "Name=": an empty list
	}
	m := c.kids["member"]
	if m == nil {
		return nil, true
	}
	type item struct {
		i int
		n *qnode
	}
	var its []item
	for k, v := range m.kids {
		i, err := strconv.Atoi(k)
		if err != nil || i < 1 {
			continue // left unread: refused as an unknown parameter
		}
		its = append(its, item{i, v})
	}
	slices.SortFunc(its, func(a, b item) int { return a.i - b.i })
	for _, it := range its {
		items = append(items, it.n)
	}
	return items, true
}

// strs is the values of a list of strings.
func (n *qnode) strs(name string) ([]string, bool) {
	items, ok := n.list(name)
	var out []string
	for _, it := range items {
		if it.set {
			it.used = true
			out = append(out, it.val)
		}
	}
	return out, ok
}

// entries is the entries of map name.
func (n *qnode) entries(name string) (map[string]string, bool) {
	c := n.get(name)
	if c == nil {
		return nil, false
	}
	if c.set {
		c.used = true
	}
	out := map[string]string{}
	for _, e := range c.get("entry").kidsInOrder() {
		k, okK := e.str("key")
		v, okV := e.str("value")
		if okK && okV {
			out[k] = v
		}
	}
	return out, true
}

func (n *qnode) kidsInOrder() []*qnode {
	if n == nil {
		return nil
	}
	var keys []int
	for k := range n.kids {
		if i, err := strconv.Atoi(k); err == nil && i >= 1 {
			keys = append(keys, i)
		}
	}
	slices.Sort(keys)
	var out []*qnode
	for _, k := range keys {
		out = append(out, n.kids[strconv.Itoa(k)])
	}
	return out
}

// integer is the value of name as an integer.
func (n *qnode) integer(name string) (int, bool, *Error) {
	s, ok := n.str(name)
	if !ok {
		return 0, false, nil
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, false, elbValidation(fmt.Sprintf("value '%s' of %s is not an integer", s, n.get(name).key))
	}
	return i, true, nil
}

// boolean is the value of name as a boolean.
func (n *qnode) boolean(name string) (bool, bool, *Error) {
	s, ok := n.str(name)
	if !ok {
		return false, false, nil
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, elbValidation(fmt.Sprintf("value '%s' of %s is not a boolean: use true or false", s, n.get(name).key))
}

// ignore marks name and everything under it as read.
func (n *qnode) ignore(name string) {
	var mark func(*qnode)
	mark = func(m *qnode) {
		if m == nil {
			return
		}
		m.used = true
		for _, k := range m.kids {
			mark(k)
		}
	}
	mark(n.get(name))
}

// unread lists the parameters sent but not read, sorted.
func (n *qnode) unread() []string {
	var out []string
	var walk func(*qnode)
	walk = func(m *qnode) {
		if m.set && !m.used {
			out = append(out, m.key)
		}
		for _, k := range m.kids {
			walk(k)
		}
	}
	walk(n)
	slices.Sort(out)
	return out
}

// qreq is one request's parameters.
type qreq struct {
	*qnode
	action string
}

// finish refuses the parameters the operation did not read: shoal does
// not implement them, and ignoring a change the caller asked for would be
// worse than refusing it.
func (q *qreq) finish() *Error {
	u := q.unread()
	if len(u) == 0 {
		return nil
	}
	if len(u) > 5 {
		u = append(u[:5], fmt.Sprintf("and %d more", len(u)-5))
	}
	return elbValidation(fmt.Sprintf("shoal does not support the parameter(s) %s of %s; see docs/aws-api.md for the parameters it takes",
		strings.Join(u, ", "), q.action))
}

// required is the value of a required string parameter; member is its
// name in AWS's validation messages (lower camel case).
func (q *qreq) required(name string) (string, *Error) {
	s, ok := q.str(name)
	if !ok || s == "" {
		return "", elbMissing(name)
	}
	return s, nil
}

// elbMissing is AWS's error for a required parameter not given.
func elbMissing(name string) *Error {
	return elbValidation(fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", elbLowerFirst(name)))
}

func elbLowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// elbValidation is ELBv2's ValidationError (400).
func elbValidation(msg string) *Error { return clientError("ValidationError", msg) }
