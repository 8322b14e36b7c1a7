// Command demo is the target the project traces in its demo and tests: a small
// web server whose handler calls counterValue once per request (the seed
// tutorial's caturday server in miniature). counterValue is kept out of line
// so a uprobe on "main.counterValue" fires exactly once per request; so is
// lookup, which returns an error for ?key=missing (the request then fails
// with 404), for traces that count errors. With
// -burn it also keeps one CPU busy, spending a known share of it in
// main.hot (7 of every 10 rounds of the same work; main.warm does the
// other 3): the CPU profile's target. With -mix it runs a mixed workload
// (mix.go) to hold CPU profiles to Go's own, which it serves at
// /debug/pprof/.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof" // Go's own profiles: the truth the tests hold trace-debug's to
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
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

// lookup returns the value of key, the length of its name; there is no
// value for "missing": an error.
//
//go:noinline
func lookup(key string) (int, error) {
	if key == "missing" {
		return 0, fmt.Errorf("no value for key %q", key)
	}
	return len(key), nil
}

// work is how many steps a round of busy arithmetic takes; hot and warm
// each run their own copy of the same step, so each is where its samples
// land.
const work = 1 << 14

// hot runs n rounds of work, its steps written out here.
//
//go:noinline
func hot(n int) uint64 {
	x := uint64(n)
	for i := 0; i < n*work; i++ {
		x ^= x >> 31
		x *= 0x7fb5d329728ea185
		x ^= x >> 27
		x *= 0x81dadef4bc2dd44d
		x ^= x >> 33
		x++
	}
	return x
}

// warm runs n rounds of the same work as hot, through step.
//
//go:noinline
func warm(n int) uint64 {
	x := uint64(n)
	for i := 0; i < n*work; i++ {
		x = step(x)
	}
	return x
}

// step is one step of warm's work, the same as hot's, small enough for the
// compiler to inline into warm: a CPU profile shows it as a frame of its
// own above warm.
func step(x uint64) uint64 {
	x ^= x >> 31
	x *= 0x7fb5d329728ea185
	x ^= x >> 27
	x *= 0x81dadef4bc2dd44d
	x ^= x >> 33
	return x + 1
}

// sink keeps the work from being optimised away; rounds counts the rounds
// of work done, served at /rounds with the burner's CPU time (the target's
// throughput, for make bench).
var (
	sink   uint64
	rounds atomic.Uint64
)

// burnThread is the burner's thread, whose CPU time /rounds reports.
var burnThread atomic.Int64

// burn keeps a CPU busy forever: 70% of its rounds in hot, 30% in warm,
// on a thread of its own.
func burn() {
	runtime.LockOSThread()
	burnThread.Store(int64(syscall.Gettid()))
	for {
		sink += hot(7) + warm(3)
		rounds.Add(10)
	}
}

// threadCPU is the CPU time, in nanoseconds, thread tid has run (the first
// field of its schedstat), or 0.
func threadCPU(tid int64) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
	if err != nil {
		return 0
	}
	var ns uint64
	fmt.Sscan(string(b), &ns)
	return ns
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	burnCPU := flag.Bool("burn", false, "keep one CPU busy, 70% of it in main.hot and 30% in main.warm")
	park := flag.Int("park", 0, "park this many goroutines on a channel for ever (a server's idle connections, say)")
	mixed := flag.Bool("mix", false, "run the mixed workload (main.mix*: leaves, SHA-256, maps, sort, JSON, system calls) on goroutines of their own")
	flag.Parse()
	if *burnCPU {
		go burn()
	}
	if *mixed {
		mix()
	}
	parked := make(chan int)
	for i := 0; i < *park; i++ {
		go func() { <-parked }()
	}
	http.HandleFunc("/rounds", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %d\n", rounds.Load(), threadCPU(burnThread.Load()))
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n := counterValue()
		if _, err := lookup(r.URL.Query().Get("key")); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "request %d\n", n)
	})
	log.Printf("serving on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
