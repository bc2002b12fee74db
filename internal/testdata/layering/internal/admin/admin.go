package admin

import "example.com/fake/internal/agent"

var Agent = agent.New
