//go:build root

package goproc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

// holding holds 64 MiB from main.holder, collects, and says how many bytes
// its own runtime.MemProfile counts in use under main.holder (unscaled, as
// the records hold them); then churns small buffers in main.churner.
const holding = `package main

import (
	"fmt"
	"runtime"
	"time"
)

var (
	hold [][]byte
	sink []byte
)

//go:noinline
func holder() {
	for i := 0; i < 64; i++ {
		hold = append(hold, make([]byte, 1<<20))
	}
}

//go:noinline
func churner() {
	for {
		for i := 0; i < 1000; i++ {
			sink = make([]byte, 512)
		}
		time.Sleep(time.Millisecond)
	}
}

func main() {
	holder()
	runtime.GC()
	runtime.GC()
	n, _ := runtime.MemProfile(nil, false)
	recs := make([]runtime.MemProfileRecord, n+64)
	n, _ = runtime.MemProfile(recs, false)
	var inuse int64
	for _, r := range recs[:n] {
		for _, pc := range r.Stack() {
			if f := runtime.FuncForPC(pc - 1); f != nil && f.Name() == "main.holder" {
				inuse += r.InUseBytes()
				break
			}
		}
	}
	fmt.Println(inuse)
	go churner()
	select {}
}
`

// holdingCgo is holding linked with C (cgo), which calls into it once.
var holdingCgo = strings.Replace(holding, "import (\n", "// int one(void) { return 1; }\nimport \"C\"\n\nimport (\n", 1) + "\nfunc init() { _ = C.one() }\n"

// The memory profile of a running Go process is read from outside as its
// own runtime.MemProfile gives it: the bytes in use under main.holder
// exactly (the same records), main.churner's allocations, the sampling
// rate; built by every supported release, stripped (the oldest not too), a
// PIE, a cgo binary. A binary whose linker turned the profile off says so.
func TestMemProfileAsTheRuntimeGivesIt(t *testing.T) {
	type build struct {
		toolchain, src string
		flags          []string
	}
	builds := []build{{"go1.21.13", holding, nil}, {"go1.27.3", holding, []string{"-buildmode=pie", "-ldflags=-s -w"}}, {"go1.27.3", holdingCgo, []string{"-ldflags=-s -w"}}}
	for _, tc := range testgo.Toolchains {
		builds = append(builds, build{tc, holding, []string{"-ldflags=-s -w"}})
	}
	for _, c := range builds {
		name := c.toolchain + " " + strings.Join(c.flags, " ")
		if c.src == holdingCgo {
			name += " cgo"
		}
		t.Run(name, func(t *testing.T) {
			p, want := startCounted(t, c.toolchain, c.src, c.flags...)
			time.Sleep(1500 * time.Millisecond) // main.churner's allocations published (two collections after they are made)
			mp, err := p.MemProfile()
			if err != nil {
				t.Fatal(err)
			}
			var holder, churned int64
			for _, r := range mp.Records {
				for _, pc := range r.Stack {
					switch p.Names.Name(pc - 1) {
					case "main.holder":
						holder += r.AllocBytes - r.FreeBytes
					case "main.churner":
						churned += r.AllocObjects
					}
				}
			}
			if churned == 0 {
				t.Errorf("no allocation of main.churner's read")
			}
			t.Logf("%s: %d records, rate %d, %d dropped; main.holder %d bytes in use (its runtime: %d), main.churner %d objects allocated", p.Version, len(mp.Records), mp.Rate, mp.Dropped, holder, want, churned)
			if holder != int64(want) || want < 32<<20 {
				t.Errorf("main.holder: %d bytes in use read, its runtime.MemProfile says %d", holder, want)
			}
			if mp.Rate != 512*1024 {
				t.Errorf("rate %d, want the default 524288", mp.Rate)
			}
		})
	}
	t.Run("profile off", func(t *testing.T) {
		src, err := os.ReadFile("../../images/nopprof/main.go") // nothing in it can read the profile
		if err != nil {
			t.Fatal(err)
		}
		exe, err := testgo.BuildWith(filepath.Join(t.TempDir(), "t"), "go1.27.3", string(src), "-ldflags=-s -w")
		if err != nil {
			t.Fatal(err)
		}
		p, _ := startExe(t, exe)
		_, err = p.MemProfile()
		if !errors.Is(err, ErrNoMemProfile) || !strings.Contains(err.Error(), "the linker turned it off") {
			t.Errorf("a binary without the profile: %v, want ErrNoMemProfile saying the linker turned it off", err)
		}
	})
}
