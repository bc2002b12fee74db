package cli

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/secgroup"
)

// sgBackend is fixedBackend serving view as the security groups.
type sgBackend struct {
	*fixedBackend
	view agent.SecurityView
}

func (b sgBackend) SecurityGroups() agent.SecurityView { return b.view }

// tutorialView is the AWS tutorial's setup: a load balancer in group alb,
// open to the world on its port, and instances in group instances that
// admit only the load balancer.
func tutorialView() agent.SecurityView {
	addrs := func(s ...string) []netip.Addr {
		out := make([]netip.Addr, len(s))
		for i, a := range s {
			out[i] = netip.MustParseAddr(a)
		}
		return out
	}
	return agent.SecurityView{
		Groups: []secgroup.Group{
			{Name: "alb", Ingress: []secgroup.Rule{{Protocol: secgroup.TCP, Ports: secgroup.PortRange{From: 8080, To: 8080}, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}},
			{Name: "instances", Ingress: []secgroup.Rule{{Protocol: secgroup.All, Ports: secgroup.AllPorts, SourceGroup: "alb"}}},
		},
		Members:   map[string][]netip.Addr{"alb": addrs("198.18.7.254"), "instances": addrs("198.18.7.2", "198.18.7.3")},
		Listeners: []agent.GuardedPort{{Name: "web/0", Address: "127.0.0.1:8080", Groups: []string{"alb"}}},
		Tasks: []agent.GuardedPort{
			{Name: "api-3f9a1c2b", Address: "198.18.7.2:41234", Groups: []string{"instances"}, Service: "api", Instance: "instance-1"},
			{Name: "api-7c0d5e6f", Address: "198.18.7.3:41240", Groups: []string{"instances"}, Service: "api", Instance: "instance-2"},
		},
		Isolated: true,
		Host:     netip.MustParseAddr("198.18.7.1"),
	}
}

// sgRun runs `shoal sg explain args...` against a shoal serving view.
func sgRun(t *testing.T, view agent.SecurityView, args ...string) (int, string, string) {
	t.Helper()
	state, _ := serveAdmin(t, sgBackend{newFixedBackend(), view})
	return run(t, context.Background(), append([]string{"sg", "explain", "--state-dir", state}, args...)...)
}

const (
	sgListener = "listener web/0 (127.0.0.1:8080)"
	sgTask1    = "task api-3f9a1c2b (service api on instance-1, 198.18.7.2:41234)"
	sgTask2    = "task api-7c0d5e6f (service api on instance-2, 198.18.7.3:41240)"
)

func TestSG_TableSaysWhoReachesWhat(t *testing.T) {
	code, out, errOut := sgRun(t, tutorialView())
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	want := "" +
		"SOURCE                  DESTINATION                                                      ACCESS   WHY\n" +
		"internet                listener web/0 (127.0.0.1:8080)                                  allowed  allowed by alb rule 1: tcp 8080 from 0.0.0.0/0\n" +
		"internet                task api-3f9a1c2b (service api on instance-1, 198.18.7.2:41234)  denied   no rule of instances allows tcp 41234 from 0.0.0.0/0; instances rule 1 allows only members of group alb\n" +
		"internet                task api-7c0d5e6f (service api on instance-2, 198.18.7.3:41240)  denied   no rule of instances allows tcp 41240 from 0.0.0.0/0; instances rule 1 allows only members of group alb\n" +
		"internet (IPv6)         listener web/0 (127.0.0.1:8080)                                  denied   no rule of alb allows tcp 8080 from ::/0\n" +
		"internet (IPv6)         task api-3f9a1c2b (service api on instance-1, 198.18.7.2:41234)  denied   no rule of instances allows tcp 41234 from ::/0; instances rule 1 allows only members of group alb\n" +
		"internet (IPv6)         task api-7c0d5e6f (service api on instance-2, 198.18.7.3:41240)  denied   no rule of instances allows tcp 41240 from ::/0; instances rule 1 allows only members of group alb\n" +
		"this host (127.0.0.1)   listener web/0 (127.0.0.1:8080)                                  allowed  allowed by alb rule 1: tcp 8080 from 0.0.0.0/0\n" +
		"this host (198.18.7.1)  task api-3f9a1c2b (service api on instance-1, 198.18.7.2:41234)  denied   no rule of instances allows tcp 41234 from 198.18.7.1\n" +
		"this host (198.18.7.1)  task api-7c0d5e6f (service api on instance-2, 198.18.7.3:41240)  denied   no rule of instances allows tcp 41240 from 198.18.7.1\n" +
		"group alb               listener web/0 (127.0.0.1:8080)                                  allowed  allowed for every member of group alb (1 address), by alb rule 1: tcp 8080 from 0.0.0.0/0\n" +
		"group alb               task api-3f9a1c2b (service api on instance-1, 198.18.7.2:41234)  allowed  allowed by instances rule 1: all traffic from group alb\n" +
		"group alb               task api-7c0d5e6f (service api on instance-2, 198.18.7.3:41240)  allowed  allowed by instances rule 1: all traffic from group alb\n" +
		"group instances         listener web/0 (127.0.0.1:8080)                                  allowed  allowed for every member of group instances (2 addresses), by alb rule 1: tcp 8080 from 0.0.0.0/0\n" +
		"group instances         task api-3f9a1c2b (service api on instance-1, 198.18.7.2:41234)  denied   no rule of instances allows tcp 41234 from group instances or any of its 2 members\n" +
		"group instances         task api-7c0d5e6f (service api on instance-2, 198.18.7.3:41240)  denied   no rule of instances allows tcp 41240 from group instances or any of its 2 members\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

// TestSG_NoteWhenTaskPortsAreNotEnforced: on loopback the table still
// judges the task ports by their rules, and says once, after it, that
// nothing applies them; with --json the note goes to stderr.
func TestSG_NoteWhenTaskPortsAreNotEnforced(t *testing.T) {
	v := tutorialView()
	v.Isolated = false
	code, out, errOut := sgRun(t, v)
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	if !strings.HasSuffix(out, " from group instances or any of its 2 members\n\n"+notEnforced+"\n") {
		t.Errorf("stdout does not end with the table, a blank line and the note:\n%s", out)
	}
	if strings.Count(out, "not enforced") != 1 {
		t.Errorf("the note is not printed once:\n%s", out)
	}

	code, out, errOut = sgRun(t, v, "--json")
	if code != 0 || errOut != notEnforced+"\n" {
		t.Errorf("--json: exit %d, stderr %q; want 0 and the note", code, errOut)
	}
	if strings.Contains(out, "not enforced") {
		t.Errorf("--json: the note is in stdout:\n%s", out)
	}

	v.Tasks = nil
	if _, out, errOut = sgRun(t, v); strings.Contains(out+errOut, "not enforced") {
		t.Errorf("no tasks, yet the note:\n%s%s", out, errOut)
	}
}

func TestSG_StackWithoutGroups(t *testing.T) {
	v := tutorialView()
	v.Groups, v.Members, v.Isolated = nil, nil, false
	v.Listeners[0].Groups, v.Tasks[0].Groups, v.Tasks[1].Groups = nil, nil, nil
	code, out, errOut := sgRun(t, v)
	want := "the stack has no security groups: anyone may connect to the listeners\n" + notEnforced + "\n"
	if code != 0 || errOut != "" || out != want {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0 and\n%s", code, out, errOut, want)
	}
	code, out, _ = sgRun(t, v, "--from", "internet", "--to", "web/0")
	if want := "internet → listener web/0 (127.0.0.1:8080) port 8080: allowed: no security groups: anyone may connect\n"; code != 0 || out != want {
		t.Errorf("one question: got exit %d, %q; want 0 and %q", code, out, want)
	}
}

// TestSG_OneQuestion: --from and --to, each in every form, answer in one
// line naming the source, the destination and its port.
func TestSG_OneQuestion(t *testing.T) {
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"internet to a listener by name", "internet", "web/0",
			"internet → " + sgListener + " port 8080: allowed: allowed by alb rule 1: tcp 8080 from 0.0.0.0/0"},
		{"a listener by address", "203.0.113.9", "127.0.0.1:8080",
			"203.0.113.9 → " + sgListener + " port 8080: allowed: allowed by alb rule 1: tcp 8080 from 0.0.0.0/0"},
		{"another port of a listener", "internet", "web/0:81",
			"internet → " + sgListener + " port 81: denied: no rule of alb allows tcp 81 from 0.0.0.0/0"},
		{"an IPv6 address", "2001:db8::1", "web/0",
			"2001:db8::1 → " + sgListener + " port 8080: denied: no rule of alb allows tcp 8080 from 2001:db8::1"},
		{"the balancer's address to a task prefix", "198.18.7.254", "api-7c",
			"198.18.7.254 → " + sgTask2 + " port 41240: allowed: allowed by instances rule 1: all traffic from group alb"},
		{"a group to a task prefix with a port", "alb", "api-3f9a:5000",
			"group alb → " + sgTask1 + " port 5000: allowed: allowed by instances rule 1: all traffic from group alb"},
		{"a group that is not admitted", "instances", "api-3f9a1c2b",
			"group instances → " + sgTask1 + " port 41234: denied: no rule of instances allows tcp 41234 from group instances or any of its 2 members"},
		{"a task by address", "internet", "198.18.7.3:41240",
			"internet → " + sgTask2 + " port 41240: denied: no rule of instances allows tcp 41240 from 0.0.0.0/0; instances rule 1 allows only members of group alb"},
		{"a CIDR range", "0.0.0.0/1", "web/0",
			"0.0.0.0/1 → " + sgListener + " port 8080: allowed: allowed by alb rule 1: tcp 8080 from 0.0.0.0/0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := sgRun(t, tutorialView(), "--from", c.from, "--to", c.to)
			if code != 0 || errOut != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
			}
			if out != c.want+"\n" {
				t.Errorf("got  %q\nwant %q", out, c.want+"\n")
			}
		})
	}
}

