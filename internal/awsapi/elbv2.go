package awsapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Elastic Load Balancing v2 over the query protocol, as AWS's endpoint
// answers it: a form (POST body, or GET query string) with Action,
// Version 2015-12-01 and the operation's parameters in the protocol's flat
// names; an XML answer in the service's namespace. docs/aws-api.md says,
// operation by operation, which parameters shoal takes and how the stack
// maps onto load balancers, listeners, rules and target groups.

// elbv2Version is the only API version ELBv2 has.
const elbv2Version = "2015-12-01"

// elbv2NS is the namespace of every ELBv2 answer.
const elbv2NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// elbv2Handler runs one operation: it reads q (and calls q.finish before
// changing anything) and returns the operation's result element.
type elbv2Handler func(a *api, ctx context.Context, q *qreq) (any, *Error)

// elbv2Ops are the operations shoal serves.
var elbv2Ops = map[string]elbv2Handler{
	"DescribeLoadBalancers":         (*api).elbDescribeLoadBalancers,
	"DescribeListeners":             (*api).elbDescribeListeners,
	"DescribeListenerCertificates":  (*api).elbDescribeListenerCertificates,
	"DescribeRules":                 (*api).elbDescribeRules,
	"DescribeTargetGroups":          (*api).elbDescribeTargetGroups,
	"DescribeTargetGroupAttributes": (*api).elbDescribeTargetGroupAttributes,
	"DescribeTargetHealth":          (*api).elbDescribeTargetHealth,
	"RegisterTargets":               (*api).elbRegisterTargets,
	"DeregisterTargets":             (*api).elbDeregisterTargets,
	"ModifyTargetGroup":             (*api).elbModifyTargetGroup,
	"ModifyTargetGroupAttributes":   (*api).elbModifyTargetGroupAttributes,
	"ModifyRule":                    (*api).elbModifyRule,
	"ModifyListener":                (*api).elbModifyListener,
}

// serveELBv2 runs the ELBv2 operation the query-protocol form names.
func (a *api) serveELBv2(w http.ResponseWriter, r *http.Request, body []byte) {
	form, e := elbQueryForm(r, body)
	if e != nil {
		writeQueryError(w, e)
		return
	}
	root, e := parseQueryTree(form)
	if e != nil {
		writeQueryError(w, e)
		return
	}
	action, _ := root.str("Action")
	version, hasVersion := root.str("Version")
	switch {
	case action == "":
		writeQueryError(w, clientError("MissingAction", "the request names no Action"))
		return
	case !hasVersion || version == "":
		// AWS's common error for a required parameter not supplied.
		writeQueryError(w, clientError("MissingParameter", "the request must contain the parameter Version ("+elbv2Version+")"))
		return
	case version != elbv2Version:
		// As AWS's query endpoints answer an operation asked for with
		// another service's or a made-up version.
		writeQueryError(w, clientError("InvalidAction", "Could not find operation "+action+" for version "+version+": Elastic Load Balancing v2 is version "+elbv2Version))
		return
	}
	h, ok := elbv2Ops[action]
	if !ok {
		writeQueryError(w, unsupported("elasticloadbalancing", action))
		return
	}
	res, e := h(a, r.Context(), &qreq{qnode: root, action: action})
	if e != nil {
		if a.log != nil && !e.Sender {
			a.log.Error("elbv2 "+action, "code", e.Code, "err", e.Message)
		}
		writeQueryError(w, e)
		return
	}
	writeQueryResult(w, action, res)
}

// elbQueryForm is the request's parameters: the URL's query string and, for
// a POST, the form in its body. The signature's own parameters (a
// presigned request's X-Amz-*) are the authentication's, not the
// operation's.
func elbQueryForm(r *http.Request, body []byte) (url.Values, *Error) {
	form := url.Values{}
	add := func(raw string) *Error {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return clientError("MalformedQueryString", "the request's parameters cannot be parsed: "+err.Error())
		}
		for k, vs := range v {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
				continue
			}
			form[k] = append(form[k], vs...)
		}
		return nil
	}
	if e := add(r.URL.RawQuery); e != nil {
		return nil, e
	}
	if r.Method == http.MethodPost {
		if e := add(strings.TrimSpace(string(body))); e != nil {
			return nil, e
		}
	}
	return form, nil
}

// writeQueryResult writes an operation's answer:
// <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>….
func writeQueryResult(w http.ResponseWriter, action string, res any) {
	var buf bytes.Buffer
	buf.WriteString(`<` + action + `Response xmlns="` + elbv2NS + `">`)
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeElement(res, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		writeQueryError(w, serverError("InternalFailure", "encoding the answer: "+err.Error()))
		return
	}
	enc.Flush()
	buf.WriteString(`<ResponseMetadata><RequestId>`)
	xml.EscapeText(&buf, []byte(w.Header().Get("X-Amzn-Requestid")))
	buf.WriteString(`</RequestId></ResponseMetadata></` + action + `Response>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// writeQueryError writes e in the query protocol's XML error shape.
func writeQueryError(w http.ResponseWriter, e *Error) {
	typ := "Receiver"
	if e.Sender {
		typ = "Sender"
	}
	var buf bytes.Buffer
	buf.WriteString(`<ErrorResponse xmlns="` + elbv2NS + `"><Error><Type>` + typ + `</Type><Code>`)
	xml.EscapeText(&buf, []byte(e.Code))
	buf.WriteString(`</Code><Message>`)
	xml.EscapeText(&buf, []byte(e.Message))
	buf.WriteString(`</Message></Error><RequestId>`)
	xml.EscapeText(&buf, []byte(w.Header().Get("X-Amzn-Requestid")))
	buf.WriteString(`</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	w.Write(buf.Bytes())
}

// xlist is a list in the query protocol's XML: each item a <member>.
// The list's element is written even when it is empty, as AWS does
// (<LoadBalancers/>), unless the field is omitempty.
type xlist[T any] []T

// MarshalXML writes the items as <member> elements.
func (m xlist[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, v := range m {
		if err := e.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "member"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// xmap is a map in the query protocol's XML: <entry><key/><value/></entry>,
// by key.
type xmap map[string]string

// MarshalXML writes the entries in key order.
func (m xmap) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		entry := struct {
			Key   string `xml:"key"`
			Value string `xml:"value"`
		}{k, m[k]}
		if err := e.EncodeElement(entry, xml.StartElement{Name: xml.Name{Local: "entry"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
