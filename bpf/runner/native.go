package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// nativeTrace is a running native engine: attached as soon as it starts,
// and stopped by running its finish function once, which detaches the probes,
// writes the summary and returns the exit code.
type nativeTrace struct {
	ready  chan int
	done   chan struct{}
	once   sync.Once
	code   int
	grace  time.Duration
	finish func() int
}

func newNativeTrace(probes int, grace time.Duration, finish func() int) *nativeTrace {
	t := &nativeTrace{ready: make(chan int, 1), done: make(chan struct{}), grace: grace, finish: finish}
	t.ready <- probes
	return t
}

func (t *nativeTrace) Ready() <-chan int { return t.ready }

// Stop runs finish once, in the background.
func (t *nativeTrace) Stop() {
	t.once.Do(func() {
		go func() {
			t.code = t.finish()
			close(t.done)
		}()
	})
}

// Kill is Stop: a native engine detaches at once.
func (t *nativeTrace) Kill()                    { t.Stop() }
func (t *nativeTrace) StopGrace() time.Duration { return t.grace }
func (t *nativeTrace) Done() <-chan struct{}    { return t.done }
func (t *nativeTrace) ExitCode() int            { return t.code }
func (t *nativeTrace) Close()                   {}

// nativePeakMemory is what a native engine's runner process peaks at,
// measured at about 7 MB, with room to spare.
const nativePeakMemory = 32 << 20

// jsonMap is one map of a native engine's summary.
type jsonMap struct {
	name string
	data map[string]uint64
}

// writeJSONMaps writes maps as bpftrace -f json writes them, one per line.
func writeJSONMaps(w io.Writer, maps ...jsonMap) error {
	for _, m := range maps {
		b, err := json.Marshal(map[string]any{"type": "map", "data": map[string]any{m.name: m.data}})
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}
