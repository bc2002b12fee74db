package agent

import "fmt"

// instance is one host for tasks. Locally an instance is a loopback address
// of its own, so that targets on different instances are told apart.
type instance struct {
	Name    string // "instance-1"
	Address string // "127.0.0.2"
}

// clusterInstances names n instances: instance-N has address 127.0.0.(N+1),
// leaving 127.0.0.1 to the load balancer's listeners.
func clusterInstances(n int) []instance {
	out := make([]instance, n)
	for i := range out {
		out[i] = instance{Name: fmt.Sprintf("instance-%d", i+1), Address: fmt.Sprintf("127.0.0.%d", i+2)}
	}
	return out
}

func (a *Agent) instanceLocked(name string) instance {
	for _, in := range a.instances {
		if in.Name == name {
			return in
		}
	}
	return instance{Name: name}
}
