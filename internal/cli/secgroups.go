package cli

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/secgroup"
)

// notEnforced is said whenever an answer is about task ports that the
// security groups do not guard (cluster.isolation: none).
const notEnforced = "task ports are not enforced (cluster.isolation: none): any process on this host can connect to a task; " +
	"set cluster.isolation: netns and run shoal as root on Linux to enforce them"

// sgArgs is the synopsis of `shoal sg explain`.
const sgArgs = "[--from ADDR|GROUP|internet --to LISTENER|TASK[:PORT]] [--json]"

// sgRow is one line of the reachability table, as --json prints it.
type sgRow struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Access      string `json:"access"`
	Why         string `json:"why"`
}

// sgAnswer answers one question, --from and --to. Enforced is false for a
// task port when the instances are not isolated: the rules say what they
// would do, but nothing applies them.
type sgAnswer struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Port     uint16 `json:"port"`
	Access   string `json:"access"`
	Why      string `json:"why"`
	Enforced bool   `json:"enforced"`
}

// sgDest is a listener or task port as a destination of the rules.
type sgDest struct {
	secgroup.Destination
	id, addr string // the listener's name or the task's id; its ip:port
	task     bool
}

// runSG is `shoal sg`, whose one subcommand is explain.
func runSG(ctx context.Context, e *env, args []string) error {
	switch {
	case len(args) > 0 && args[0] == "explain":
		return runSGExplain(ctx, e, args[1:])
	case len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]):
		return runSGExplain(ctx, e, args) // prints the help of explain
	}
	return fmt.Errorf("%w: shoal sg takes explain, like: shoal sg explain, or shoal sg explain --from internet --to web/0", errUsage)
}

// runSGExplain prints who can reach what through the security groups, or,
// with --from and --to, answers that one question.
func runSGExplain(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "sg explain", sgArgs)
	from := fs.String("from", "", "who connects: an `address`, a CIDR range, a security group's name (its members) or internet (0.0.0.0/0)")
	to := fs.String("to", "", "the `destination`: a listener's name or address, or a task's id or a unique prefix of one; :PORT after it asks about another port")
	fs.Usage = func() { sgUsage(e, fs) }
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if err := checkSGArgs(pos, *from, *to); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	v, err := c.SecurityGroups(ctx)
	if err != nil {
		return err
	}
	set, err := secgroup.NewSet(v.Groups, v.Members)
	if err != nil {
		return fmt.Errorf("the running stack's security groups: %w", err)
	}
	if *to == "" {
		return explainAll(e, v, set, *fs.json)
	}
	return explainOne(e, v, set, *from, *to, *fs.json)
}

// sgUsage is the help of `shoal sg explain`: what it answers, then its flags.
func sgUsage(e *env, fs *flagSet) {
	fmt.Fprintf(e.stderr, "Usage: shoal sg explain %s\n\n", sgArgs)
	fmt.Fprint(e.stderr, "Without --from and --to, prints for every source (the internet, this host, each security group\n"+
		"with members) and every destination (each listener, each task) whether the source can open a TCP\n"+
		"connection to it, and by which rule. With --from and --to, answers that one question, like:\n"+
		"  shoal sg explain --from internet --to web/0\n"+
		"  shoal sg explain --from alb --to api-3f9a:5000\n\nFlags:\n")
	fs.PrintDefaults()
}

// checkSGArgs refuses the command lines that ask no clear question.
func checkSGArgs(pos []string, from, to string) error {
	switch {
	case len(pos) > 0:
		return fmt.Errorf("%w: shoal sg explain takes no arguments, got %q: ask one question with --from and --to, like: shoal sg explain --from internet --to web/0", errUsage, pos)
	case from != "" && to == "":
		return fmt.Errorf("%w: --from needs --to, the listener or task to ask about, like: shoal sg explain --from %s --to web/0", errUsage, from)
	case to != "" && from == "":
		return fmt.Errorf("%w: --to needs --from, an address, a group or internet, like: shoal sg explain --from internet --to %s", errUsage, to)
	}
	return nil
}

// explainAll prints the reachability table: every source to every
// destination. Its --json is the rows alone; the note that task ports are
// not enforced then goes to stderr.
func explainAll(e *env, v agent.SecurityView, set *secgroup.Set, asJSON bool) error {
	dests, err := destinations(v)
	if err != nil {
		return err
	}
	rows := reachRows(set, sources(v), dests)
	note := !v.Isolated && len(v.Tasks) > 0
	if asJSON {
		if note {
			fmt.Fprintln(e.stderr, notEnforced)
		}
		return printJSON(e, rows)
	}
	if len(v.Groups) == 0 {
		fmt.Fprintln(e.stdout, "the stack has no security groups: anyone may connect to the listeners")
	} else if err := printReach(e, rows); err != nil {
		return err
	}
	if note {
		if len(v.Groups) > 0 {
			fmt.Fprintln(e.stdout) // set the note apart from the table
		}
		fmt.Fprintln(e.stdout, notEnforced)
	}
	return nil
}

