package stacks

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

func TestScaleHeapSample(t *testing.T) {
	for _, c := range []struct {
		count, size, rate, n, bytes int64
	}{
		{64, 1 << 20, 512 * 1024, 74, 77612585},     // 1 MiB objects: each sampled one stands for 1/(1-e^-2) = 1.1565
		{1000, 512, 512 * 1024, 1024500, 524544041}, // 1/(1-e^(-512/524288)) = 1024.5
		{10, 100, 1, 10, 1000},                      // every allocation recorded: as it is
		{0, 100, 512 * 1024, 0, 0},
	} {
		n, b := ScaleHeapSample(c.count, c.size, c.rate)
		if n != c.n || b != c.bytes {
			t.Errorf("ScaleHeapSample(%d, %d, %d) = %d, %d; want %d, %d", c.count, c.size, c.rate, n, b, c.n, c.bytes)
		}
	}
	if v := HeapValues(10, 10*4096, 4, 4*4096, 1); v[AllocObjects] != 10 || v[AllocSpace] != 40960 || v[InuseObjects] != 6 || v[InuseSpace] != 24576 {
		t.Errorf("HeapValues = %v", v)
	}
}

// A memory profile is written as Go's own heap profile is, which go tool
// pprof reads: its four sample types, in-use bytes the default, the
// sampling rate as its period; its top says bytes, and lists no function
// that holds none.
func TestHeapProfileAsGoWritesIt(t *testing.T) {
	p := &Profile{Heap: &Heap{Rate: 512 * 1024}, Stacks: []Stack{
		{Frames: []Frame{{Func: "main.holder"}, {Func: "main.main"}}, Count: 64 << 20, Values: []int64{64, 64 << 20, 64, 64 << 20}},
		{Frames: []Frame{{Func: "main.churner"}}, Count: 0, Values: []int64{5000, 2560000, 0, 0}},
	}}
	var b bytes.Buffer
	if err := p.PProf(nil).Write(&b); err != nil {
		t.Fatal(err)
	}
	back, err := profile.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, st := range back.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	if got := strings.Join(types, " "); got != "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes" || back.DefaultSampleType != "inuse_space" || back.Period != 512*1024 {
		t.Errorf("sample types %s, default %q, period %d", got, back.DefaultSampleType, back.Period)
	}
	if v := back.Sample[1].Value; v[AllocObjects] != 5000 || v[InuseSpace] != 0 {
		t.Errorf("main.churner's values %v", v)
	}
	var top bytes.Buffer
	if err := p.WriteTop(&top, 5); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(top.String(), "64.0 MiB in use as of the last garbage collection") || strings.Contains(top.String(), "main.churner") {
		t.Errorf("top:\n%s", top.String())
	}
}
