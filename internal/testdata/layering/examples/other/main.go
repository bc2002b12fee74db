package main

import _ "example.com/fake/internal/testkit"

func main() {}
