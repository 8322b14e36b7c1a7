package symbols

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Kernel names kernel addresses from /proc/kallsyms.
type Kernel struct {
	addrs []uint64
	names []string
}

// NewKernel reads kallsyms (normally /proc/kallsyms). Its addresses read as
// zero without CAP_SYSLOG: that is an error, not a table of zeros.
func NewKernel(kallsyms string) (*Kernel, error) {
	f, err := os.Open(kallsyms)
	if err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	defer f.Close()
	type sym struct {
		addr uint64
		name string
	}
	var syms []sym
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || !strings.ContainsAny(fields[1], "tTwW") {
			continue
		}
		a, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil || a == 0 {
			continue
		}
		syms = append(syms, sym{a, fields[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("read kernel symbols: %s lists no addresses (kptr_restrict, or no CAP_SYSLOG)", kallsyms)
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	k := &Kernel{addrs: make([]uint64, len(syms)), names: make([]string, len(syms))}
	for i, s := range syms {
		k.addrs[i], k.names[i] = s.addr, s.name
	}
	return k, nil
}

// Name is the kernel function holding address a, or the bare address.
func (k *Kernel) Name(a uint64) string {
	i := sort.Search(len(k.addrs), func(i int) bool { return k.addrs[i] > a }) - 1
	if i < 0 {
		return fmt.Sprintf("0x%x", a)
	}
	return k.names[i]
}
