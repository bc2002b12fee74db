package agent

import "github.com/shoalhq/shoal/internal/instance"

// instanceLocked returns the instance called name, or one with only that
// name when the cluster no longer has it.
func (a *Agent) instanceLocked(name string) instance.Instance {
	for _, in := range a.instances {
		if in.Name == name {
			return in
		}
	}
	return instance.Instance{Name: name}
}