func printReach(e *env, rows []sgRow) error {
	tw := table(e, "SOURCE", "DESTINATION", "ACCESS", "WHY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Source, r.Destination, r.Access, r.Why)
	}
	return tw.Flush()
}

// reachRows judges every source against every destination, source by
// source.
func reachRows(set *secgroup.Set, srcs []secgroup.Source, dests []sgDest) []sgRow {
	rows := make([]sgRow, 0, len(srcs)*len(dests))
	for _, src := range srcs {
		for _, d := range dests {
			src := hostSourceFor(src, d)
			access, why := judge(set, src, d.Destination)
			rows = append(rows, sgRow{Source: src.Name, Destination: d.Name, Access: access, Why: why})
		}
	}
	return rows
}

// hostSourceFor is the source this host's processes are to d: a listener
// on a loopback address sees them come from that address, not from the
// address they reach the instances from.
func hostSourceFor(src secgroup.Source, d sgDest) secgroup.Source {
	if !strings.HasPrefix(src.Name, hostSourcePrefix) || d.task {
		return src
	}
	ap, err := netip.ParseAddrPort(d.addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return src
	}
	return secgroup.Source{Name: hostSourcePrefix + ap.Addr().String() + ")", CIDR: onlyAddr(ap.Addr())}
}

// hostSourcePrefix starts the name of the source that is this host.
const hostSourcePrefix = "this host ("

// judge says whether src can open a connection to d: allowed, partly or
// denied, and why. A destination without groups takes every connection
// (where Reachability, asked about no groups, would deny). The why leaves
// out the verdict the access already says.
func judge(set *secgroup.Set, src secgroup.Source, d secgroup.Destination) (access, why string) {
	if len(d.Groups) == 0 {
		return "allowed", "no security groups: anyone may connect"
	}
	r := set.Reachability([]secgroup.Source{src}, []secgroup.Destination{d})[0]
	access = "denied"
	switch {
	case r.Allowed:
		access = "allowed"
	case r.Partly:
		access = "partly"
	}
	return access, strings.TrimPrefix(r.Why, access+": ")
}

// sources are the table's sources: the internet (IPv4 and IPv6), this
// host, and each group with members.
func sources(v agent.SecurityView) []secgroup.Source {
	srcs := []secgroup.Source{
		{Name: "internet", CIDR: netip.MustParsePrefix("0.0.0.0/0")},
		{Name: "internet (IPv6)", CIDR: netip.MustParsePrefix("::/0")},
	}
	if v.Host.IsValid() {
		srcs = append(srcs, secgroup.Source{Name: hostSourcePrefix + v.Host.String() + ")", CIDR: onlyAddr(v.Host)})
	}
	for _, g := range v.Groups {
		if len(v.Members[g.Name]) > 0 {
			srcs = append(srcs, secgroup.Source{Name: "group " + g.Name, Group: g.Name})
		}
	}
	return srcs
}

