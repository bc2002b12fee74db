// Command app is the program of the Docker driver's test image, built
// FROM scratch: one static binary that plays every part the tests need.
//
//	app [serve] [args...]   serve HTTP on :$PORT (8080 by default)
//	app check               the health check: GET /healthz of the server
//	app exit CODE [DELAY]   print a line, wait DELAY, exit CODE
//	app oom                 allocate memory until the kernel kills it
//
// The server answers / with what it was given (args, env, working dir,
// user) as JSON; /healthz with 200 or 500 as /set-health?ok=1|0 last said.
// It exits 0 on SIGTERM, unless APP_IGNORE_TERM=1.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "check":
		os.Exit(check())
	case "exit":
		os.Exit(exitAfter(os.Args[2:]))
	case "oom":
		oom()
	default:
		os.Exit(serve())
	}
}

// serve runs the HTTP server until SIGTERM.
func serve() int {
	port := port()
	if os.Getenv("APP_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() { <-term; fmt.Println("got SIGTERM"); os.Exit(0) }()
	}
	var healthy atomic.Bool
	healthy.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		wd, _ := os.Getwd()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"args": os.Args, "env": os.Environ(), "dir": wd, "uid": os.Getuid(), "gid": os.Getgid(),
		})
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			http.Error(w, "app says unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/set-health", func(w http.ResponseWriter, r *http.Request) {
		healthy.Store(r.URL.Query().Get("ok") == "1")
	})
	fmt.Printf("listening on :%s\n", port)
	fmt.Fprintln(os.Stderr, "a line on stderr")
	err := http.ListenAndServe(":"+port, mux)
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// port is $PORT, or 8080 when the container maps no port.
func port() string {
	if p := os.Getenv("PORT"); p != "" {
		return p
	}
	return "8080"
}

// check asks the server whether it is healthy.
func check() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port() + "/healthz")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Printf("unhealthy: status %d\n", resp.StatusCode)
		return 1
	}
	return 0
}

// exitAfter prints a line, sleeps, and returns the code to exit with.
func exitAfter(args []string) int {
	code, delay := 0, time.Duration(0)
	if len(args) > 0 {
		code, _ = strconv.Atoi(args[0])
	}
	if len(args) > 1 {
		delay, _ = time.ParseDuration(args[1])
	}
	fmt.Printf("exiting with %d after %v\n", code, delay)
	time.Sleep(delay)
	return code
}

// oom touches memory a MiB at a time, forever.
func oom() {
	var keep [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i)
		}
		keep = append(keep, b)
		if len(keep)%8 == 0 {
			fmt.Printf("holding %d MiB\n", len(keep))
		}
	}
}
