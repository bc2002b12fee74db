package main

import (
	"example.com/fake/internal/agent"
	"example.com/fake/internal/cli"
	"example.com/fake/internal/driver"
	"os"
)

func main() { os.Exit(cli.Main(agent.New(), driver.Name)) }
