package mapmerge

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// mapLine is a map entry or a histogram's header in bpftrace's text:
// `@name: 5`, `@name[key]: 5`, `@name[key]: { .count = ... }`, `@name:`.
var (
	mapLine    = regexp.MustCompile(`^(@[A-Za-z0-9_]*)(\[(.*)\])?:(?: (.*))?$`)
	statsValue = regexp.MustCompile(`^\{ \.count = (-?\d+), \.average = -?\d+, \.total = (-?\d+) \}$`)
	bucketLine = regexp.MustCompile(`^(\S.*?)\s+(\d+) \|[@ ]*\|$`)
)

// keyOpen starts an entry whose key goes on over several lines (a stack:
// `@[` or `@s[comm, `, then a frame a line, then `]: 5`); keyClose ends it.
var (
	keyOpen  = regexp.MustCompile(`^(@[A-Za-z0-9_]*)\[(.*)$`)
	keyClose = regexp.MustCompile(`^\]:(?: (.*))?$`)
)

// ParseText reads the maps bpftrace printed as text. Lines that are not map
// output are kept in Other.
func ParseText(text string) *Dump {
	d := &Dump{}
	var hist *Value // the histogram whose buckets follow
	histName := ""
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if hist != nil {
			if b, ok := parseBucket(line); ok {
				hist.Buckets = append(hist.Buckets, b)
				d.raw(histName, line)
				continue
			}
			d.raw(histName, "")
			hist = nil
		}
		if line == "" {
			continue
		}
		m, took := entryAt(lines, i)
		if m == nil {
			d.Other = append(d.Other, line)
			continue
		}
		for _, l := range lines[i : i+took] {
			d.raw(m[1], l)
		}
		i += took - 1
		mp := d.Map(m[1])
		mp.Keyed = m[2] != ""
		v, _ := mp.entry(m[3])
		switch value := m[4]; {
		case value == "":
			hist, histName = v, m[1]
		case statsValue.MatchString(value):
			sv := statsValue.FindStringSubmatch(value)
			v.Count, _ = strconv.ParseInt(sv[1], 10, 64)
			v.Total, _ = strconv.ParseInt(sv[2], 10, 64)
		default:
			// A string or another value is no number: the map cannot be
			// read, and its lines stay in Raw for it to be shown per pod.
			var err error
			if v.N, err = strconv.ParseInt(value, 10, 64); err != nil {
				mp.unreadable(value, strconv.Quote(value))
			}
		}
	}
	return d
}

// entryAt reads the map entry that starts at lines[i]: a line mapLine
// matches, or an entry whose key goes on over several lines (keyOpen, a
// frame a line, keyClose), its key the text between the brackets as
// printed. It returns mapLine's groups (the entry, name, [key], key,
// value) and how many lines the entry took; nil when no entry starts there.
func entryAt(lines []string, i int) ([]string, int) {
	if m := mapLine.FindStringSubmatch(lines[i]); m != nil {
		return m, 1
	}
	open := keyOpen.FindStringSubmatch(lines[i])
	if open == nil {
		return nil, 0
	}
	for end := i + 1; end < len(lines); end++ {
		if c := keyClose.FindStringSubmatch(lines[end]); c != nil {
			key := open[2] + "\n" + strings.Join(lines[i+1:end], "\n") + "\n"
			return []string{strings.Join(lines[i:end+1], "\n"), open[1], "[" + key + "]", key, c[1]}, end - i + 1
		}
	}
	return nil, 0
}

// parseBucket reads one histogram line: `[4, 8)   3 |@@@   |`.
func parseBucket(line string) (Bucket, bool) {
	m := bucketLine.FindStringSubmatch(line)
	if m == nil {
		return Bucket{}, false
	}
	count, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil {
		return Bucket{}, false
	}
	b := Bucket{Count: count}
	label := m[1]
	var ok bool
	switch {
	case strings.HasPrefix(label, "(..., ") && strings.HasSuffix(label, ")"):
		b.Under = true
		b.Hi, ok = parseNumber(strings.TrimSuffix(strings.TrimPrefix(label, "(..., "), ")"))
	case strings.HasSuffix(label, ", ...)") && strings.HasPrefix(label, "["):
		b.Over = true
		b.Lo, ok = parseNumber(strings.TrimSuffix(strings.TrimPrefix(label, "["), ", ...)"))
	case strings.HasPrefix(label, "[") && strings.HasSuffix(label, ")"):
		lo, hi, found := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(label, "["), ")"), ", ")
		var okHi bool
		b.Lo, ok = parseNumber(lo)
		b.Hi, okHi = parseNumber(hi)
		ok = ok && okHi && found
	case strings.HasPrefix(label, "[") && strings.HasSuffix(label, "]"):
		b.Lo, ok = parseNumber(strings.TrimSuffix(strings.TrimPrefix(label, "["), "]"))
		b.Hi = b.Lo + 1
	}
	return b, ok
}

// suffixes are the powers of 1024 bpftrace's histogram labels use.
const suffixes = "KMGTPE"

// parseNumber reads a histogram label's number: 12, -3, 4K, 2M.
func parseNumber(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	mult := int64(1)
	if i := strings.IndexByte(suffixes, s[len(s)-1]); i >= 0 {
		for j := 0; j <= i; j++ {
			mult *= 1024
		}
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err == nil
}

// formatNumber writes a histogram label's number as bpftrace does: the
// largest power of 1024 that divides it as a suffix.
func formatNumber(n int64) string {
	i := -1
	for n != 0 && n%1024 == 0 && i+1 < len(suffixes) {
		n /= 1024
		i++
	}
	if i < 0 {
		return strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10) + string(suffixes[i])
}

// label is a bucket's label in bpftrace's text.
func label(b Bucket, k Kind) string {
	switch {
	case b.Under:
		return "(..., " + formatNumber(b.Hi) + ")"
	case b.Over:
		return "[" + formatNumber(b.Lo) + ", ...)"
	case k == Hist && b.Hi == b.Lo+1 && b.Lo <= 1:
		return "[" + formatNumber(b.Lo) + "]"
	}
	return "[" + formatNumber(b.Lo) + ", " + formatNumber(b.Hi) + ")"
}

// barWidth is the width of a histogram's bars in bpftrace's text.
const barWidth = 52

// WriteText writes the dump's maps as bpftrace prints them at exit.
func WriteText(w io.Writer, d *Dump, kinds map[string]Kind) error {
	var b strings.Builder
	for _, m := range d.Maps {
		k := kinds[m.Name]
		for _, key := range m.Keys {
			v := m.Entries[key]
			name := m.Name
			if m.Keyed {
				name += "[" + key + "]"
			}
			switch k {
			case Stats:
				fmt.Fprintf(&b, "%s: { .count = %d, .average = %d, .total = %d }\n", name, v.Count, v.average(), v.Total)
			case Avg:
				fmt.Fprintf(&b, "%s: %d\n", name, v.average())
			case Hist, Lhist:
				fmt.Fprintf(&b, "%s:\n", name)
				buckets := fill(v.Buckets, k)
				var most uint64
				for _, bk := range buckets {
					most = max(most, bk.Count)
				}
				for _, bk := range buckets {
					bar := 0
					if most > 0 {
						bar = int(bk.Count * barWidth / most)
					}
					fmt.Fprintf(&b, "%-16s%8d |%-*s|\n", label(bk, k), bk.Count, barWidth, strings.Repeat("@", bar))
				}
				b.WriteString("\n")
			default:
				fmt.Fprintf(&b, "%s: %d\n", name, v.N)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
