package secgroup

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSet_Admissions_Tutorial(t *testing.T) {
	s := tutorialSet(t)
	got := s.Admissions([]string{"instances", "nope"})
	for _, a := range got {
		for _, src := range a.Sources {
			// Every admitted source address is allowed by Allow, with
			// the same protocol and an admitted port.
			d := s.Allow([]string{"instances"}, src.Addr(), protoOf(a), a.Ports.From)
			if !d.Allowed {
				t.Errorf("%s admits %s, Allow denies it: %s", a.Why, src, d.Why)
			}
		}
	}
	if len(got) == 0 {
		t.Fatal("no admissions for the instances group")
	}
	want := Admission{Protocol: TCP, Ports: AllPorts, Why: "instances rule 1: tcp all ports from group alb",
		Sources: []netip.Prefix{netip.MustParsePrefix(lbAddr + "/32")}}
	if diff := cmp.Diff(want, got[0], cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("first admission (-want +got):\n%s", diff)
	}
}

func TestAdmission_Within(t *testing.T) {
	a := Admission{Protocol: TCP, Ports: PortRange{8000, 9000}}
	if got, ok := a.Within(8080); !ok || got.Ports != (PortRange{8080, 8080}) {
		t.Errorf("Within(8080) = %v, %v; want 8080-8080", got.Ports, ok)
	}
	if _, ok := a.Within(80); ok {
		t.Error("Within(80) of 8000-9000 admits something")
	}
	icmp := Admission{Protocol: ICMP, Ports: AllPorts}
	if got, ok := icmp.Within(80); !ok || got.Ports != AllPorts {
		t.Errorf("icmp Within(80) = %v, %v; want all ports kept", got.Ports, ok)
	}
}

func TestSet_Admissions_EmptyGroupSourceLeftOut(t *testing.T) {
	s, err := NewSet([]Group{
		{Name: "a", Ingress: []Rule{groupRule("tcp", "80", "b")}},
		{Name: "b"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Admissions([]string{"a"}); len(got) != 0 {
		t.Errorf("a rule naming a group without members admits %v", got)
	}
}

func protoOf(a Admission) Protocol {
	if a.Protocol == All {
		return TCP
	}
	return a.Protocol
}
