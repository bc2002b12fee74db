package ignored

import "example.com/fake/internal/agent"

var _ = agent.New
