// Command parked is the goroutine dump's target: a Go program, built by
// the oldest and the newest supported Go releases (a module of its own, so
// each toolchain builds it), that parks -n goroutines in main.parked on a
// channel, a few asleep in main.sleeper and a few in main.locker on a
// mutex that main.holder takes again and again (held a second at a time,
// handed to each locker in turn between); with -cache and -churn it holds
// memory in main.cache and churns small buffers in main.churn. It serves
// Go's own profiles (net/http/pprof): the truth --goroutines, --wall and
// --heap are held to.
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

// cached is what main.cache holds (-cache), churned main.churn's latest.
var (
	cached  [][]byte
	churned []byte
)

// cache holds mib MiB for ever, in 1 MiB buffers: the memory profile's
// target.
//
//go:noinline
func cache(mib int) {
	for i := 0; i < mib; i++ {
		cached = append(cached, make([]byte, 1<<20))
	}
}

// churn allocates small buffers and drops them, for ever: what --alloc
// finds.
//
//go:noinline
func churn() {
	for {
		for i := 0; i < 100; i++ {
			churned = make([]byte, 512)
		}
		time.Sleep(time.Millisecond)
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
	mib := flag.Int("cache", 0, "hold this many MiB from main.cache")
	churning := flag.Bool("churn", false, "allocate and drop small buffers in main.churn")
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
	cache(*mib)
	if *churning {
		go churn()
	}
	log.Printf("%d goroutines parked; serving on %s", *n, *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
