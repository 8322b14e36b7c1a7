package mapmerge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// jsonLine is one line of bpftrace's JSON output.
type jsonLine struct {
	Type string                     `json:"type"`
	Data map[string]json.RawMessage `json:"data"`
}

// jsonStats is a stats value in bpftrace's JSON.
type jsonStats struct {
	Count   *int64 `json:"count"`
	Average *int64 `json:"average"`
	Total   *int64 `json:"total"`
}

// jsonBucket is a histogram bucket in bpftrace's JSON: an underflow bucket
// has no min, an overflow one no max.
type jsonBucket struct {
	Min   *int64 `json:"min"`
	Max   *int64 `json:"max"`
	Count uint64 `json:"count"`
}

// ParseJSON reads the maps bpftrace printed as JSON lines ("map", "stats"
// and "hist" objects); a map whose values are not numbers (strings,
// tuples, numbers past int64) is marked Unreadable. Other lines are kept
// in Other.
func ParseJSON(text string) *Dump {
	d := &Dump{}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !parseJSONLine(d, line) {
			d.Other = append(d.Other, line)
		}
	}
	return d
}

// parseJSONLine adds one line's maps to d, or reports that it holds none.
func parseJSONLine(d *Dump, line string) bool {
	var l jsonLine
	if err := json.Unmarshal([]byte(line), &l); err != nil || len(l.Data) != 1 {
		return false
	}
	for name, raw := range l.Data {
		values := map[string]json.RawMessage{"": raw}
		keyed := false
		var keys []string
		if l.Type == "map" || l.Type == "stats" && !isStats(raw) || l.Type == "hist" && !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			dec := json.NewDecoder(bytes.NewReader(raw))
			if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
				var ok bool
				values, keys, ok = orderedObject(dec)
				if !ok {
					return false
				}
				keyed = true
			}
		}
		if !keyed {
			keys = []string{""}
		}
		parsed := map[string]*Value{}
		unreadable := ""
		for _, key := range keys {
			v, ok := parseJSONValue(l.Type, values[key])
			if !ok && l.Type == "map" { // a string, a tuple: the map cannot be read
				v, unreadable = &Value{}, string(values[key])
			} else if !ok {
				return false
			}
			parsed[key] = v
		}
		m := d.Map(name)
		if unreadable != "" {
			m.unreadable(strings.Trim(unreadable, `"`), unreadable)
		}
		m.Keyed = keyed
		d.raw(name, line)
		for _, key := range keys {
			v, _ := m.entry(key)
			*v = *parsed[key]
		}
	}
	return true
}

// isStats reports whether raw is one stats value (not a map of them).
func isStats(raw json.RawMessage) bool {
	var s jsonStats
	return json.Unmarshal(raw, &s) == nil && s.Count != nil && s.Total != nil
}

// orderedObject reads a JSON object's members in order.
func orderedObject(dec *json.Decoder) (map[string]json.RawMessage, []string, bool) {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	values := map[string]json.RawMessage{}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return nil, nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, false
		}
		values[key] = raw
		keys = append(keys, key)
	}
	return values, keys, true
}

// parseJSONValue reads one entry's value of a line of type typ.
func parseJSONValue(typ string, raw json.RawMessage) (*Value, bool) {
	v := &Value{}
	switch typ {
	case "map":
		if json.Unmarshal(raw, &v.N) == nil {
			return v, true
		}
		var s string // bpftrace writes large unsigned values as strings
		if json.Unmarshal(raw, &s) == nil {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				v.N = n
				return v, true
			}
		}
		return nil, false
	case "stats":
		var s jsonStats
		if json.Unmarshal(raw, &s) != nil || s.Count == nil || s.Total == nil {
			return nil, false
		}
		v.Count, v.Total = *s.Count, *s.Total
		return v, true
	case "hist":
		var buckets []jsonBucket
		if json.Unmarshal(raw, &buckets) != nil {
			return nil, false
		}
		for _, b := range buckets {
			switch {
			case b.Min == nil && b.Max != nil:
				v.Buckets = append(v.Buckets, Bucket{Under: true, Hi: *b.Max + 1, Count: b.Count})
			case b.Max == nil && b.Min != nil:
				v.Buckets = append(v.Buckets, Bucket{Over: true, Lo: *b.Min, Count: b.Count})
			case b.Min != nil:
				v.Buckets = append(v.Buckets, Bucket{Lo: *b.Min, Hi: *b.Max + 1, Count: b.Count})
			default:
				return nil, false
			}
		}
		return v, true
	}
	return nil, false
}

// WriteJSON writes the dump's maps as bpftrace's JSON lines, one per map.
func WriteJSON(w io.Writer, d *Dump, kinds map[string]Kind) error {
	var b strings.Builder
	for _, m := range d.Maps {
		k := kinds[m.Name]
		typ := "map"
		switch k {
		case Stats, Avg:
			typ = "stats"
		case Hist, Lhist:
			typ = "hist"
		}
		fmt.Fprintf(&b, `{"type": %q, "data": {%s: `, typ, quote(m.Name))
		if m.Keyed {
			b.WriteString("{")
			for i, key := range m.Keys {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quote(key) + ": " + jsonValue(m.Entries[key], k))
			}
			b.WriteString("}")
		} else if len(m.Keys) > 0 {
			b.WriteString(jsonValue(m.Entries[m.Keys[0]], k))
		}
		b.WriteString("}}\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonValue is one entry's value in bpftrace's JSON.
func jsonValue(v *Value, k Kind) string {
	switch k {
	case Stats:
		return fmt.Sprintf(`{"count": %d, "average": %d, "total": %d}`, v.Count, v.average(), v.Total)
	case Avg:
		return fmt.Sprint(v.average())
	case Hist, Lhist:
		parts := []string{}
		for _, bk := range fill(v.Buckets, k) {
			switch {
			case bk.Under:
				parts = append(parts, fmt.Sprintf(`{"max": %d, "count": %d}`, bk.Hi-1, bk.Count))
			case bk.Over:
				parts = append(parts, fmt.Sprintf(`{"min": %d, "count": %d}`, bk.Lo, bk.Count))
			default:
				parts = append(parts, fmt.Sprintf(`{"min": %d, "max": %d, "count": %d}`, bk.Lo, bk.Hi-1, bk.Count))
			}
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v.N)
}

// quote writes s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// CountMaps is a dump of count maps (name, as "@goroutines", to key to
// count), as bpftrace's -f json would print them: how the native engines'
// summaries (the goroutine dump's counts, a memory profile's bytes) become
// maps --assert reads. The maps come in name order.
func CountMaps(maps map[string]map[string]int64) *Dump {
	names := make([]string, 0, len(maps))
	for name := range maps {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		data, _ := json.Marshal(map[string]map[string]int64{name: maps[name]})
		fmt.Fprintf(&b, `{"type": "map", "data": %s}`+"\n", data)
	}
	return ParseJSON(b.String())
}