func TestSG_OneQuestionAboutAnUnenforcedTask(t *testing.T) {
	v := tutorialView()
	v.Isolated = false
	code, out, errOut := sgRun(t, v, "--from", "198.18.7.1", "--to", "api-3f")
	want := "198.18.7.1 → " + sgTask1 + " port 41234: denied: no rule of instances allows tcp 41234 from 198.18.7.1\n"
	if code != 0 || out != want || errOut != notEnforced+"\n" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want 0, %q and the note", code, out, errOut, want)
	}
	if _, _, errOut := sgRun(t, v, "--from", "198.18.7.1", "--to", "web/0"); errOut != "" {
		t.Errorf("a listener's groups are always enforced, yet stderr %q", errOut)
	}
}

func TestSG_JSON(t *testing.T) {
	v := tutorialView()
	v.Isolated = false
	t.Run("table", func(t *testing.T) {
		_, out, _ := sgRun(t, v, "--json")
		var rows []sgRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%v in:\n%s", err, out)
		}
		if len(rows) != 15 {
			t.Fatalf("%d rows, want 5 sources × 3 destinations", len(rows))
		}
		want := sgRow{Source: "group alb", Destination: sgTask2, Access: "allowed", Why: "allowed by instances rule 1: all traffic from group alb"}
		if diff := cmp.Diff(want, rows[11]); diff != "" {
			t.Errorf("row 12 (-want +got):\n%s", diff)
		}
		if rows[3].Source != "internet (IPv6)" || rows[3].Access != "denied" {
			t.Errorf("row 4: got %+v, want internet (IPv6) denied", rows[3])
		}
	})
	for _, c := range []struct {
		to   string
		want sgAnswer
	}{
		{"api-3f9a:5000", sgAnswer{From: "group alb", To: sgTask1, Port: 5000, Access: "allowed",
			Why: "allowed by instances rule 1: all traffic from group alb", Enforced: false}},
		{"web/0", sgAnswer{From: "group alb", To: sgListener, Port: 8080, Access: "allowed",
			Why: "allowed for every member of group alb (1 address), by alb rule 1: tcp 8080 from 0.0.0.0/0", Enforced: true}},
	} {
		t.Run(c.to, func(t *testing.T) {
			_, out, _ := sgRun(t, v, "--from", "alb", "--to", c.to, "--json")
			var got sgAnswer
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v in:\n%s", err, out)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !strings.Contains(out, `"enforced": `) {
				t.Errorf("no enforced field in:\n%s", out)
			}
		})
	}
}

