package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/trace-debug/kubectl-trace-debug/bpf/offcpu"
)

// pingPong is a C program that bounces a byte between two processes over
// two pipes, for argv[1] seconds after a 0.5 s settling pause, and prints
// how many round trips it made: every trip is two context switches each
// way, the tracker's worst case.
const pingPong = `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int ab[2], ba[2];
	char c = 0;
	if (pipe(ab) || pipe(ba))
		return 1;
	if (fork() == 0) {
		for (;;) {
			if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
				return 0;
		}
	}
	usleep(500000);
	double end = now() + atof(argv[1]);
	long trips = 0;
	while (now() < end) {
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return 1;
		trips++;
	}
	printf("%ld\n", trips);
	return 0;
}
`

// switchCost measures what --wall's thread follower (package offcpu, on
// sched_switch) costs the processes it follows: the ping-pong's round
// trips a second, followed and not, in alternated windows (root, local).
func switchCost() {
	dir, err := os.MkdirTemp("", "bench-pingpong")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	src, exe := filepath.Join(dir, "pingpong.c"), filepath.Join(dir, "pingpong")
	if err := os.WriteFile(src, []byte(pingPong), 0o644); err != nil {
		fail(err)
	}
	if out, err := exec.Command("gcc", "-O2", "-o", exe, src).CombinedOutput(); err != nil {
		fail(fmt.Errorf("build the ping-pong: %v\n%s", err, out))
	}
	const seconds = 4
	var none, followed []float64
	for i := 0; i < 3; i++ {
		none = append(none, pingPongRate(exe, seconds, false))
		followed = append(followed, pingPongRate(exe, seconds, true))
	}
	base, with := medianFloat(none), medianFloat(followed)
	fmt.Println("\n--wall's follower of threads that are not Go (sched_switch), on a ping-pong of two processes over pipes:")
	fmt.Printf("  not followed: %.0f round trips/s; followed: %.0f, %s of it (medians of 3 alternated %d s windows); %s µs more per round trip (four context switches)\n",
		base, with, fig("wall.threads.switch-ratio", fmt.Sprintf("%.3f", with/base)), seconds, fig("wall.threads.trip-cost", fmt.Sprintf("%.2f", (1/with-1/base)*1e6)))
}

// pingPongRate runs the ping-pong in a PID namespace of its own, followed
// by the tracker or not, and gives its round trips a second.
func pingPongRate(exe string, seconds int, follow bool) float64 {
	cmd := exec.Command("unshare", "--pid", "--fork", exe, strconv.Itoa(seconds))
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	if follow {
		var target int
		for i := 0; i < 100 && target == 0; i++ { // the ping-pong, PID 1 of its namespace
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
			if f := strings.Fields(string(b)); len(f) > 0 {
				target, _ = strconv.Atoi(f[0])
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // its child forked
		t := offcpu.Target{PIDNamespace: fmt.Sprintf("/proc/%d/ns/pid", target)}
		for _, p := range []int{1, 2} { // the ping and the pong, in their namespace
			host := target
			if p == 2 {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", target, target))
				host, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			t.Processes = append(t.Processes, offcpu.Process{PID: uint32(p), Dir: fmt.Sprintf("/proc/%d", host)})
		}
		tr, err := offcpu.Start(t)
		if err != nil {
			fail(fmt.Errorf("follow the ping-pong: %w", err))
		}
		defer tr.Close()
	}
	if err := cmd.Wait(); err != nil {
		fail(fmt.Errorf("the ping-pong: %w", err))
	}
	trips, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
	if err != nil {
		fail(fmt.Errorf("the ping-pong's count %q: %w", out.String(), err))
	}
	return trips / float64(seconds)
}
