package debug

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/trace-debug/kubectl-trace-debug/bpf/protocol"
	"github.com/trace-debug/kubectl-trace-debug/debug/pods"
)

func TestPrintSessions(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sessions := []pods.SessionInfo{{
		Namespace: "ns", Pod: "web", Name: "trace-debug-a", Target: "app", Program: "BEGIN { }\nEND { }",
		State: "Completed", ExitCode: ptr.To[int32](0), Started: now.Add(-90 * time.Second),
		Detached: true, Deadline: metav1.Duration{Duration: time.Hour}, User: "alice",
	}}
	for _, c := range []struct {
		format, namespaced string
		want               []string
	}{
		{"", "", []string{"POD  SESSION", "web  trace-debug-a  app        Completed  0     90s  BEGIN { }"}},
		{"", "ns", []string{"NAMESPACE  POD", "ns         web"}},
		{"wide", "", []string{"MODE", "detached  1h0m0s    alice"}},
	} {
		var b strings.Builder
		if err := printSessions(&b, sessions, c.format, c.namespaced != "", now); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("format %q: no %q in\n%s", c.format, w, b.String())
			}
		}
	}
	for _, format := range []string{"json", "yaml"} {
		var b strings.Builder
		if err := printSessions(&b, sessions, format, false, now); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		var err error
		if format == "json" {
			err = json.Unmarshal([]byte(b.String()), &got)
		} else {
			err = yaml.Unmarshal([]byte(b.String()), &got)
		}
		if err != nil || len(got) != 1 || got[0]["session"] != "trace-debug-a" || got[0]["deadline"] != "1h0m0s" {
			t.Errorf("%s: %v %v\n%s", format, err, got, b.String())
		}
	}
	var b strings.Builder
	if err := printSessions(&b, nil, "json", false, now); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("no sessions as JSON: %q, %v", b.String(), err)
	}
	if err := printSessions(&b, nil, "xml", false, now); ExitCode(err) != ExitUsage {
		t.Errorf("bad format: %v", err)
	}
}

// What other users wrote reaches the terminal without control characters.
func TestPrintable(t *testing.T) {
	if got, want := printable("BEGIN { }\x1b[2J\x07"), "BEGIN { }\uFFFD[2J\uFFFD"; got != want {
		t.Errorf("printable = %q, want %q", got, want)
	}
	var b strings.Builder
	_, _ = printableWriter{&b}.Write([]byte("@calls: 3\n\t\x1b]0;owned\x07\n"))
	if got, want := b.String(), "@calls: 3\n\t\uFFFD]0;owned\uFFFD\n"; got != want {
		t.Errorf("printableWriter wrote %q, want %q", got, want)
	}
}

func TestListValidate(t *testing.T) {
	for format, ok := range map[string]bool{"": true, "wide": true, "json": true, "yaml": true, "table": false, "jsn": false} {
		err := (&ListOptions{Output: format}).Validate()
		if (err == nil) != ok || (err != nil && ExitCode(err) != ExitUsage) {
			t.Errorf("Validate(%q) = %v, want ok=%v", format, err, ok)
		}
	}
}

func TestProgramLine(t *testing.T) {
	for _, c := range []struct {
		s    pods.SessionInfo
		want string
	}{
		{pods.SessionInfo{Program: "\n  BEGIN { }\nEND { }"}, "BEGIN { }"},
		{pods.SessionInfo{Session: protocol.Session{Syscalls: true}}, "--syscalls"},
		{pods.SessionInfo{Session: protocol.Session{Funcs: []string{"main.a", "main.b"}}}, "--func main.a --func main.b"},
		{pods.SessionInfo{Session: protocol.Session{CPUHz: 99}}, "--cpu --hz 99"},
	} {
		if got := programLine(c.s); got != c.want {
			t.Errorf("programLine(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}
