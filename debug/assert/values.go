package assert

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/trace-debug/kubectl-trace-debug/bpf/mapmerge"
)

// Percentiles are the fields a hist or lhist value gives besides .count
// and .max: the upper bound of the bucket that holds that share of the
// values.
var Percentiles = map[string]float64{"p50": 50, "p90": 90, "p99": 99}

// mapValue is a map of the trace as CEL sees it: a number for a count,
// sum, min, max or avg without keys; an aggregate for stats and
// histograms; a keyed map (keys that read as integers are integers); and a
// map the trace never wrote (unwritten).
func mapValue(name string, kind mapmerge.Kind, m *mapmerge.Map) ref.Val {
	if m != nil && m.Unreadable != "" {
		return types.NewErr("%s cannot be read: %s", name, m.Unreadable)
	}
	if m == nil || len(m.Keys) == 0 {
		return &unwritten{name: name, kind: kind, Mapper: types.NewRefValMap(types.DefaultTypeAdapter, map[ref.Val]ref.Val{})}
	}
	if !m.Keyed {
		return entryValue(name, kind, m.Entries[m.Keys[0]])
	}
	entries := make(map[ref.Val]ref.Val, len(m.Keys))
	k := &keyed{name: name, kind: kind}
	for _, key := range m.Keys {
		kv := keyValue(key)
		entries[kv] = entryValue(fmt.Sprintf("%s[%s]", name, key), kind, m.Entries[key])
		k.order = append(k.order, kv)
	}
	k.Mapper = types.NewRefValMap(types.DefaultTypeAdapter, entries)
	return k
}

// keyValue is a key as CEL sees it: an integer when it reads as one, else
// a string; a key of several parts is written as bpftrace's text output
// prints it ("x, 1"), a stack as its frames, one a line without indent
// ("main.f+1\nmain.main+20"), in text and JSON alike.
func keyValue(key string) ref.Val {
	if n, err := strconv.ParseInt(key, 10, 64); err == nil {
		return types.Int(n)
	}
	if strings.Contains(key, ",") || strings.Contains(key, "\n") {
		parts := strings.Split(key, ",")
		for i := range parts {
			var lines []string
			for _, l := range strings.Split(parts[i], "\n") {
				if l = strings.TrimSpace(l); l != "" {
					lines = append(lines, l)
				}
			}
			parts[i] = strings.Join(lines, "\n")
		}
		key = strings.Join(parts, ", ")
	}
	return types.String(key)
}

// entryValue is one value of a map: what its aggregation makes of it.
func entryValue(what string, kind mapmerge.Kind, v *mapmerge.Value) ref.Val {
	switch {
	case kind == mapmerge.Hist || kind == mapmerge.Lhist || len(v.Buckets) > 0:
		return histogram(what, v.Buckets)
	case kind == mapmerge.Stats:
		avg := types.Int(average(v))
		return &aggregate{what: what, number: avg, fields: map[string]ref.Val{
			"count": types.Int(v.Count), "avg": avg, "total": types.Int(v.Total)}}
	case kind == mapmerge.Avg:
		return types.Int(average(v))
	}
	return types.Int(v.N)
}

// average is an avg or stats value's average, as bpftrace computes it
// (integer division); a single pod's avg map was printed as its average.
func average(v *mapmerge.Value) int64 {
	if v.Count == 0 {
		return v.N
	}
	return v.Total / v.Count
}

// histogram is a hist or lhist value: .count, .max and the Percentiles.
func histogram(what string, buckets []mapmerge.Bucket) *aggregate {
	var total uint64
	for _, b := range buckets {
		total += b.Count
	}
	fields := map[string]ref.Val{"count": types.Int(total)}
	if total == 0 {
		for _, f := range []string{"max", "p50", "p90", "p99"} {
			fields[f] = types.NewErr("%s has no %s: the histogram is empty", what, f)
		}
		return &aggregate{what: what, fields: fields}
	}
	last := -1
	for i, b := range buckets {
		if b.Count > 0 {
			last = i
		}
	}
	fields["max"] = upperBound(what, "max", buckets[last])
	for f, p := range Percentiles {
		rank := uint64(math.Ceil(float64(total) * p / 100))
		var seen uint64
		for _, b := range buckets {
			seen += b.Count
			if seen >= rank {
				fields[f] = upperBound(what, f, b)
				break
			}
		}
	}
	return &aggregate{what: what, fields: fields}
}

// upperBound is the largest value bucket b holds; an open-ended bucket
// has none.
func upperBound(what, field string, b mapmerge.Bucket) ref.Val {
	if b.Over {
		return types.NewErr("%s.%s lies in the open-ended bucket [%d, ...), which has no upper bound", what, field, b.Lo)
	}
	return types.Int(b.Hi - 1)
}

// aggregateType is the CEL type of stats and histogram values.
var aggregateType = types.NewObjectType("trace_debug.Aggregate", traits.ComparerType)

// aggregate is a stats or histogram value: fields (.count, .avg, ...),
// and for stats a number (its average) it compares as.
type aggregate struct {
	what   string
	fields map[string]ref.Val
	number ref.Val
}

func (a *aggregate) ConvertToNative(t reflect.Type) (any, error) {
	if a.number != nil {
		return a.number.ConvertToNative(t)
	}
	return nil, fmt.Errorf("%s is a histogram, not a number: use its fields (.count, .p99, ...)", a.what)
}

