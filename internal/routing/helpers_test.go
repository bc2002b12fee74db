package routing

import (
	"net/http"
	"net/netip"
)

// Condition and action builders for the tables.

func host(values ...string) Condition { return Condition{Field: HostHeader, Values: values} }
func path(values ...string) Condition { return Condition{Field: PathPattern, Values: values} }
func method(values ...string) Condition {
	return Condition{Field: HTTPRequestMethod, Values: values}
}
func header(name string, values ...string) Condition {
	return Condition{Field: HTTPHeader, HeaderName: name, Values: values}
}
func query(pairs ...KeyValue) Condition { return Condition{Field: QueryString, Query: pairs} }
func source(cidrs ...string) Condition {
	c := Condition{Field: SourceIP}
	for _, s := range cidrs {
		c.CIDRs = append(c.CIDRs, netip.MustParsePrefix(s))
	}
	return c
}

func forward(groups ...string) Action {
	f := &ForwardAction{}
	for _, g := range groups {
		f.Groups = append(f.Groups, WeightedGroup{Name: g, Weight: 1})
	}
	return Action{Type: Forward, Forward: f}
}

func fixedAction(status int) Action {
	return Action{Type: FixedResponse, Fixed: &FixedResponseAction{StatusCode: status, ContentType: "text/plain"}}
}

func redirectAction(r RedirectAction) Action { return Action{Type: Redirect, Redirect: &r} }

func ruleAt(priority int, a Action, conds ...Condition) Rule {
	return Rule{Priority: priority, Conditions: conds, Action: a}
}

// get is a GET request for a URL's parts, from 192.0.2.10 on an http
// listener on port 80.
func get(host, path, rawQuery string) *Request {
	return &Request{
		Host: host, Path: path, RawQuery: rawQuery, Method: http.MethodGet,
		Header: http.Header{}, Source: netip.MustParseAddr("192.0.2.10"), Scheme: "http", Port: "80",
	}
}
