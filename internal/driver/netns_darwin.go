package driver

import (
	"fmt"
	"os"
)

// runNetnsExec fails: network namespaces are Linux's.
func runNetnsExec([]string) int {
	fmt.Fprintf(os.Stderr, "%s: network namespaces exist only on Linux\n", netnsExecName)
	return shimNoCommand
}
