package runner

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"sync"
)

// attachMarkers are what bpftrace prints once its probes are attached, in
// text and in JSON output mode.
var attachMarkers = [][]byte{[]byte("Attaching "), []byte(`"attached_probes"`)}

// attachWatcher passes output through unchanged and closes Attached the first
// time the tracer reports that its probes are attached.
type attachWatcher struct {
	w        io.Writer
	attached chan struct{}
	once     *sync.Once
	tail     []byte
}

func newAttachWatchers(attached chan struct{}, ws ...io.Writer) []*attachWatcher {
	once := new(sync.Once)
	out := make([]*attachWatcher, len(ws))
	for i, w := range ws {
		out[i] = &attachWatcher{w: w, attached: attached, once: once}
	}
	return out
}

func (a *attachWatcher) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	buf := append(a.tail, p...)
	for _, m := range attachMarkers {
		if bytes.Contains(buf, m) {
			a.once.Do(func() { close(a.attached) })
		}
	}
	if keep := 32; len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	a.tail = append(a.tail[:0], buf...)
	return n, err
}

// readControl sends each line read from r on the returned channel and closes
// it at end of input. It gives up sending once ctx is done.
func readControl(ctx context.Context, r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		if r == nil {
			return
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case ch <- string(bytes.TrimSpace(sc.Bytes())):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}
