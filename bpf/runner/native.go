package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// awaitStop blocks until a native engine's session must end: the same
// triggers as a bpftrace session (stop line, client gone, signal, duration,
// deadline). The engine then stops at once, so no grace is needed.
func (o Options) awaitStop(ctx context.Context, control <-chan string, say func(string, ...any)) {
	done := make(chan error, 1)
	finish := func() {
		select {
		case done <- nil:
		default:
		}
	}
	o.supervise(ctx, control, done, say, func() time.Duration { return o.StopGrace }, finish, finish)
}

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
