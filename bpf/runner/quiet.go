package runner

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// environmentNoise matches bpftrace's messages about the environment that a
// healthy run on a node without CAP_SYS_RESOURCE or without ftrace's
// function list prints, which the user can do nothing about: BPF memory is
// charged to the cgroup on the kernels the runner supports, and the list
// only refines kprobe checks.
var environmentNoise = regexp.MustCompile(`RLIMIT_MEMLOCK|available_filter_functions`)

// strippedWarning is bpftrace's warning, under --unsafe, about a uprobe at
// a raw offset into a stripped binary; the runner's own stripped-binary
// note replaces it for the runner's own probes (placed at instructions it
// decoded), and only for those.
var strippedWarning = regexp.MustCompile(`Could not determine instruction boundary for (\S+) \(binary appears stripped\)`)

// sourceWarning is the first line of a bpftrace diagnostic that points at
// the program: `stdin:LINE:FROM-TO: WARNING: message`, followed by the source
// line and a line of carets.
var sourceWarning = regexp.MustCompile(`^stdin:\d+:(\d+)-(\d+): WARNING: `)

// quietWriter passes the tracer's stderr on in whole lines, less environment
// noise and less the warnings bpftrace gives about text the runner added
// (a warning whose span in the source line contains one of ours).
type quietWriter struct {
	mu   sync.Mutex
	w    io.Writer
	ours []string
	// own are the runner's own probes at raw offsets, as bpftrace names
	// them in its warnings (OwnOffsetPoints).
	own     []string
	added   int // probes the runner added, taken off bpftrace's count
	partial []byte
	pending []string // a source warning's lines, until its span is known
}

func newQuietWriter(w io.Writer, added int, ours ...string) *quietWriter {
	return &quietWriter{w: w, added: added, ours: ours}
}

func (q *quietWriter) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf := append(q.partial, p...)
	end := bytes.LastIndexByte(buf, '\n') + 1
	var out strings.Builder
	for _, line := range strings.SplitAfter(string(buf[:end]), "\n") {
		if line != "" {
			q.line(&out, line)
		}
	}
	// A fragment without a newline waits for the rest of its line: bpftrace
	// writes its stderr piecemeal ("Attached 3 probes", then "\n"), and the
	// runner's own lines share the stream; they must never land inside one
	// of bpftrace's, where no reader would find them.
	q.partial = append([]byte(nil), buf[end:]...)
	return len(p), q.emit(out.String())
}

// line filters one complete line into out.
func (q *quietWriter) line(out *strings.Builder, line string) {
	if len(q.pending) > 0 {
		q.pending = append(q.pending, line) // the source line, then the carets
		if len(q.pending) < 3 {
			return
		}
		if !q.aboutOurs(q.pending[0], q.pending[1]) {
			for _, l := range q.pending {
				out.WriteString(l)
			}
		}
		q.pending = nil
		return
	}
	switch {
	case environmentNoise.MatchString(line):
	case strippedWarning.MatchString(line) && slices.Contains(q.own, strippedWarning.FindStringSubmatch(line)[1]):
	case len(q.ours) > 0 && sourceWarning.MatchString(line):
		q.pending = []string{line}
	default:
		out.WriteString(userProbeCount(line, q.added))
	}
}

// attachedCount matches bpftrace's count of attached probes, in text and
// JSON; userProbeCount takes the runner's own probes off it, so the user
// reads the count of their program's probes.
var attachedCount = regexp.MustCompile(`(Attached |"count": |"probes": )(\d+)`)

func userProbeCount(line string, added int) string {
	if added == 0 || !strings.Contains(line, "ttached") && !strings.Contains(line, "attached_probes") {
		return line
	}
	return attachedCount.ReplaceAllStringFunc(line, func(m string) string {
		sub := attachedCount.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[2])
		return sub[1] + strconv.Itoa(max(n-added, 0))
	})
}

// aboutOurs reports whether the warning's span in src covers text the
// runner added.
func (q *quietWriter) aboutOurs(warning, src string) bool {
	m := sourceWarning.FindStringSubmatch(warning)
	from, _ := strconv.Atoi(m[1])
	to, _ := strconv.Atoi(m[2])
	if from < 1 || to > len(src)+1 || from > to {
		return false
	}
	span := src[from-1 : to-1]
	for _, o := range q.ours {
		if strings.Contains(span, o) {
			return true
		}
	}
	return false
}

// Flush writes what is held back; call it once the tracer has exited.
func (q *quietWriter) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out strings.Builder
	for _, l := range q.pending {
		out.WriteString(l)
	}
	out.Write(q.partial)
	q.pending, q.partial = nil, nil
	_ = q.emit(out.String())
}

func (q *quietWriter) emit(s string) error {
	if s == "" {
		return nil
	}
	_, err := io.WriteString(q.w, s)
	return err
}
