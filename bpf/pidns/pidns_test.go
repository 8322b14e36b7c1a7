package pidns

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// A namespace that cannot be read is refused before anything is loaded
// (the engines' root tests load the real programs through Load).
func TestLoadRefusesAMissingNamespace(t *testing.T) {
	err := Load("x", &ebpf.CollectionSpec{}, "/proc/0/ns/pid", nil, &struct{}{})
	if err == nil || !strings.Contains(err.Error(), "stat pid namespace") {
		t.Fatalf("got %v", err)
	}
}
