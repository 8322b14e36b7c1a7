package runner

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
)

// attaching matches bpftrace's announcement of its probes, in text and in
// JSON output mode: "Attaching N probes" before attaching them (before 0.24),
// "Attached N probes" after.
var attaching = regexp.MustCompile(`Attach(?:ing|ed) (\d+) probes?|"attached_probes", (?:"count": \d+, )?"data": \{"probes": (\d+)\}`)

// announceWatcher passes output through unchanged and sends, once, the
// number of probes the tracer announces.
type announceWatcher struct {
	w         io.Writer
	announced chan<- int
	once      *sync.Once
	tail      []byte
}

// newAnnounceWatchers wraps each writer; the first announcement seen on any
// of them is sent on announced, which must have room for one value.
func newAnnounceWatchers(announced chan<- int, ws ...io.Writer) []io.Writer {
	once := new(sync.Once)
	out := make([]io.Writer, len(ws))
	for i, w := range ws {
		out[i] = &announceWatcher{w: w, announced: announced, once: once}
	}
	return out
}

// PerProbeGrace is the time bpftrace gets per announced probe, beyond
// Options.StopGrace, to detach its probes and print its maps after SIGINT
// (when it has no dump probe): detaching a tracepoint takes about 70 ms.
const PerProbeGrace = 100 * time.Millisecond

// Write passes p on and looks for the announcement in it.
func (a *announceWatcher) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	buf := append(a.tail, p...)
	if m := attaching.FindSubmatch(buf); m != nil {
		count, _ := strconv.Atoi(string(m[1]) + string(m[2]))
		a.once.Do(func() { a.announced <- count })
	}
	if keep := 64; len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	a.tail = append(a.tail[:0], buf...)
	return n, err
}

// reportReady waits for the tracer's announcement of n probes and sends n on
// probes (room for one). When the announcement comes after attaching
// (attachedAfter) that is all; before, it waits until the tracer process
// holds n probes (perf events or BPF links; or some, and no more for settle,
// as one BPF link can carry many probes) and has gone on to wait for events
// (epoll: every probe is enabled by then). Then it closes ready. It gives up
// when ctx is done or the tracer has exited.
func reportReady(ctx context.Context, procRoot string, pid int, attachedAfter bool, announced <-chan int, ready chan<- struct{}, probes chan<- int, exited <-chan struct{}) {
	var n int
	select {
	case n = <-announced:
		probes <- n
	case <-ctx.Done():
		return
	case <-exited:
		return
	}
	if attachedAfter {
		close(ready)
		return
	}
	const settle = 250 * time.Millisecond
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	last, since := 0, time.Now()
	for {
		c := countProbeFDs(procRoot, pid)
		if c != last {
			last, since = c, time.Now()
		}
		if (c >= n || c > 0 && time.Since(since) >= settle) && waitingForEvents(procRoot, pid, since) {
			close(ready)
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		case <-exited:
			return
		}
	}
}

// waitingForEvents reports whether the tracer's main thread sleeps in epoll,
// its event loop. Where the kernel hides wait channels it gives up asking 2 s
// after the probes were counted.
func waitingForEvents(procRoot string, pid int, counted time.Time) bool {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "wchan"))
	if err != nil || string(b) == "0" || len(b) == 0 {
		return time.Since(counted) > 2*time.Second
	}
	return bytes.Contains(b, []byte("epoll"))
}

// countProbeFDs counts the attached probes process pid holds open.
func countProbeFDs(procRoot string, pid int) int {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && (target == "anon_inode:[perf_event]" || target == "anon_inode:bpf_link") {
			n++
		}
	}
	return n
}

// maxControlLine bounds a control line; a longer one is skipped, not fatal.
const maxControlLine = 4 << 10

// controlMsg is one control line from the client; a protocol.ProgramLine
// carries the program's bytes in data.
type controlMsg struct {
	line string
	data []byte
}

// readControl sends each line read from r on the returned channel and closes
// it at end of input. "program N" is followed by N bytes of program, sent
// with it. A line longer than maxControlLine is skipped (it is nobody's
// control line), not taken as the end of the input. It gives up sending
// once ctx is done.
func readControl(ctx context.Context, r io.Reader) <-chan controlMsg {
	ch := make(chan controlMsg)
	go func() {
		defer close(ch)
		if r == nil {
			return
		}
		br := bufio.NewReaderSize(r, maxControlLine)
		for {
			line, tooLong, err := readLine(br)
			if err != nil {
				return
			}
			if tooLong {
				continue
			}
			msg := controlMsg{line: string(bytes.TrimSpace(line))}
			if n, ok := programSize(msg.line); ok {
				msg.line = protocol.ProgramLine
				msg.data = make([]byte, n)
				if _, err := io.ReadFull(br, msg.data); err != nil {
					return
				}
			}
			select {
			case ch <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// programSize parses "program N" (N at most protocol.MaxProgram).
func programSize(line string) (int, bool) {
	rest, ok := strings.CutPrefix(line, protocol.ProgramLine+" ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0 && n <= protocol.MaxProgram
}

// readLine reads one line; one longer than the reader's buffer is read to
// its end and reported as too long.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, isPrefix, err := br.ReadLine()
	for isPrefix && err == nil {
		tooLong = true
		_, isPrefix, err = br.ReadLine()
	}
	return line, tooLong, err
}
