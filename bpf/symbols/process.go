package symbols

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/trace-debug/kubectl-trace-debug/bpf/cfi"
	"github.com/trace-debug/kubectl-trace-debug/bpf/gofunc"
	"github.com/trace-debug/kubectl-trace-debug/bpf/stacks"
)

// mapping is one file-backed executable mapping of a process.
type mapping struct {
	start, end, off uint64
	path            string // as the process sees it
	file            string // where the runner reads it
}

// Process names the user addresses of one process. It reads the process's
// mappings once, when made, so make it while the process lives.
type Process struct {
	root   string // the process's root directory (/proc/PID/root)
	maps   []mapping
	tables map[string]*table // by file; nil when the file cannot be read
}

// NewProcess reads the executable mappings of process pid under procRoot.
func NewProcess(procRoot string, pid int) (*Process, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	f, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		return nil, fmt.Errorf("read the mappings of process %d: %w", pid, err)
	}
	defer f.Close()
	p := &Process{root: filepath.Join(dir, "root"), tables: map[string]*table{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.Contains(fields[1], "x") || !strings.HasPrefix(fields[5], "/") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		m := mapping{path: fields[5]}
		m.start, _ = strconv.ParseUint(lo, 16, 64)
		m.end, _ = strconv.ParseUint(hi, 16, 64)
		m.off, _ = strconv.ParseUint(fields[2], 16, 64)
		m.file = filepath.Join(dir, "map_files", fmt.Sprintf("%x-%x", m.start, m.end)) // unpadded, unlike maps
		p.maps = append(p.maps, m)
	}
	return p, sc.Err()
}

// Name is the function holding address a: its name, or the mapped file and
// the offset in it, or the bare address when no file holds it.
func (p *Process) Name(a uint64) string {
	f := p.Frames(a)
	return f[len(f)-1].Func
}

// Frames are the frames at address a, innermost first: the calls a Go
// compiler inlined there and the function holding them, with file and line
// where the binary records them; else one frame, as Name names it.
func (p *Process) Frames(a uint64) []stacks.Frame {
	for _, m := range p.maps {
		if a < m.start || a >= m.end {
			continue
		}
		off := a - m.start + m.off
		if t := p.table(m); t != nil {
			if va, ok := t.addr(off); ok {
				if f := t.frames(va); len(f) > 0 {
					return f
				}
			}
		}
		return []stacks.Frame{{Func: fmt.Sprintf("%s+0x%x", filepath.Base(m.path), off)}}
	}
	return []stacks.Frame{{Func: fmt.Sprintf("0x%x", a)}}
}

// GoFrame is how the Go function at address a uses the stack there (see
// gofunc.Inlines.FrameAt); false where a is in no Go function this reader
// knows.
func (p *Process) GoFrame(a uint64) (gofunc.FrameInfo, bool) {
	for _, m := range p.maps {
		if a < m.start || a >= m.end {
			continue
		}
		t := p.table(m)
		if t == nil || t.inlines == nil {
			return gofunc.FrameInfo{}, false
		}
		va, ok := t.addr(a - m.start + m.off)
		if !ok {
			return gofunc.FrameInfo{}, false
		}
		return t.inlines.FrameAt(va)
	}
	return gofunc.FrameInfo{}, false
}

// FrameRule is the call-frame rule of the native code at address a (see
// cfi.Table.RuleAt), from the file mapped there; its error says why there
// is none: no file is mapped there (code made at run time), the file has
// no call-frame information for it (cfi.ErrNoCFI), or the row is one the
// unwinder does not follow.
func (p *Process) FrameRule(a uint64) (cfi.Rule, error) {
	for _, m := range p.maps {
		if a < m.start || a >= m.end {
			continue
		}
		t := p.table(m)
		if t == nil {
			return cfi.Rule{}, fmt.Errorf("%s cannot be read", m.path)
		}
		va, ok := t.addr(a - m.start + m.off)
		if !ok {
			return cfi.Rule{}, fmt.Errorf("%s+0x%x is in no segment of it", filepath.Base(m.path), a-m.start+m.off)
		}
		rules, err := t.frameRules()
		if err == nil {
			var r cfi.Rule
			if r, err = rules.RuleAt(va); err == nil {
				return r, nil
			}
		}
		if errors.Is(err, cfi.ErrNoCFI) {
			return cfi.Rule{}, fmt.Errorf("%w in %s", err, m.path)
		}
		return cfi.Rule{}, fmt.Errorf("%s: %w", m.path, err)
	}
	return cfi.Rule{}, fmt.Errorf("%w at 0x%x (code made at run time?)", ErrUnmapped, a)
}

// ErrUnmapped is an address no file is mapped at.
var ErrUnmapped = errors.New("no file is mapped")

// table is m's file's table, read once (nil when it cannot be read).
func (p *Process) table(m mapping) *table {
	t, ok := p.tables[m.path]
	if !ok {
		t, _ = loadTable(m.file, p.root, m.path)
		p.tables[m.path] = t
	}
	return t
}
