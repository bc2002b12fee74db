package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
)

func runRules(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "rules", "[LISTENER] [--json]")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: shoal rules takes at most one listener, like web/0", errUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	all, err := c.Rules(ctx)
	if err != nil {
		return err
	}
	var shown []proxy.ListenerRules
	for _, lr := range all {
		if len(pos) == 0 || lr.Listener == pos[0] {
			shown = append(shown, lr)
		}
	}
	if len(pos) == 1 && len(shown) == 0 {
		var names []string
		for _, lr := range all {
			names = append(names, lr.Listener)
		}
		return fmt.Errorf("no listener %q: the listeners are %s", pos[0], strings.Join(names, ", "))
	}
	if *fs.json {
		return printJSON(e, shown)
	}
	for i, lr := range shown {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "listener %s: %s://%s\n", lr.Listener, lr.Protocol, lr.Address)
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PRIORITY\tCONDITIONS\tACTION")
		for _, r := range lr.Rules {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", r.Priority, describeConditions(r.Conditions), describeRuleAction(r))
		}
		fmt.Fprintf(tw, "default\t-\t%s\n", describeAction(lr.Default))
		tw.Flush()
	}
	return nil
}

// describeConditions writes a rule's conditions as one line: "path-pattern
// /admin* AND http-header X-Env: canary|beta*".
func describeConditions(cs []routing.Condition) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		var values []string
		switch c.Field {
		case routing.QueryString:
			for _, q := range c.Query {
				values = append(values, cmpOr(q.Key, "*")+"="+q.Value)
			}
		case routing.SourceIP:
			for _, p := range c.CIDRs {
				values = append(values, p.String())
			}
		default:
			values = c.Values
		}
		field := string(c.Field)
		if c.Field == routing.HTTPHeader {
			field += " " + c.HeaderName + ":"
		}
		parts = append(parts, field+" "+strings.Join(values, "|"))
	}
	return strings.Join(parts, " AND ")
}

// describeAction writes an action as one line, its authentication first.
func describeAction(a routing.Action) string { return authFirst(a) + describeMain(a) }

// describeRuleAction writes a rule's action in the order it is carried
// out: authentication, the rule's transforms, the action.
func describeRuleAction(r routing.Rule) string {
	s := authFirst(r.Action)
	if len(r.Transforms) > 0 && r.Action.Type == routing.Forward { // transforms apply to forwards
		s += "rewrite " + describeTransforms(r.Transforms) + ", then "
	}
	return s + describeMain(r.Action)
}

// authFirst is what an action's authentication does first, or "".
func authFirst(a routing.Action) string {
	switch {
	case a.Auth != nil && a.Auth.JWT != nil:
		return "verify JWT (issuer " + a.Auth.JWT.Issuer + "), then "
	case a.Auth != nil && a.Auth.OIDC != nil:
		return "authenticate with OIDC (" + a.Auth.OIDC.Issuer + ", " + cmpOr(a.Auth.OIDC.OnUnauthenticatedRequest, "authenticate") + "), then "
	}
	return ""
}

// describeTransforms writes a rule's transforms as one line.
func describeTransforms(ts []routing.Transform) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %s → %s", t.Type, t.Regex, t.Replace))
	}
	return strings.Join(parts, "; ")
}

