package main

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"runtime"
	"sort"
	"syscall"
)

// The -mix workload: the kinds of work a CPU profile must attribute right,
// each under a main.mix* function of its own, each on a goroutine of its
// own: frameless leaves, assembly (SHA-256), the runtime (maps,
// allocation, the garbage collector's assists), sort, JSON and system
// calls. Go's own profiler (/debug/pprof/profile) is the truth a profile
// of it is held to.

// mixers are the workload's functions.
var mixers = []func(){mixLeaves, mixCrypto, mixMaps, mixSort, mixJSON, mixSyscalls}

// mix runs every mixer on its own goroutine, for ever.
func mix() {
	for _, m := range mixers {
		go func() {
			for {
				m()
				runtime.Gosched()
			}
		}()
	}
}

// mixLeaves calls frameless leaves: where a frame-pointer walk loses the
// caller.
//
//go:noinline
func mixLeaves() {
	x := uint64(1)
	for i := 0; i < 1<<16; i++ {
		x = leafA(x) + leafB(x)
	}
	sink += x
}

//go:noinline
func leafA(x uint64) uint64 { return x*0x9e3779b97f4a7c15 ^ x>>29 }

//go:noinline
func leafB(x uint64) uint64 { return x*0xbf58476d1ce4e5b9 ^ x>>31 }

// mixCrypto hashes: the standard library's assembly.
//
//go:noinline
func mixCrypto() {
	var buf [16 << 10]byte
	for i := 0; i < 8; i++ {
		s := sha256.Sum256(buf[:])
		buf[i] = s[0]
	}
}

// mixMaps fills a map and drops it: allocation, hashing and the
// collector's assists.
//
//go:noinline
func mixMaps() {
	m := map[int][]byte{}
	for i := 0; i < 4096; i++ {
		m[i] = make([]byte, 64)
	}
	sink += uint64(len(m))
}

// mixSort sorts fresh numbers.
//
//go:noinline
func mixSort() {
	s := make([]int, 8192)
	x := 7
	for i := range s {
		x = x*1103515245 + 12345
		s[i] = x
	}
	sort.Ints(s)
}

// mixJSON encodes and decodes.
//
//go:noinline
func mixJSON() {
	v := map[string]any{"name": "trace-debug", "n": []int{1, 2, 3, 4, 5, 6, 7, 8}, "nested": map[string]string{"a": "b", "c": "d"}}
	for i := 0; i < 64; i++ {
		b, _ := json.Marshal(v)
		_ = json.Unmarshal(b, &v)
	}
}

// mixSyscalls writes to /dev/null: time in the kernel, through the
// runtime's frameless system call stub.
//
//go:noinline
func mixSyscalls() {
	f := devNull
	var b [64]byte
	for i := 0; i < 256; i++ {
		_, _ = syscall.Write(f, b[:])
	}
}

// devNull is /dev/null, opened once.
var devNull = func() int {
	fd, err := syscall.Open(os.DevNull, syscall.O_WRONLY, 0)
	if err != nil {
		return -1
	}
	return fd
}()
