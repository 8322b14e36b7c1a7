package runner

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// Table is the content of one of the program's maps, keyed by a 64-bit
// integer with string values, that the runner writes into bpftrace's map
// from outside: filling it in the program would cost bpftrace a compiled
// statement per entry.
type Table struct {
	// Map is the map's name in the program, e.g. @__td_syscalls.
	Map string
	// Entries are its keys and values.
	Entries map[int64]string
}

// kernelName is the name bpftrace gives the map in the kernel: AT_ and the
// name without its @, cut to the kernel's 15 characters.
func (t Table) kernelName() string {
	n := "AT_" + strings.TrimPrefix(t.Map, "@")
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

// fillTables writes each table into the map of that name that the process
// pid holds open.
func fillTables(procRoot string, pid int, tables []Table) error {
	for _, t := range tables {
		m, err := processMap(procRoot, pid, t.kernelName())
		if err != nil {
			return fmt.Errorf("find map %s: %w", t.Map, err)
		}
		err = fillMap(m, t)
		m.Close()
		if err != nil {
			return fmt.Errorf("fill map %s: %w", t.Map, err)
		}
	}
	return nil
}

func fillMap(m *ebpf.Map, t Table) error {
	if m.KeySize() != 8 {
		return fmt.Errorf("its keys are %d bytes, not 8", m.KeySize())
	}
	for k, v := range t.Entries {
		if len(v) >= int(m.ValueSize()) {
			return fmt.Errorf("%q does not fit its %d-byte values", v, m.ValueSize())
		}
		key := make([]byte, 8)
		binary.NativeEndian.PutUint64(key, uint64(k))
		value := make([]byte, m.ValueSize())
		copy(value, v)
		if err := m.Put(key, value); err != nil {
			return err
		}
	}
	return nil
}

// processMap opens the BPF map named name among those process pid holds.
func processMap(procRoot string, pid int, name string) (*ebpf.Map, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fdinfo")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		b, err := os.ReadFile(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(line, "map_id:")
			if !ok {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				continue
			}
			m, err := ebpf.NewMapFromID(ebpf.MapID(id))
			if err != nil {
				continue
			}
			if info, err := m.Info(); err == nil && info.Name == name {
				return m, nil
			}
			m.Close()
		}
	}
	return nil, fmt.Errorf("process %d holds no map named %s", pid, name)
}
