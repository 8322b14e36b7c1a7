package main

import (
	"fmt"
	"time"
)

// wildcardSideBySide runs, on the demo pod with --duration 3s, the seed's
// sys_enter_* (which the runner rewrites into one raw_syscalls probe), the
// same program in its original form of 360 tracepoints (a predicate naming
// probe keeps the runner from rewriting it), and a one-probe program:
// probes attached, command start to exit, and bpftrace's peak memory.
func wildcardSideBySide(plugin, kubeconfig string) {
	ways := []struct{ name, program string }{
		{"seed's sys_enter_* (rewritten)", seedWildcard},
		{"original form (360 tracepoints)", `tracepoint:syscalls:sys_enter_* /probe != ""/ { @[probe] = count(); }`},
		{"one probe", `tracepoint:raw_syscalls:sys_enter { @[args.id] = count(); }`},
	}
	type result struct {
		took, attached time.Duration
		kb             int
	}
	const runs = 3
	all := map[string][]result{}
	for i := 0; i < runs; i++ { // alternated, so a busy moment of the node falls on every way alike
		for _, w := range ways {
			took, attached, kb, err := boundedProgram(plugin, kubeconfig, "demo", defaultImage(), w.program)
			if err != nil {
				fail(fmt.Errorf("%s: %w", w.name, err))
			}
			all[w.name] = append(all[w.name], result{took, attached, kb})
		}
	}
	res := map[string]result{}
	fmt.Printf("\nsyscall wildcard with --duration 3s (demo pod), median of %d alternated runs:\n", runs)
	for i, w := range ways {
		var took, attached []time.Duration
		kb := 0
		for _, r := range all[w.name] {
			took, attached, kb = append(took, r.took), append(attached, r.attached), max(kb, r.kb)
		}
		r := result{median(took), median(attached), kb}
		res[w.name] = r
		key := "wildcard." + []string{"rewritten", "original", "one-probe"}[i]
		fmt.Printf("  %-33s attached after %s, exit after %s, bpftrace peak %s (the most of the runs)\n", w.name+":",
			fig(key+".attached", secs(r.attached)), fig(key+".exit", secs(r.took)), fig(key+".peak", mb(int64(r.kb))))
	}
	rw, orig, one := res[ways[0].name], res[ways[1].name], res[ways[2].name]
	fmt.Printf("  rewritten against one probe: attach %s, memory %s\n", fig("wildcard.rewritten-attach-ratio", times(float64(rw.attached)/float64(one.attached))),
		fig("wildcard.rewritten-peak-ratio", times(float64(rw.kb)/float64(one.kb))))
	fmt.Printf("  original form against rewritten: attach %s, exit %.2fx, memory %s\n\n",
		fig("wildcard.original-attach-ratio", times(float64(orig.attached)/float64(rw.attached))), float64(orig.took)/float64(rw.took),
		fig("wildcard.original-peak-ratio", times(float64(orig.kb)/float64(rw.kb))))
}