// describeMain writes a forward, redirect or fixed response as one line.
func describeMain(a routing.Action) string {
	switch a.Type {
	case routing.Forward:
		f := a.Forward
		var groups []string
		total := 0
		for _, g := range f.Groups {
			total += g.Weight
		}
		for _, g := range f.Groups {
			if len(f.Groups) == 1 {
				groups = append(groups, g.Name)
				continue
			}
			groups = append(groups, fmt.Sprintf("%s (weight %d, %.0f%%)", g.Name, g.Weight, 100*float64(g.Weight)/float64(max(total, 1))))
		}
		s := "forward to " + strings.Join(groups, ", ")
		if f.Stickiness > 0 {
			s += fmt.Sprintf("; sticky for %s", f.Stickiness.Round(time.Second))
		}
		return s
	case routing.Redirect:
		r := a.Redirect
		return fmt.Sprintf("redirect %d to %s://%s:%s%s?%s", r.StatusCode, r.Protocol, r.Host, r.Port, r.Path, r.Query)
	case routing.FixedResponse:
		f := a.Fixed
		s := fmt.Sprintf("fixed-response %d %s", f.StatusCode, f.ContentType)
		if f.Body != "" {
			s += fmt.Sprintf(" %q", truncate(f.Body, 40))
		}
		return s
	}
	return string(a.Type)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// headerFlags collects -H 'Name: value' flags.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q: write it as 'Name: value'", v)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

func runExplain(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "explain", "URL [-X METHOD] [-H 'Name: value']... [--from IP] [--json]")
	method := fs.String("X", http.MethodGet, "request `method`")
	from := fs.String("from", "127.0.0.1", "the client's `address` (what source-ip conditions see)")
	headers := headerFlags{}
	fs.Var(headers, "H", "a request `header`, 'Name: value'; repeat for more")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: shoal explain takes one URL, like: shoal explain http://127.0.0.1:8080/admin -H 'X-Env: canary'", errUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	ex, err := c.Explain(ctx, proxy.ExplainRequest{URL: pos[0], Method: *method, Header: http.Header(headers), From: *from})
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, ex)
	}
	printExplanation(e, ex)
	return nil
}

func printExplanation(e *env, ex proxy.Explanation) {
	fmt.Fprintf(e.stdout, "listener %s (%s)\n", ex.Listener, ex.Address)
	for _, st := range ex.Routing.Steps {
		if st.Matched {
			fmt.Fprintf(e.stdout, "  rule %d: matched\n", st.Priority)
			continue
		}
		var why []string
		for _, c := range st.Conditions {
			if !c.Matched {
				why = append(why, fmt.Sprintf("%s: %s", c.Field, c.Why))
			}
		}
		fmt.Fprintf(e.stdout, "  rule %d: no match: %s\n", st.Priority, strings.Join(why, "; "))
	}
	if ex.Routing.Matched == 0 {
		fmt.Fprintln(e.stdout, "  default action")
	}
	fmt.Fprintf(e.stdout, "action: %s\n", describeAction(ex.Routing.Action))
	switch {
	case ex.Location != "":
		fmt.Fprintf(e.stdout, "location: %s\n", ex.Location)
	case ex.Group != "":
		fmt.Fprintf(e.stdout, "target group: %s (%s)\n", ex.Group, ex.Why)
	}
	if ex.Pick != nil {
		printPick(e, *ex.Pick)
	}
}

// printPick says which target the group would pick now, and why.
func printPick(e *env, p proxy.PickExplanation) {
	if st := p.Stickiness; st != nil {
		fmt.Fprintf(e.stdout, "stickiness (%s): %s\n", st.Type, st.Reason)
	}
	target := p.Target
	if target == "" {
		target = "-"
	}
	fmt.Fprintf(e.stdout, "target: %s (%s)\n", target, p.Reason)
	if p.FailOpen {
		fmt.Fprintln(e.stdout, "  no target is healthy: the group fails open to every registered one")
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CANDIDATE\tSTATE\tIN FLIGHT\tSHARE\tSLOW START")
	for _, c := range p.Candidates {
		share, slow := "-", "-"
		if c.Share > 0 {
			share = fmt.Sprintf("%.1f%%", 100*c.Share)
		}
		if c.SlowStartUntil != nil {
			slow = fmt.Sprintf("%.0f%% until %s", 100*c.SlowStartRamp, c.SlowStartUntil.Local().Format(time.TimeOnly))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", c.Target, c.State, c.InFlight, share, slow)
	}
	tw.Flush()
}
