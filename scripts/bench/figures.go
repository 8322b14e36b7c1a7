package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// benchDir holds the results of `make bench`, a file a day
// (docs/bench/YYYY-MM-DD.txt): README quotes the newest, and a test keeps
// README's figures those of that file.
const benchDir = "docs/bench"

// figures are a run's results by key, in the order measured.
type figures struct {
	mu   sync.Mutex
	keys []string
	vals map[string]string
}

// results are this run's figures.
var results = &figures{vals: map[string]string{}}

// fig records value under key and returns it, for the line that prints it.
func fig(key, value string) string {
	results.mu.Lock()
	defer results.mu.Unlock()
	if _, ok := results.vals[key]; !ok {
		results.keys = append(results.keys, key)
	}
	results.vals[key] = value
	return value
}

// secs is d in seconds as README writes it: "0.77 s".
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// mb is a size in kB as megabytes: "166 MB" ("7.3 MB" below 10).
func mb(kb int64) string {
	if kb < 10<<10 {
		return fmt.Sprintf("%.1f MB", float64(kb)/1024)
	}
	return fmt.Sprintf("%.0f MB", float64(kb)/1024)
}

// times is a ratio: "1.06×".
func times(x float64) string { return fmt.Sprintf("%.2f×", x) }

// write writes the figures to benchDir/DATE.txt, today's; a run of one
// comparison (partial) keeps the other figures of the newest file.
func (f *figures) write(partial bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, vals := f.keys, f.vals
	if partial {
		if prev, _, err := newestFigures(benchDir); err == nil {
			for _, k := range prev.keys {
				if _, ok := vals[k]; !ok {
					keys = append(keys, k)
					vals[k] = prev.vals[k]
				}
			}
		}
	}
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "# make bench, %s, on %s (%d CPUs); one figure a line: KEY VALUE\n", time.Now().UTC().Format(time.RFC3339), host, runtime.NumCPU())
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, vals[k])
	}
	path := filepath.Join(benchDir, time.Now().UTC().Format("2006-01-02")+".txt")
	if err := os.MkdirAll(benchDir, 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// newestFigures reads the newest results file of dir.
func newestFigures(dir string) (*figures, string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "????-??-??.txt"))
	if len(files) == 0 {
		return nil, "", fmt.Errorf("no results in %s", dir)
	}
	slices.Sort(files)
	path := files[len(files)-1]
	fh, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer fh.Close()
	f := &figures{vals: map[string]string{}}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		f.keys = append(f.keys, k)
		f.vals[k] = v
	}
	return f, path, sc.Err()
}

// imageSizes records the size of each image the project builds, from the
// tarballs scripts/images/build.sh wrote.
func imageSizes(dir string) {
	fmt.Println("\nimage sizes (the tarballs imported into the cluster):")
	for _, img := range []struct{ key, file string }{
		{"image.runner", "runner.tar"}, {"image.runner-native", "runner-native.tar"}, {"image.runner-bpftrace017", "runner017.tar"}, {"image.demo", "demo.tar"},
	} {
		st, err := os.Stat(filepath.Join(dir, img.file))
		if err != nil {
			fail(fmt.Errorf("image size: %w", err))
		}
		fmt.Printf("  %-26s %s\n", img.file+":", fig(img.key, mb(st.Size()>>10)))
	}
}
