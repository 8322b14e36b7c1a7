package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// element is what the JUnit schema (the de-facto one CI systems read:
// Ant's, as Jenkins, GitLab and GitHub's report actions take it) allows
// one element: its attributes (true when required) and its children.
type element struct {
	attrs    map[string]bool
	children []string
}

// schema is the structure Read checks.
var schema = map[string]element{
	"testsuites": {attrs: map[string]bool{"name": false, "time": false, "tests": false, "failures": false, "errors": false, "skipped": false, "disabled": false},
		children: []string{"testsuite"}},
	"testsuite": {attrs: map[string]bool{"name": true, "tests": true, "failures": false, "errors": false, "skipped": false, "disabled": false,
		"time": false, "timestamp": false, "hostname": false, "id": false, "package": false, "file": false},
		children: []string{"properties", "testcase", "system-out", "system-err"}},
	"properties": {children: []string{"property"}},
	"property":   {attrs: map[string]bool{"name": true, "value": true}},
	"testcase": {attrs: map[string]bool{"name": true, "classname": false, "time": false, "status": false, "file": false, "line": false, "assertions": false},
		children: []string{"skipped", "error", "failure", "system-out", "system-err"}},
	"skipped":    {attrs: map[string]bool{"message": false}},
	"error":      {attrs: map[string]bool{"message": false, "type": false}},
	"failure":    {attrs: map[string]bool{"message": false, "type": false}},
	"system-out": {},
	"system-err": {},
}

// Suite is one test suite of a report read back.
type Suite struct {
	Name                             string
	Tests, Failures, Errors, Skipped int
	Time                             time.Duration
	Properties                       map[string]string
	Cases                            []Case
}

// Case is one test case of a report read back: its failure's message (""
// when it passed), whether it was skipped, its output.
type Case struct {
	Name, Classname string
	Time            time.Duration
	Failure         string
	Failed, Skipped bool
	SystemOut       string
}

// ReadFile is Read of the report at path.
func ReadFile(path string) ([]Suite, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read JUnit report: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// Failed names the suite's failed test cases.
func (s Suite) Failed() []string {
	var out []string
	for _, c := range s.Cases {
		if c.Failed {
			out = append(out, c.Name)
		}
	}
	return out
}

// Read parses a JUnit XML report and checks it against the schema's
// structure: the root is testsuites, every element sits under a parent
// that may hold it with the attributes it may have (the required ones
// present), counts and times are numbers, a timestamp is ISO 8601, and
// each suite's counts agree with its test cases.
func Read(r io.Reader) ([]Suite, error) {
	dec := xml.NewDecoder(r)
	var stack []string
	var suites []Suite
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read JUnit report: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if err := allowed(stack, name); err != nil {
				return nil, err
			}
			attrs, err := attributes(name, t.Attr)
			if err != nil {
				return nil, err
			}
			if err := start(&suites, name, attrs); err != nil {
				return nil, err
			}
			stack = append(stack, name)
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if stack[len(stack)-1] == "system-out" && len(stack) > 1 && stack[len(stack)-2] == "testcase" {
				s := &suites[len(suites)-1]
				s.Cases[len(s.Cases)-1].SystemOut = text.String()
			}
			stack = stack[:len(stack)-1]
		}
	}
	if suites == nil {
		return nil, fmt.Errorf("read JUnit report: no test suite")
	}
	for _, s := range suites {
		if err := s.consistent(); err != nil {
			return nil, err
		}
	}
	return suites, nil
}

// allowed checks that name may open under the elements of stack.
func allowed(stack []string, name string) error {
	if len(stack) == 0 {
		if name != "testsuites" {
			return fmt.Errorf("read JUnit report: the root is <%s>, not <testsuites>", name)
		}
		return nil
	}
	parent := stack[len(stack)-1]
	for _, c := range schema[parent].children {
		if c == name {
			return nil
		}
	}
	return fmt.Errorf("read JUnit report: <%s> may not hold <%s>", parent, name)
}

// attributes checks an element's attributes against the schema.
func attributes(name string, attrs []xml.Attr) (map[string]string, error) {
	el := schema[name]
	got := map[string]string{}
	for _, a := range attrs {
		if _, ok := el.attrs[a.Name.Local]; !ok {
			return nil, fmt.Errorf("read JUnit report: <%s> has no attribute %s", name, a.Name.Local)
		}
		got[a.Name.Local] = a.Value
	}
	for a, required := range el.attrs {
		v, ok := got[a]
		if required && !ok {
			return nil, fmt.Errorf("read JUnit report: <%s> lacks its %s", name, a)
		}
		if !ok {
			continue
		}
		switch a {
		case "tests", "failures", "errors", "skipped", "disabled", "id":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("read JUnit report: <%s %s=%q> is not a count", name, a, v)
			}
		case "time":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("read JUnit report: <%s time=%q> is not seconds", name, v)
			}
		case "timestamp":
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return nil, fmt.Errorf("read JUnit report: <%s timestamp=%q> is not ISO 8601", name, v)
			}
		}
	}
	return got, nil
}

// start records what an element that opens says.
func start(suites *[]Suite, name string, a map[string]string) error {
	n := func(k string) int { v, _ := strconv.Atoi(a[k]); return v }
	d := func(k string) time.Duration {
		v, _ := strconv.ParseFloat(a[k], 64)
		return time.Duration(v * float64(time.Second))
	}
	switch name {
	case "testsuite":
		*suites = append(*suites, Suite{Name: a["name"], Tests: n("tests"), Failures: n("failures"), Errors: n("errors"),
			Skipped: n("skipped"), Time: d("time"), Properties: map[string]string{}})
	case "property":
		(*suites)[len(*suites)-1].Properties[a["name"]] = a["value"]
	case "testcase":
		s := &(*suites)[len(*suites)-1]
		s.Cases = append(s.Cases, Case{Name: a["name"], Classname: a["classname"], Time: d("time")})
	case "failure", "error":
		s := &(*suites)[len(*suites)-1]
		c := &s.Cases[len(s.Cases)-1]
		c.Failed, c.Failure = true, a["message"]
	case "skipped":
		s := &(*suites)[len(*suites)-1]
		s.Cases[len(s.Cases)-1].Skipped = true
	}
	return nil
}

// consistent checks a suite's counts against its cases.
func (s Suite) consistent() error {
	failed, skipped := 0, 0
	for _, c := range s.Cases {
		if c.Failed {
			failed++
		}
		if c.Skipped {
			skipped++
		}
	}
	if s.Tests != len(s.Cases) || s.Failures+s.Errors != failed || s.Skipped != skipped {
		return fmt.Errorf("read JUnit report: suite %s says %d tests, %d failures and errors, %d skipped; it holds %d, %d and %d",
			s.Name, s.Tests, s.Failures+s.Errors, s.Skipped, len(s.Cases), failed, skipped)
	}
	return nil
}
