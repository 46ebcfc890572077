package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ohem-go/ohem/internal/guard"
	"github.com/ohem-go/ohem/internal/ref"
)

// TestCEGradRowsKernels checks ceGradRows, the forward fused with the gradient, of every set that
// has it: the losses and statistics bit for bit those of the set's ceRows, the gradient of every
// row within the API's bound of the float64 reference and of the generic gradRows, zeros for
// ignored rows and for the rows it reports as predicted dropped; on every row count 0..40 and
// larger (several blocks, so that the drop prediction runs), C from the smallest it takes, with
// every slice against an unmapped page.
func TestCEGradRowsKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cs := []int{25, 31, 32, 33, 47, 63, 64, 99, 100, 101, 127, 200, 255, 257, 384, 385, 511, 512, 513, 1000}
	last, more := 40, []int{63, 64, 65, 127, 128, 129, 200, 321}
	if testing.Short() {
		cs, last, more = []int{25, 33, 100, 200, 385, 1000}, 20, []int{65, 200}
	}
	predicted, fused := 0, 0
	fusedC := map[string]int{}
	for _, ks := range archSets() {
		if ks.ceGradRows == nil {
			continue
		}
		fused++
		for _, c := range cs {
			for _, n := range counts(last, more) {
				if c >= 257 && n > 70 {
					continue
				}
				for _, eps := range []float32{0, 0.1} {
					if !ks.fuseRows(c, eps) {
						continue // C whose ForwardBackward takes the separate gradient pass
					}
					fusedC[ks.name]++
					for _, keep := range []float64{1, 0.7, 0.3} {
						predicted += checkCEGradRows(t, ks, r, n, c, eps, keep, n%2 == 1)
					}
				}
			}
		}
	}
	for _, ks := range archSets() {
		if ks.ceGradRows != nil && fusedC[ks.name] == 0 {
			t.Errorf("%s: fuseRows took none of C = %v", ks.name, cs)
		}
	}
	if predicted == 0 && fused > 0 {
		t.Errorf("no row was ever predicted dropped")
	}
}

// checkCEGradRows runs one case and returns how many rows ceGradRows predicted dropped.
func checkCEGradRows(t *testing.T, ks *kernelSet, r *rand.Rand, n, c int, eps float32, keep float64, front bool) int {
	t.Helper()
	rows, tg, _ := gradCase(r, n, c, []float64{1, 5, 30}[r.IntN(3)], gradMixed)
	x := make([]float32, n*c)
	for i, row := range rows {
		copy(x[i*c:], row)
	}
	const fill = float32(-1)
	wantLoss := make([]float32, n)
	wantSt := stats{make([]float32, n), make([]float32, n), make([]float32, n)}
	ks.ceRows(wantLoss, wantSt, x, tg, c, eps, fill)
	s0 := float32(1 / (0.5 + r.Float64()*float64(max(n, 1))))

	mk, mki := guard.Float32s, guard.Int32s
	if front {
		mk, mki = guard.Float32sFront, guard.Int32sFront
	}
	var frees []func()
	f32 := func(k int) []float32 { b, f := mk(k); frees = append(frees, f); return b }
	gb, xb, tb := f32(n*c), f32(n*c), func() []int32 { b, f := mki(n); frees = append(frees, f); return b }()
	lb, mb, sb, pb := f32(n), f32(n), f32(n), f32(n)
	defer func() {
		for _, f := range frees {
			f()
		}
	}()
	for i := range gb {
		gb[i] = float32(math.NaN()) // every element must be written
	}
	dropped := make([]bool, n)
	for i := range dropped {
		dropped[i] = true // every flag must be written
	}
	ks.ceGradRows(lb, stats{mb, sb, pb}, gb, copyTo(xb, x), copyTo(tb, tg), dropped, c, eps, fill, s0, keep)

	what := fmt.Sprintf("%s C=%d N=%d eps=%v keep=%v front=%v", ks.name, c, n, eps, keep, front)
	for i := range n {
		if math.Float32bits(lb[i]) != math.Float32bits(wantLoss[i]) {
			t.Fatalf("%s: loss[%d] = %v, ceRows gives %v", what, i, lb[i], wantLoss[i])
		}
		if tg[i] >= 0 && (mb[i] != wantSt.m[i] || sb[i] != wantSt.ls[i] || pb[i] != wantSt.pt[i]) {
			t.Fatalf("%s: stats[%d] = %v %v %v, ceRows gives %v %v %v", what, i, mb[i], sb[i], pb[i], wantSt.m[i], wantSt.ls[i], wantSt.pt[i])
		}
	}
	// The reference: s0·(softmax − q) for every valid row, in float64, and the generic kernel's.
	scale := make([]float32, n)
	want := make([]float64, n*c)
	genSt := stats{make([]float32, n), make([]float32, n), make([]float32, n)}
	genericSet.ceRows(make([]float32, n), genSt, x, tg, c, eps, fill)
	count := 0
	for i := range n {
		if tg[i] < 0 {
			if dropped[i] {
				t.Fatalf("%s: ignored row %d reported dropped", what, i)
			}
			continue
		}
		if dropped[i] {
			if keep >= 1 || eps != 0 {
				t.Fatalf("%s: row %d predicted dropped with keep = %v, eps = %v", what, i, keep, eps)
			}
			count++
			continue
		}
		scale[i] = s0
		for j, v := range ref.Grad(x, c, 0, i, tg[i], float64(eps)) {
			want[i*c+j] = float64(s0) * v
		}
	}
	gen := make([]float32, n*c)
	genericSet.gradRows(gen, x, tg, genSt, scale, c, eps)
	peak := 0.0
	for _, w := range want {
		peak = max(peak, math.Abs(w))
	}
	for k, g := range gb {
		if d := math.Abs(float64(g) - want[k]); !(d <= 1e-5*peak+1e-6*math.Abs(want[k])) {
			t.Fatalf("%s: g[%d] (row %d) = %v, want %v (max |g| %v)", what, k, k/c, g, want[k], peak)
		}
	}
	gradClose(t, what+" vs generic", gb, gen)
	return count
}