func (a *aggregate) ConvertToType(t ref.Type) ref.Val {
	if t == aggregateType || t == types.TypeType {
		return aggregateType
	}
	if a.number != nil {
		return a.number.ConvertToType(t)
	}
	return types.NewErr("%s is a histogram, not a number: use its fields (.count, .p99, ...)", a.what)
}

func (a *aggregate) Equal(other ref.Val) ref.Val {
	if a.number == nil {
		return types.NewErr("%s is a histogram, not a number: compare one of its fields (.count, .p99, ...)", a.what)
	}
	return a.number.Equal(other)
}

func (a *aggregate) Compare(other ref.Val) ref.Val {
	if a.number == nil {
		return types.NewErr("%s is a histogram, not a number: compare one of its fields (.count, .p99, ...)", a.what)
	}
	return a.number.(traits.Comparer).Compare(other)
}

// Get is a field: count, avg, total (stats); count, max, p50, p90, p99
// (histograms).
func (a *aggregate) Get(field ref.Val) ref.Val {
	name, _ := field.Value().(string)
	if v, ok := a.fields[name]; ok {
		return v
	}
	return types.NewErr("%s has no field %v (it has %s)", a.what, field, strings.Join(fieldNames(a.fields), ", "))
}

func (a *aggregate) IsSet(field ref.Val) ref.Val {
	name, _ := field.Value().(string)
	_, ok := a.fields[name]
	return types.Bool(ok)
}

func (a *aggregate) Type() ref.Type { return aggregateType }
func (a *aggregate) Value() any     { return a.fields }

// keyed is a map with keys: found keys give their value; a key the trace
// never wrote reads 0 in a count or sum map (bpftrace would have counted
// from 0), and is an error naming it otherwise.
type keyed struct {
	name  string
	kind  mapmerge.Kind
	order []ref.Val // the keys, as printed
	traits.Mapper
}

func (k *keyed) Find(key ref.Val) (ref.Val, bool) {
	for _, alt := range keyForms(key) {
		if v, ok := k.Mapper.Find(alt); ok {
			return v, true
		}
	}
	return missing(k.name, k.kind, key)
}

func (k *keyed) Get(key ref.Val) ref.Val {
	v, _ := k.Find(key)
	return v
}

func (k *keyed) Contains(key ref.Val) ref.Val {
	for _, alt := range keyForms(key) {
		if k.Mapper.Contains(alt) == types.True {
			return types.True
		}
	}
	return types.False
}

// keyForms are the forms a key may be stored in: as given, and an integer
// as a string or a string as an integer.
func keyForms(key ref.Val) []ref.Val {
	switch v := key.(type) {
	case types.String:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return []ref.Val{key, types.Int(n)}
		}
	case types.Int:
		return []ref.Val{key, types.String(strconv.FormatInt(int64(v), 10))}
	}
	return []ref.Val{key}
}

// missing is the value of a key the trace never wrote.
func missing(name string, kind mapmerge.Kind, key ref.Val) (ref.Val, bool) {
	if kind == mapmerge.Count || kind == mapmerge.Sum {
		return types.Int(0), true
	}
	return types.NewErr("%s[%v] has no value: the trace never wrote that key", name, key.Value()), true
}

// unwrittenType is the CEL type of a map the trace never wrote.
var unwrittenType = types.NewObjectType("trace_debug.Unwritten", traits.ComparerType, traits.ContainerType,
	traits.IterableType, traits.SizerType)

// unwritten is a map the program declares that the trace never wrote: it
// has no keys; as a count or sum it reads 0, and as a min, max, avg, stats
// or histogram it has no value, which comparing says.
type unwritten struct {
	name string
	kind mapmerge.Kind
	traits.Mapper
}

// number is the map's value as a number: 0, or an error saying it has none.
func (u *unwritten) number() ref.Val {
	if u.kind == mapmerge.Count || u.kind == mapmerge.Sum {
		return types.Int(0)
	}
	return types.NewErr("%s has no value: the trace never wrote it", u.name)
}

func (u *unwritten) Equal(other ref.Val) ref.Val { return u.number().Equal(other) }

func (u *unwritten) Compare(other ref.Val) ref.Val {
	if c, ok := u.number().(traits.Comparer); ok {
		return c.Compare(other)
	}
	return u.number()
}

func (u *unwritten) Find(key ref.Val) (ref.Val, bool) {
	aggregate := u.kind == mapmerge.Stats || u.kind == mapmerge.Hist || u.kind == mapmerge.Lhist
	if aggregate && (key == types.String("count") || key == types.String("total")) {
		return types.Int(0), true // nothing was counted
	}
	if s, ok := key.(types.String); ok && u.kind != mapmerge.Count && u.kind != mapmerge.Sum {
		return types.NewErr("%s has no %s: the trace never wrote it", u.name, string(s)), true
	}
	return missing(u.name, u.kind, key)
}

func (u *unwritten) Get(key ref.Val) ref.Val {
	v, _ := u.Find(key)
	return v
}

func (u *unwritten) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return unwrittenType
	}
	return u.number().ConvertToType(t)
}

func (u *unwritten) Type() ref.Type { return unwrittenType }
