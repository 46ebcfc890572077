package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ohem-go/ohem/internal/ref"
)

// The selection by counting (topFew) against the sort-based reference, through the driver the Loss
// uses (selector.topK: a base offset, indices appended after earlier ones, KeepTies), on every
// set: group sizes on both sides of fewSample, fewDirect and fewMax, k from 1 to n and around the
// largest k that fewPlan samples for, and inputs with ties, NaNs, infinities, signed zeros and
// ignored (−Inf) samples.

// refTop is what selector.topK must append: base+i for the k best-ranked i (largest first, ties
// toward the lower index), ascending; with keepTies, every i whose x[i] is not below the k-th.
func refTop(x []float32, k int, base int32, keepTies bool) []int32 {
	ord := ref.Order(x)
	var out []int32
	if keepTies {
		kth := x[ord[k-1]]
		for i, v := range x {
			if !ref.Less(v, kth) {
				out = append(out, base+int32(i))
			}
		}
		return out
	}
	for _, i := range ord[:k] {
		out = append(out, base+int32(i))
	}
	slices.Sort(out)
	return out
}

// fewInputs are the inputs of the topFew tests: name and generator.
var fewInputs = []struct {
	name string
	gen  func(r *rand.Rand, n int) []float32
}{
	{"rpn", func(r *rand.Rand, n int) []float32 { // anchor losses, a quarter ignored (−Inf)
		x := make([]float32, n)
		for i := range x {
			d := r.NormFloat64() * math.Sqrt2
			x[i] = float32(max(d, 0) + math.Log1p(math.Exp(-math.Abs(d))))
			if r.IntN(4) == 0 {
				x[i] = float32(math.Inf(-1))
			}
		}
		return x
	}},
	{"uniform", func(r *rand.Rand, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32()
		}
		return x
	}},
	{"negative", func(r *rand.Rand, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = -float32(r.ExpFloat64())
		}
		return x
	}},
	{"levels", func(r *rand.Rand, n int) []float32 { // 5 values: ties at every k
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(5)) * 0.25
		}
		return x
	}},
	{"equal", func(r *rand.Rand, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 0.75
		}
		return x
	}},
	{"zeros", func(r *rand.Rand, n int) []float32 { // underflowed losses: ±0 with a few above
		x := make([]float32, n)
		for i := range x {
			switch r.IntN(8) {
			case 0:
				x[i] = r.Float32()
			case 1, 2, 3:
				x[i] = float32(math.Copysign(0, -1))
			}
		}
		return x
	}},
	{"specials", func(r *rand.Rand, n int) []float32 { // NaNs of both signs, ±Inf, subnormals
		sp := []float32{float32(math.NaN()), math.Float32frombits(0xffc00001), float32(math.Inf(1)), float32(math.Inf(-1)),
			math.Float32frombits(1), math.Float32frombits(0x80000001), math.MaxFloat32, -math.MaxFloat32}
		x := make([]float32, n)
		for i := range x {
			if r.IntN(6) == 0 {
				x[i] = sp[r.IntN(len(sp))]
			} else {
				x[i] = float32(r.NormFloat64())
			}
		}
		return x
	}},
	{"many-nans", func(r *rand.Rand, n int) []float32 { // a NegPosRatio rank: positives are NaN
		x := make([]float32, n)
		for i := range x {
			switch r.IntN(10) {
			case 0:
				x[i] = float32(math.NaN())
			case 1, 2:
				x[i] = float32(math.Inf(-1))
			default:
				x[i] = float32(r.ExpFloat64())
			}
		}
		return x
	}},
	{"ascending", func(r *rand.Rand, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i) / 16
		}
		return x
	}},
	{"descending", func(r *rand.Rand, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(n-i) / 16
		}
		return x
	}},
}

