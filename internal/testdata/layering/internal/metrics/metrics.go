package metrics

import "example.com/fake/internal/agent"

var Agent = agent.New
