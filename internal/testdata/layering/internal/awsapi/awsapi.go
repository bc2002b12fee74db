package awsapi

import (
	_ "example.com/fake/internal/agent"
	_ "example.com/fake/internal/store"
)