// fewKs are the k the topFew tests try for n elements: small, around the largest k fewPlan takes,
// and up to n.
func fewKs(n int) []int {
	ks := []int{1, 2, 17, 256, n / 3, n - 1, n}
	if n >= fewSample {
		last := 0 // the largest k that fewPlan samples for
		for k := 1; k <= n; k++ {
			if _, _, _, ok := fewPlan(n, k); !ok {
				break
			}
			last = k
		}
		ks = append(ks, last, last+1)
	}
	var out []int
	for _, k := range ks {
		if k >= 1 && k <= n && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func TestTopFew(t *testing.T) {
	sizes := []int{1, 2, 70, fewSample - 1, fewSample, fewSample + 1, 4099, fewDirect, fewDirect + 1, fewMax - 1, fewMax, fewMax + 1}
	if testing.Short() {
		sizes = []int{1, 70, fewSample - 1, fewSample, 4099, fewDirect + 1, fewMax + 1}
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range sizes {
		for _, in := range fewInputs {
			x := in.gen(r, n)
			for _, k := range fewKs(n) {
				for _, keepTies := range []bool{false, true} {
					const base = 1000
					want := refTop(x, k, base, keepTies)
					for _, ks := range usable {
						s := &selector{ks: ks}
						// Two indices already in dst: topK appends after them.
						dst := make([]int32, 2, 2+n)
						dst[0], dst[1] = -5, -6
						got := s.topK(dst, x, k, base, keepTies, nil)
						if len(got) < 2 || got[0] != -5 || got[1] != -6 || !slices.Equal(got[2:], want) {
							t.Fatalf("%s: %s n=%d k=%d keepTies=%v: topK = %v, want [-5 -6] + %v",
								ks.name, in.name, n, k, keepTies, shortIndices(got), shortIndices(want))
						}
					}
				}
			}
		}
	}
}

// TestTopFewTakesItsPaths checks that the tests above exercise the paths they mean to: on anchor
// losses the sampled candidates hold the cut (they are at least k and fit the scratch) on every
// set, and a vector set cuts up to fewDirect elements directly.
func TestTopFewTakesItsPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{fewSample, 8192, fewMax} {
		x := fewInputs[0].gen(r, n)
		for _, k := range []int{1, n / 32, n / 64} {
			m, rr, most, ok := fewPlan(n, k)
			if !ok {
				t.Fatalf("fewPlan(%d, %d) does not sample", n, k)
			}
			for _, ks := range usable {
				s := &selector{ks: ks}
				if _, _, _, ok := s.candidates(x, k, 0, m, rr, most); !ok {
					t.Errorf("%s: n=%d k=%d: the sampled candidates missed on anchor losses", ks.name, n, k)
				}
				d := min(n, fewDirect)
				_, ok := s.topFew(make([]int32, 0, d), x[:d], d/2, 0, true)
				if ok != ks.vectorCount {
					t.Errorf("%s: topFew of k = n/2 of %d elements: %v, want %v", ks.name, d, ok, ks.vectorCount)
				}
			}
		}
	}
}

// TestTopFewMisled builds inputs whose sample misleads topFew: the sampled elements are the largest
// (fewer than k candidates) or all tie with everything (more candidates than the scratch holds).
// topFew must notice, and the selection still be exact.
func TestTopFewMisled(t *testing.T) {
	const n = 8192
	k := 1000
	m, r, most, ok := fewPlan(n, k)
	if !ok {
		t.Fatalf("fewPlan(%d, %d) does not sample", n, k)
	}
	// The sampled positions: sample an input that holds its own indices.
	pos := make([]float32, n)
	for i := range pos {
		pos[i] = float32(i)
	}
	smp := make([]float32, m)
	sample(smp, pos)
	high := make([]float32, n) // the sampled elements above all the others, which tie at 0
	for j, p := range smp {
		high[int(p)] = 1 + float32(j)
	}
	equal := make([]float32, n)
	for i := range equal {
		equal[i] = 2
	}
	for _, c := range []struct {
		name string
		x    []float32
	}{{"sampled-largest", high}, {"equal", equal}} {
		for _, ks := range usable {
			s := &selector{ks: ks}
			if _, _, _, ok := s.candidates(c.x, k, 0, m, r, most); ok {
				t.Errorf("%s: %s: the sampled candidates did not report the miss", ks.name, c.name)
			}
			for _, keepTies := range []bool{false, true} {
				want := refTop(c.x, k, 0, keepTies)
				got := s.topK(make([]int32, 0, n), c.x, k, 0, keepTies, nil)
				if !slices.Equal(got, want) {
					t.Errorf("%s: %s keepTies=%v: topK = %v, want %v", ks.name, c.name, keepTies, shortIndices(got), shortIndices(want))
				}
			}
		}
	}
}

// TestCutKeys checks cut's answer against counts over the keys themselves on small inputs: the
// key it returns is reached by at least want elements, and either by at most most, or it is the
// largest such key (always so for most = want − 1: the want-th largest element's key).
func TestCutKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	countKeys := func(x []float32, key uint64) int {
		c := 0
		for _, v := range x {
			if uint64(orderKey(v)) >= key {
				c++
			}
		}
		return c
	}
	for _, in := range fewInputs {
		for _, n := range []int{1, 5, 33, 200} {
			x := in.gen(r, n)
			for want := 1; want <= n; want += max(1, n/7) {
				for _, most := range []int{want - 1, want, want + 3} {
					for _, ks := range usable {
						s := &selector{ks: ks}
						key, at, above := s.cut(x, bracket{l: keyNegInf, h: 1 << 32, cl: n}, want, most)
						what := fmt.Sprintf("%s: %s n=%d cut(want %d, most %d) = %#x", ks.name, in.name, n, want, most, key)
						switch c := countKeys(x, uint64(key)); {
						case c != at:
							t.Fatalf("%s: says %d reach it, %d do", what, at, c)
						case c < want:
							t.Fatalf("%s: only %d reach it", what, c)
						case c > most && countKeys(x, uint64(key)+1) >= want:
							t.Fatalf("%s: %d reach it, and %d the next key", what, c, countKeys(x, uint64(key)+1))
						case c > most && countKeys(x, uint64(key)+1) != above:
							t.Fatalf("%s: says %d are above it, %d are", what, above, countKeys(x, uint64(key)+1))
						}
					}
				}
			}
		}
	}
}

func shortIndices(x []int32) string {
	if len(x) > 12 {
		return fmt.Sprintf("%v... (%d)", x[:12], len(x))
	}
	return fmt.Sprint(x)
}

// TestTopFewLastThreshold follows the last group's threshold through groups of one size and k, as a
// Loss selects image after image: a like group reuses it (the threshold stays), an unlike one
// (every loss far below it: too few candidates; far above: too many) draws a new one from its
// sample, a group with another k ignores it; every selection exact.
func TestTopFewLastThreshold(t *testing.T) {
	const n, k = 8192, 256
	r := rand.New(rand.NewPCG(27, 28))
	like := func() []float32 { return fewInputs[0].gen(r, n) }
	scaled := func(x []float32, a, b float32) []float32 {
		y := slices.Clone(x)
		for i := range y {
			y[i] = a*y[i] + b
		}
		return y
	}
	first := like()
	steps := []struct {
		name  string
		x     []float32
		k     int
		reuse bool // the threshold of the step before stays
	}{
		{"first", first, k, false},
		{"like", like(), k, true},
		{"like", like(), k, true},
		{"far below", scaled(first, 1e-3, 0), k, false},
		{"like the one before", scaled(like(), 1e-3, 0), k, true},
		{"far above", scaled(first, 1, 1000), k, false},
		{"other k", like(), 2 * k, false},
	}
	for _, ks := range usable {
		s := &selector{ks: ks}
		for i, st := range steps {
			before := s.last
			for _, keepTies := range []bool{false, true} {
				got := s.topK(make([]int32, 0, n), st.x, st.k, 0, keepTies, nil)
				if want := refTop(st.x, st.k, 0, keepTies); !slices.Equal(got, want) {
					t.Fatalf("%s: step %d (%s) keepTies=%v: topK = %v, want %v", ks.name, i, st.name, keepTies, shortIndices(got), shortIndices(want))
				}
			}
			if reused := s.last == before; reused != st.reuse || s.last.n != n {
				t.Errorf("%s: step %d (%s): threshold %+v after %+v: reused %v, want %v", ks.name, i, st.name, s.last, before, reused, st.reuse)
			}
		}
	}
}
