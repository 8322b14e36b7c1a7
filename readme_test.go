package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// benchFigure is a figure README quotes from `make bench`'s results:
// VALUE<!--bench KEY-->, the comment invisible where README is rendered.
var benchFigure = regexp.MustCompile(`([^\s>(]+(?: (?:s|MB|µs))?)<!--bench ([a-z][A-Za-z0-9.-]*)-->`)

// README's figures are the latest `make bench` run's, as committed in
// docs/bench (the newest dated file): each quoted figure is that file's,
// and README names the file. A figure typed from memory, or left from an
// older run, fails here.
func TestReadmeFiguresAreTheBenchFile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	file, figures := newestBench(t, "docs/bench")
	if err := checkFigures(string(readme), file, figures); err != nil {
		t.Fatal(err)
	}
	// The check's own red: a figure changed by hand is caught.
	m := benchFigure.FindStringSubmatchIndex(string(readme))
	tampered := string(readme[:m[2]]) + "9" + string(readme[m[2]:])
	if checkFigures(tampered, file, figures) == nil {
		t.Fatal("a tampered figure went unnoticed")
	}
}

// checkFigures reports the first of readme's quoted figures that is not
// the bench file's, or that the file lacks.
func checkFigures(readme, file string, figures map[string]string) error {
	quoted := benchFigure.FindAllStringSubmatch(readme, -1)
	if len(quoted) < 30 {
		return fmt.Errorf("README quotes %d figures of make bench (<!--bench KEY--> after each): fewer than its measured section has", len(quoted))
	}
	if !strings.Contains(readme, file) {
		return fmt.Errorf("README does not name %s, the latest bench results", file)
	}
	for _, q := range quoted {
		want, ok := figures[q[2]]
		switch {
		case !ok:
			return fmt.Errorf("README quotes %s as %q, which %s does not have", q[2], q[1], file)
		case q[1] != want:
			return fmt.Errorf("README says %s is %q; %s says %q", q[2], q[1], file, want)
		}
	}
	return nil
}

// newestBench reads the newest docs/bench/DATE.txt: KEY VALUE lines.
func newestBench(t *testing.T, dir string) (string, map[string]string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "????-??-??.txt"))
	if len(files) == 0 {
		t.Fatalf("no bench results in %s: run make bench and commit its file", dir)
	}
	slices.Sort(files)
	f, err := os.Open(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	figures := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			k, v, _ := strings.Cut(line, " ")
			figures[k] = v
		}
	}
	return files[len(files)-1], figures
}
