// Command parked is the goroutine dump's target: a Go program, built by
// the oldest and the newest supported Go releases (a module of its own, so
// each toolchain builds it), that parks -n goroutines in main.parked on a
// channel, a few asleep in main.sleeper and a few in main.locker on a
// mutex that main.holder takes again and again (held a second at a time,
// handed to each locker in turn between), and serves Go's own goroutine profile
// (/debug/pprof/goroutine): the truth --goroutines is held to.
package main

import (
	"flag"
	"log"
	"net/http"
	_ "net/http/pprof"
	"sync"
	"time"
)

var (
	ch = make(chan int)
	mu sync.Mutex
)

//go:noinline
func parked() { <-ch }

//go:noinline
func sleeper() { time.Sleep(24 * time.Hour) }

// locker takes the mutex and lets it go, for ever: almost all its time
// is spent waiting for main.holder to let it go.
//
//go:noinline
func locker() {
	for {
		mu.Lock()
		mu.Unlock() //nolint:staticcheck // an empty critical section: the wait is the point
	}
}

// holder holds the mutex a second at a time, for ever.
//
//go:noinline
func holder() {
	for {
		mu.Lock()
		time.Sleep(time.Second)
		mu.Unlock()
	}
}

func main() {
	n := flag.Int("n", 10000, "goroutines to park in main.parked")
	addr := flag.String("listen", "127.0.0.1:8080", "address to serve Go's profiles on")
	flag.Parse()
	mu.Lock() // held until the lockers wait: then main.holder takes turns with them
	for i := 0; i < *n; i++ {
		go parked()
	}
	for i := 0; i < 10; i++ {
		go sleeper()
		go locker()
	}
	time.Sleep(100 * time.Millisecond)
	mu.Unlock()
	go holder()
	log.Printf("%d goroutines parked; serving on %s", *n, *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
