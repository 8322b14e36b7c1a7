package gofunc

import (
	"errors"
	"strings"
	"testing"

	"github.com/trace-debug/kubectl-trace-debug/internal/testgo"
)

const targetSource = `package main

import (
	"errors"
	"fmt"
	"os"
	"time"
)

//go:noinline
func next(i int) (int, error) {
	if i%3 == 2 {
		return -i, errors.New("bad")
	}
	return i * 10, nil
}

//go:noinline
func label(i int) string { return fmt.Sprintf("item-%d", i) }

func main() {
	for {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 6; i++ {
		v, err := next(i)
		fmt.Println(v, err != nil, label(i))
	}
}
`

// buildTarget builds the test target, stripped (-s -w) when asked, with
// extra go build flags.
func buildTarget(t *testing.T, stripped bool, extra ...string) string {
	t.Helper()
	flags := extra
	if stripped {
		flags = append(flags, "-ldflags=-s -w")
	}
	exe, err := testgo.Build(t.TempDir(), targetSource, flags...)
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestResolveRefuses(t *testing.T) {
	exe := buildTarget(t, false)
	for _, c := range []struct {
		file, pattern, msg string
	}{
		{exe, "main.nope", "absent, or inlined"},
		{"/bin/true", "main.main", "not a Go executable"},
	} {
		_, err := Resolve(c.file, []string{c.pattern})
		if !errors.Is(err, ErrCannotProbe) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Resolve(%s, %s) = %v, want %q", c.file, c.pattern, err, c.msg)
		}
	}
}
