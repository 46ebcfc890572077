package workload

import (
	"slices"
	"testing"

	"github.com/ohem-go/ohem"
)

// seg (84 MB) is left out: it is built by the benchmarks only.
var small = []string{"rpn", "cls", "lm", "kth_1e5"}

func TestNames(t *testing.T) {
	want := []string{"rpn", "cls", "seg", "lm", "kth_1e5", "kth_1e7", "dbnet"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		if Desc(n) == "" {
			t.Errorf("Desc(%q) is empty", n)
		}
	}
	if _, err := Get("nope"); err == nil {
		t.Error("Get(nope): no error")
	}
}

func TestWorkloads(t *testing.T) {
	for _, name := range small {
		w, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != name {
			t.Errorf("%s: Name = %q", name, w.Name)
		}
		if w.IsKth() {
			if w.K != int(0.3*float64(len(w.X))) || w.Bytes() != 4*int64(len(w.X)) {
				t.Errorf("%s: K = %d, Bytes = %d for n = %d", name, w.K, w.Bytes(), len(w.X))
			}
			if _, err := ohem.KthLargest(w.X, w.K); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		b := w.Batch
		if w.Bytes() != 4*int64(len(b.Logits)+len(b.Targets)) || w.Elems() != len(b.Logits) {
			t.Errorf("%s: Bytes = %d, Elems = %d", name, w.Bytes(), w.Elems())
		}
		l, err := ohem.New(w.Config)
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Forward(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Kept == 0 || res.Loss <= 0 {
			t.Errorf("%s: %+v", name, res)
		}
		t.Logf("%s: %+v", name, res)
	}
}

func TestRPN(t *testing.T) {
	w, _ := Get("rpn")
	b := w.Batch
	if len(b.Logits) != 8*8192*2 || len(b.Targets) != 8*8192 || b.Classes != 2 || b.Images != 8 {
		t.Fatalf("rpn shape: %d logits, %d targets, C=%d, images=%d", len(b.Logits), len(b.Targets), b.Classes, b.Images)
	}
	ignored := 0
	for _, v := range b.Targets {
		if v < 0 {
			ignored++
		}
	}
	if f := float64(ignored) / float64(len(b.Targets)); f < 0.23 || f > 0.27 {
		t.Errorf("rpn: %.3f ignored, want ~0.25", f)
	}
	l, _ := ohem.New(w.Config)
	if res, _ := l.Forward(b); res.Kept != 8*256 {
		t.Errorf("rpn: kept %d, want %d", res.Kept, 8*256)
	}
}

func TestDeterministic(t *testing.T) {
	// normals crosses chunk boundaries and runs its chunks concurrently: it must not matter.
	a, b := normals(7, 3<<20+5), normals(7, 3<<20+5)
	if !slices.Equal(a, b) {
		t.Fatal("normals is not deterministic")
	}
	if c := normals(7, 1000); !slices.Equal(c, a[:1000]) {
		t.Fatal("normals(n) is not a prefix of normals(m > n)")
	}
	var sum, sq float64
	for _, v := range a {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(a))
	if m, v := sum/n, sq/n-(sum/n)*(sum/n); m < -0.01 || m > 0.01 || v < 0.99 || v > 1.01 {
		t.Errorf("normals: mean %g, variance %g", m, v)
	}
}
