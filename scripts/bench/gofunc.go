package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
)

const loopSource = `package main

import (
	"fmt"
	"os"
	"time"
)

//go:noinline
func work(i int) int { return i ^ 0x5a }

func main() {
	for {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	const n = 1000000
	sum := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		sum += work(i)
	}
	fmt.Println(float64(time.Since(start).Nanoseconds())/n, sum)
}
`

// perCallCost times a tight loop of calls with no probe, with a bare entry
// uprobe, and with the --func tracer's entry+RET probes (root, local).
func perCallCost() {
	dir, err := os.MkdirTemp("", "bench-loop")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	exe := loopBinary(dir)
	funcs, err := gofunc.Resolve(exe, []string{"main.work"})
	if err != nil {
		fail(err)
	}
	entryOnly := []gofunc.Func{funcs[0]}
	entryOnly[0].Returns = nil
	none := loopRun(exe, nil)
	bare := loopRun(exe, entryOnly)
	full := loopRun(exe, funcs)
	rewritten := rewrittenUretprobeCost(exe)
	fmt.Println("\nper-call cost of a Go function, tight loop of 1,000,000 calls:")
	fmt.Printf("  no probe:                        %8.1f ns/call\n", none)
	us := func(ns float64) string { return fmt.Sprintf("%.1f µs", ns/1000) }
	fmt.Printf("  one bare uprobe:                 %8.1f ns/call (%.0fx) %s\n", bare, bare/none, fig("call.bare", us(bare)))
	fmt.Printf("  --func (entry + RETs):           %8.1f ns/call (%.0fx; %.1fx a bare uprobe) %s\n", full, full/none, full/bare, fig("call.func", us(full)))
	fmt.Printf("  rewritten uretprobe (bpftrace):  %8.1f ns/call (%.0fx; %.1fx a bare uprobe, %s --func) %s\n", rewritten, rewritten/none, rewritten/bare,
		fig("call.rewritten-ratio", times(rewritten/full)), fig("call.rewritten", us(rewritten)))
}

// loopRun runs the loop with funcs' probes attached and returns ns per call.
func loopRun(exe string, funcs []gofunc.Func) float64 {
	goAhead := exe + ".go"
	os.Remove(goAhead)
	cmd := exec.Command(exe, goAhead)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	if funcs != nil {
		tr, err := gofunc.Start(exe, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/pid", funcs)
		if err != nil {
			fail(err)
		}
		defer tr.Close()
		go func() { // drain the events
			for {
				if _, err := tr.Next(); err != nil {
					return
				}
			}
		}()
	}
	os.WriteFile(goAhead, nil, 0o644)
	sc := bufio.NewScanner(out)
	sc.Scan()
	if err := cmd.Wait(); err != nil {
		fail(err)
	}
	ns, err := strconv.ParseFloat(strings.Fields(sc.Text())[0], 64)
	if err != nil {
		fail(fmt.Errorf("loop output %q: %w", sc.Text(), err))
	}
	return ns
}
