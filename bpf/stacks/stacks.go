// Package stacks is a profile as the runner sends it and the client shows
// it — a CPU or wall-clock profile, or a Go process's memory profile:
// named stacks (frames innermost first, with file and line where the
// binary records them) and how often each was sampled (or, for memory,
// the bytes and objects it holds), by process and pod. The runner writes a profile as JSON lines after protocol.MapsLine;
// the client reads them back, merges the pods' profiles and writes them as
// a pprof profile (github.com/google/pprof/profile), folded lines, a top
// table or JSON. It is pure: no eBPF, no Kubernetes.
//
// Shared: the client (debug/) and the runner both use it; it links no eBPF
// and no Kubernetes code (boundary_test.go keeps it so).
package stacks

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Frame is one named frame.
type Frame struct {
	// Func is the function, or file+0xOFFSET, or the bare address.
	Func string `json:"func"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Stack is one distinct stack and how often it was sampled.
type Stack struct {
	// Frames are innermost first: the kernel's above the user's.
	Frames []Frame `json:"frames"`
	Count  uint64  `json:"count"`
	// Values are a memory profile's four values (see Heap).
	Values  []int64 `json:"values,omitempty"`
	Process string  `json:"process,omitempty"`
	// Pod is set when profiles of several pods are merged.
	Pod string `json:"pod,omitempty"`
}

// Lost counts what a profile could not record or name.
type Lost struct {
	// UserStacks and KernelStacks are samples whose stack the kernel could
	// not store (counted, with that stack empty); Samples were dropped.
	UserStacks   uint64 `json:"user_stacks"`
	KernelStacks uint64 `json:"kernel_stacks"`
	Samples      uint64 `json:"samples"`
	// Unnamed are samples of processes that exited before their frames
	// could be named (their user frames keep their addresses).
	Unnamed uint64 `json:"unnamed"`
}

// Note says what a profile could not record or name, after "; " (""
// when nothing was lost): the one wording of it, the runner's for one pod
// and the client's for several pods' merged.
func (l Lost) Note() string {
	var parts []string
	for _, c := range []struct {
		n    uint64
		what string
	}{
		{l.UserStacks, "user stacks not recorded (the stack map was full)"},
		{l.KernelStacks, "kernel stacks not recorded"},
		{l.Samples, "samples dropped (the counts map was full)"},
		{l.Unnamed, "samples of processes that exited before they could be named"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// Profile is a CPU profile.
type Profile struct {
	// Hz is the sampling rate on each CPU, CPUs how many were sampled.
	Hz   int `json:"hz"`
	CPUs int `json:"cpus"`
	// Duration is how long the sampling lasted.
	Duration time.Duration `json:"duration_ns"`
	Lost     Lost          `json:"lost"`
	// Wall says the samples are of goroutines, read Hz times a second,
	// each in its state (--wall), not of CPUs.
	Wall bool `json:"wall,omitempty"`
	// Heap marks a memory profile (--heap, --alloc): Count is bytes.
	Heap   *Heap   `json:"heap,omitempty"`
	Stacks []Stack `json:"-"`
}

// Samples is the number of samples the stacks hold.
func (p *Profile) Samples() uint64 {
	var n uint64
	for _, s := range p.Stacks {
		n += s.Count
	}
	return n
}

// The JSON line types a profile travels in, as bpftrace's -f json objects.
const (
	headerType = "cpu_profile"
	stackType  = "cpu_stack"
)

// header is the first line's data: the profile and its stack count.
type header struct {
	*Profile
	StackCount int `json:"stacks"`
}

// line is one JSON line.
type line struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// Write writes p as JSON lines: a header, then a line per stack.
func Write(w io.Writer, p *Profile) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(map[string]any{"type": headerType, "data": header{p, len(p.Stacks)}}); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	for _, s := range p.Stacks {
		if err := enc.Encode(map[string]any{"type": stackType, "data": s}); err != nil {
			return fmt.Errorf("write profile: %w", err)
		}
	}
	return bw.Flush()
}

// Read reads a profile written by Write from text, skipping other lines.
func Read(text string) (*Profile, error) {
	var p *Profile
	want := 0
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			continue
		}
		switch ln.Type {
		case headerType:
			h := header{Profile: &Profile{}}
			if err := json.Unmarshal(ln.Data, &h); err != nil {
				return nil, fmt.Errorf("read profile header: %w", err)
			}
			p, want = h.Profile, h.StackCount
		case stackType:
			if p == nil {
				return nil, fmt.Errorf("read profile: a stack before the header")
			}
			var s Stack
			if err := json.Unmarshal(ln.Data, &s); err != nil {
				return nil, fmt.Errorf("read profile stack: %w", err)
			}
			p.Stacks = append(p.Stacks, s)
		}
	}
	switch {
	case p == nil:
		return nil, fmt.Errorf("read profile: no profile in the output")
	case len(p.Stacks) != want:
		return nil, fmt.Errorf("read profile: %d of its %d stacks came", len(p.Stacks), want)
	}
	return p, nil
}

// Merge merges the profiles of pods (in the same order) into one: each
// stack keeps its pod, the losses add up, and the duration is the longest.
func Merge(pods []string, profiles []*Profile) *Profile {
	m := &Profile{}
	for i, p := range profiles {
		if p == nil {
			continue
		}
		m.Hz, m.CPUs, m.Wall = max(m.Hz, p.Hz), max(m.CPUs, p.CPUs), m.Wall || p.Wall
		if m.Heap == nil {
			m.Heap = p.Heap
		}
		m.Duration = max(m.Duration, p.Duration)
		m.Lost.UserStacks += p.Lost.UserStacks
		m.Lost.KernelStacks += p.Lost.KernelStacks
		m.Lost.Samples += p.Lost.Samples
		m.Lost.Unnamed += p.Lost.Unnamed
		for _, s := range p.Stacks {
			s.Pod = pods[i]
			m.Stacks = append(m.Stacks, s)
		}
	}
	return m
}
