package exit

import (
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	fix := Fix{Setting: Deadline}
	for _, c := range []struct {
		err  error
		code int
		fix  bool
	}{
		{nil, 0, false},
		{errors.New("plain"), Internal, false},
		{Codef(Usage, "bad %s", "flag"), Usage, false},
		{fmt.Errorf("wrapped: %w", Codef(Timeout, "slow")), Timeout, false},
		{Fixf(Timeout, fix, "late"), Timeout, true},
		{Codef(Partial, "outer: %w", Fixf(Timeout, fix, "late")), Partial, true},
	} {
		if got := Code(c.err); got != c.code {
			t.Errorf("Code(%v) = %d, want %d", c.err, got, c.code)
		}
		if f, ok := FixOf(c.err); ok != c.fix || ok && f != fix {
			t.Errorf("FixOf(%v) = %+v, %v; want %v", c.err, f, ok, c.fix)
		}
	}
	if With(Usage, nil) != nil {
		t.Error("With(code, nil) must be nil")
	}
}
