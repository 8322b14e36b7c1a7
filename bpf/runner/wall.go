package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// wallEngine is the wall-clock profile (--wall): every goroutine of the
// target's Go processes sampled at the session's rate until it stops —
// each reading (package goproc: nothing stopped, nothing written) counts
// every goroutine once, in its state and on its stack — so waiting time
// shows where it waits. Its profile, each stack topped by the goroutine's
// state ("[chan receive]", "[running]"), goes after protocol.MapsLine as
// the JSON lines of package stacks, for the client to show as --cpu's.
// Processes that are not Go have their threads followed on and off the
// CPU instead (threadWaits, from the scheduler's sched_switch): their
// stacks join the profile at the same rate, each topped by the thread's
// state.
type wallEngine struct{ o Options }

func (wallEngine) NeedsKernelTypes() bool { return false }
func (wallEngine) PeakMemory() uint64     { return nativePeakMemory }

// wallSample is one goroutine's place in one reading.
type wallSample struct {
	pid   int
	state string
	stack []uint64
}

// Start opens the target's Go processes and samples them until stopped.
func (e wallEngine) Start(_ context.Context, t Target) (Trace, error) {
	o := e.o
	pids, err := namespacePIDs(t.ProcRoot, t.PID)
	if err != nil {
		return nil, &failure{protocol.ExitTargetNotFound, err}
	}
	notGo := map[int]string{}
	gp := openGoProcesses(t.ProcRoot, pids, o.say, func(pid int, name string) { notGo[pid] = name })
	procs, names := gp.procs, gp.names
	threads := followThreads(t.ProcRoot, t.PID, notGo, o.say)
	if len(procs) == 0 && threads == nil {
		o.say("no Go process of the target could be read, nor any other followed (%d processes looked at; each one's reason is above)", len(pids))
		return nil, &failure{protocol.ExitNoGoProcess, errors.New("no Go process")}
	}
	var (
		mu       sync.Mutex
		counts   = map[string]*wallCount{}
		readings int
		dropped  int
	)
	stop, done := make(chan struct{}), make(chan struct{})
	started := time.Now()
	go func() { // the sampler: a reading every 1/hz, as far as readings keep up
		defer close(done)
		period := time.Second / time.Duration(o.Session.WallHz)
		for len(procs) > 0 {
			t0 := time.Now()
			for pid, p := range procs {
				r, err := p.Goroutines()
				if err != nil {
					continue
				}
				mu.Lock()
				dropped += r.Dropped
				for _, g := range r.Goroutines {
					s := wallSample{pid: pid, state: g.State, stack: g.Stack}
					k := s.key()
					if c := counts[k]; c != nil {
						c.n++
					} else {
						counts[k] = &wallCount{s, 1}
					}
				}
				mu.Unlock()
			}
			mu.Lock()
			readings++
			mu.Unlock()
			took := time.Since(t0)
			select { // the next reading after the period, or as long again as this one took: half a CPU at most
			case <-stop:
				return
			case <-time.After(max(period-took, took)):
			}
		}
	}()
	var what []string
	if len(procs) > 0 {
		what = append(what, fmt.Sprintf("Sampling the goroutines of %d Go processes at %d Hz (their state and stack, waiting included)", len(procs), o.Session.WallHz))
	}
	if threads != nil {
		what = append(what, fmt.Sprintf("following the threads of %d processes that are not Go on and off the CPU", len(notGo)))
	}
	sentence := strings.Join(what, ", ")
	o.announce(1, strings.ToUpper(sentence[:1])+sentence[1:]+"... Hit Ctrl-C to end.")
	return newNativeTrace(1, o.StopGrace, func() int {
		close(stop)
		<-done
		elapsed := time.Since(started)
		p := &stacks.Profile{Wall: true, Duration: elapsed, Hz: o.Session.WallHz}
		if readings > 0 { // the rate the readings kept up
			p.Hz = max(1, int(math.Round(float64(readings)/elapsed.Seconds())))
		}
		for _, c := range counts {
			frames := append([]stacks.Frame{{Func: "[" + c.state + "]"}}, namedStack(procs[c.pid], c.stack)...)
			p.Stacks = append(p.Stacks, stacks.Stack{Frames: frames, Count: c.n, Process: names[c.pid]})
		}
		gp.close()
		goroutineSamples := p.Samples()
		p.Stacks = append(p.Stacks, threads.stop(t.ProcRoot, p.Hz, o.say)...)
		fmt.Fprintln(o.Stdout, protocol.MapsLine) // the client reads the profile after it
		if err := stacks.Write(o.Stdout, p); err != nil {
			o.say("write the profile: %v", err)
			return 1
		}
		if len(procs) > 0 {
			o.say("%d readings of the goroutines in %v (%d Hz asked, %d kept up), %d goroutine samples, %d moved while read and left out",
				readings, elapsed.Round(time.Millisecond), o.Session.WallHz, p.Hz, goroutineSamples, dropped)
		}
		o.say("%d samples in %d distinct stacks; peak memory of the runner: %s", p.Samples(), len(p.Stacks), peakMemory())
		return 0
	}), nil
}

// wallCount is how many readings found goroutines at one place.
type wallCount struct {
	wallSample
	n uint64
}

// key is what makes samples one stack.
func (s wallSample) key() string {
	b := binary.LittleEndian.AppendUint32(nil, uint32(s.pid))
	b = append(b, s.state...)
	b = append(b, 0)
	for _, pc := range s.stack {
		b = binary.LittleEndian.AppendUint64(b, pc)
	}
	return string(b)
}
