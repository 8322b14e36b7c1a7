package goproc

import (
	"errors"
	"fmt"
	"slices"
)

// ErrUnsupported means the process is not one this reader can read: not
// Go, a Go release whose layout is not known, a binary whose runtime it
// cannot find its way in. The error says what is missing.
var ErrUnsupported = errors.New("cannot read this Go process")

// ErrNotGo means the process is not a Go program (it wraps ErrUnsupported).
var ErrNotGo = fmt.Errorf("%w: not a Go program", ErrUnsupported)

// sorted returns s sorted.
func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// errorf is a reading that failed: the process moved or is not what its
// binary says.
func errorf(format string, a ...any) error {
	return fmt.Errorf("read the goroutines: "+format, a...)
}
