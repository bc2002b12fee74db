package cli

import "example.com/fake/internal/admin"

func Main(int, string) int { return admin.Agent() }