func onlyAddr(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// destinations are the listeners, then the tasks, each on its TCP port.
func destinations(v agent.SecurityView) ([]sgDest, error) {
	var dests []sgDest
	for _, l := range v.Listeners {
		d, err := newDest(l, fmt.Sprintf("listener %s (%s)", l.Name, l.Address), false)
		if err != nil {
			return nil, err
		}
		dests = append(dests, d)
	}
	for _, t := range v.Tasks {
		d, err := newDest(t, fmt.Sprintf("task %s (service %s on %s, %s)", t.Name, t.Service, t.Instance, t.Address), true)
		if err != nil {
			return nil, err
		}
		dests = append(dests, d)
	}
	return dests, nil
}

func newDest(p agent.GuardedPort, name string, task bool) (sgDest, error) {
	_, ps, err := net.SplitHostPort(p.Address)
	port, perr := strconv.ParseUint(ps, 10, 16)
	if err != nil || perr != nil || port == 0 {
		return sgDest{}, fmt.Errorf("%s has no port in its address %q: the running shoal sent a view this command cannot read; is it the same version?", p.Name, p.Address)
	}
	return sgDest{
		Destination: secgroup.Destination{Name: name, Groups: p.Groups, Protocol: secgroup.TCP, Port: uint16(port)},
		id:          p.Name, addr: p.Address, task: task,
	}, nil
}

// explainOne answers whether from can open a TCP connection to to.
func explainOne(e *env, v agent.SecurityView, set *secgroup.Set, from, to string, asJSON bool) error {
	src, err := parseFrom(v, from)
	if err != nil {
		return err
	}
	dests, err := destinations(v)
	if err != nil {
		return err
	}
	d, err := resolveTo(dests, to)
	if err != nil {
		return err
	}
	access, why := judge(set, src, d.Destination)
	a := sgAnswer{From: src.Name, To: d.Name, Port: d.Port, Access: access, Why: why, Enforced: !d.task || v.Isolated}
	if !a.Enforced {
		fmt.Fprintln(e.stderr, notEnforced)
	}
	if asJSON {
		return printJSON(e, a)
	}
	fmt.Fprintf(e.stdout, "%s → %s port %d: %s: %s\n", a.From, a.To, a.Port, a.Access, a.Why)
	return nil
}

// parseFrom reads --from: internet (0.0.0.0/0), an address (alone) or a
// CIDR range, or a group's name (its members).
func parseFrom(v agent.SecurityView, from string) (secgroup.Source, error) {
	if from == "internet" {
		return secgroup.Source{Name: "internet", CIDR: netip.MustParsePrefix("0.0.0.0/0")}, nil
	}
	if a, err := netip.ParseAddr(from); err == nil {
		return secgroup.Source{Name: a.String(), CIDR: onlyAddr(a)}, nil
	}
	if p, err := netip.ParsePrefix(from); err == nil {
		return secgroup.Source{Name: p.Masked().String(), CIDR: p.Masked()}, nil
	}
	names := make([]string, len(v.Groups))
	for i, g := range v.Groups {
		names[i] = g.Name
	}
	if slices.Contains(names, from) {
		return secgroup.Source{Name: "group " + from, Group: from}, nil
	}
	has := "the stack has no security groups"
	if len(names) > 0 {
		has = "the stack's groups are " + strings.Join(names, ", ")
	}
	return secgroup.Source{}, fmt.Errorf("%w: --from %q is not an address, a CIDR range, a security group or internet (%s)", errUsage, from, has)
}

// resolveTo finds the destination --to names: a listener by name or
// address, a task by id, address or unique prefix of its id, either
// optionally followed by :PORT. A whole match comes first, so that
// 127.0.0.1:8080 is an address and web/0:81 a listener and a port.
//
// Another port of a task is guarded by its instance's groups alone, but the
// view does not tell them from its service's: the answer judges it by all
// of the task's groups, which may allow what the instance would not.
func resolveTo(dests []sgDest, to string) (sgDest, error) {
	d, found, err := lookupDest(dests, to)
	if err != nil || found {
		return d, err
	}
	i := strings.LastIndexByte(to, ':')
	if i < 0 {
		return sgDest{}, unknownDest(dests, to)
	}
	d, found, err = lookupDest(dests, to[:i])
	if err != nil {
		return d, err
	}
	if !found {
		return sgDest{}, unknownDest(dests, to)
	}
	port, perr := strconv.ParseUint(to[i+1:], 10, 16)
	if perr != nil || port == 0 {
		return sgDest{}, fmt.Errorf("%w: --to %q: %q is not a port: write 1 to 65535, like %s:%d", errUsage, to, to[i+1:], to[:i], d.Port)
	}
	d.Port = uint16(port)
	return d, nil
}

// lookupDest finds ref among dests: a listener's or task's exact name or
// address, else the one task whose id starts with ref. found is false when
// nothing matches; several tasks are an error naming them.
func lookupDest(dests []sgDest, ref string) (d sgDest, found bool, err error) {
	var prefixed []sgDest
	for _, d := range dests {
		if d.id == ref || d.addr == ref {
			return d, true, nil
		}
		if d.task && strings.HasPrefix(d.id, ref) {
			prefixed = append(prefixed, d)
		}
	}
	switch len(prefixed) {
	case 0:
		return sgDest{}, false, nil
	case 1:
		return prefixed[0], true, nil
	}
	ids := make([]string, len(prefixed))
	for i, d := range prefixed {
		ids[i] = d.id
	}
	return sgDest{}, false, fmt.Errorf("%w: --to %q matches %d tasks, %s: give more of the id", errUsage, ref, len(ids), strings.Join(ids, ", "))
}

func unknownDest(dests []sgDest, to string) error {
	var listeners []string
	for _, d := range dests {
		if !d.task {
			listeners = append(listeners, d.id+" at "+d.addr)
		}
	}
	has := "the stack has no listeners"
	if len(listeners) > 0 {
		has = "the listeners are " + strings.Join(listeners, ", ")
	}
	return fmt.Errorf("%w: --to %q is no listener or task of the running stack: give a listener's name or address, or a task id (%s; `shoal ps` lists the tasks)", errUsage, to, has)
}
