// Command demo is the target the project traces in its demo and tests: a small
// web server whose handler calls counterValue once per request (the seed
// tutorial's caturday server in miniature). counterValue is kept out of line
// so a uprobe on "main.counterValue" fires exactly once per request.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"sync"
)

var (
	mu      sync.Mutex
	counter int
)

// counterValue increments the request counter and returns its new value.
//
//go:noinline
func counterValue() int {
	mu.Lock()
	defer mu.Unlock()
	counter++
	return counter
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "request %d\n", counterValue())
	})
	log.Printf("serving on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
