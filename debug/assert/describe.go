package assert

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// seenEntries bounds how many entries of a keyed map a result shows.
const seenEntries = 8

// describe says what map name held, for a failed assertion's message:
// `@calls = 2`, `@lat = {count: 3, p50: 7, ...}`, `@m = {"a": 1, ...}`,
// `@x never written`.
func describe(name string, v ref.Val) string {
	if u, ok := v.(*unwritten); ok {
		return fmt.Sprintf("%s never written (%s)", name, value(u.number()))
	}
	return name + " = " + value(v)
}

// value words one value.
func value(v ref.Val) string {
	switch v := v.(type) {
	case *aggregate:
		var parts []string
		for _, f := range []string{"count", "avg", "total", "p50", "p90", "p99", "max"} {
			if fv, ok := v.fields[f]; ok {
				parts = append(parts, f+": "+value(fv))
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *keyed:
		var parts []string
		for i, k := range v.order {
			if i == seenEntries {
				parts = append(parts, fmt.Sprintf("... %d more", len(v.order)-seenEntries))
				break
			}
			e, _ := v.Mapper.Find(k)
			parts = append(parts, value(k)+": "+value(e))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *types.Err:
		return "no value"
	case types.String:
		return fmt.Sprintf("%q", string(v))
	}
	return fmt.Sprint(v.Value())
}

// fieldNames lists an aggregate's fields in a fixed order.
func fieldNames(fields map[string]ref.Val) []string {
	var names []string
	for _, f := range []string{"count", "avg", "total", "p50", "p90", "p99", "max"} {
		if _, ok := fields[f]; ok {
			names = append(names, "."+f)
		}
	}
	return names
}