func TestSG_UsageErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown group", []string{"--from", "db", "--to", "web/0"},
			`shoal: --from "db" is not an address, a CIDR range, a security group or internet (the stack's groups are alb, instances)`},
		{"unknown task", []string{"--from", "alb", "--to", "worker-1"},
			`shoal: --to "worker-1" is no listener or task of the running stack: give a listener's name or address, or a task id (the listeners are web/0 at 127.0.0.1:8080; ` + "`shoal ps`" + ` lists the tasks)`},
		{"unknown listener with a port", []string{"--from", "alb", "--to", "web/1:81"},
			`shoal: --to "web/1:81" is no listener or task`},
		{"ambiguous prefix", []string{"--from", "alb", "--to", "api-"},
			`shoal: --to "api-" matches 2 tasks, api-3f9a1c2b, api-7c0d5e6f: give more of the id`},
		{"ambiguous prefix with a port", []string{"--from", "alb", "--to", "api:5000"},
			`shoal: --to "api" matches 2 tasks`},
		{"bad port", []string{"--from", "alb", "--to", "web/0:99999"},
			`shoal: --to "web/0:99999": "99999" is not a port: write 1 to 65535, like web/0:8080`},
		{"missing --to", []string{"--from", "internet"},
			"shoal: --from needs --to, the listener or task to ask about, like: shoal sg explain --from internet --to web/0"},
		{"missing --from", []string{"--to", "web/0"}, "shoal: --to needs --from"},
		{"an argument", []string{"web/0"}, "shoal: shoal sg explain takes no arguments"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := sgRun(t, tutorialView(), c.args...)
			if code != 2 || out != "" || !strings.HasPrefix(errOut, c.want) {
				t.Errorf("got exit %d, stdout %q, stderr %q; want 2, nothing and %q", code, out, errOut, c.want)
			}
		})
	}
}

func TestSG_CommandLine(t *testing.T) {
	code, _, errOut := run(t, context.Background(), "sg")
	if code != 2 || !strings.Contains(errOut, "shoal sg takes explain") {
		t.Errorf("sg alone: exit %d, stderr %q; want 2 and what to write", code, errOut)
	}
	code, _, errOut = run(t, context.Background(), "sg", "-h")
	if code != 0 || !strings.Contains(errOut, "Usage: shoal sg explain "+sgArgs) {
		t.Errorf("sg -h: exit %d, stderr %q; want 0 and the usage", code, errOut)
	}
	code, _, errOut = run(t, context.Background(), "sg", "explain", "--state-dir", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "shoal is not running") {
		t.Errorf("nothing running: exit %d, stderr %q; want 1 and 'shoal is not running'", code, errOut)
	}
	if _, out, _ := run(t, context.Background(), "help"); !strings.Contains(out, "\n  sg ") {
		t.Errorf("help does not list sg:\n%s", out)
	}
}
