package ref

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// key maps a float32 to an integer whose order is the selection order: IEEE order with
// -0 == +0 and every NaN equal and above +Inf. It is built from the bit pattern, not from
// float comparisons, so it checks Less independently.
func key(f float32) int64 {
	b := math.Float32bits(f)
	switch {
	case b&0x7f800000 == 0x7f800000 && b&0x007fffff != 0: // NaN
		return math.MaxInt64
	case b&0x7fffffff == 0: // ±0
		return 0
	case b&0x80000000 != 0:
		return -int64(b & 0x7fffffff)
	}
	return int64(b)
}

var pool = []float32{
	float32(math.Inf(-1)), -3e38, -1, -1e-45, float32(math.Copysign(0, -1)), 0, 1e-45, 1e-38, 1, 1, 2.5, 3e38,
	float32(math.Inf(1)), float32(math.NaN()), math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00000),
	math.Float32frombits(0x7f800001),
}

func randomValues(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	mode := r.IntN(3)
	for i := range x {
		switch {
		case mode == 0 || r.IntN(4) == 0:
			x[i] = pool[r.IntN(len(pool))]
		case mode == 1:
			x[i] = float32(r.IntN(4)) // many ties
		default:
			x[i] = float32(r.NormFloat64())
		}
	}
	return x
}

func TestLessMatchesBitOrder(t *testing.T) {
	for _, a := range pool {
		for _, b := range pool {
			if Less(a, b) != (key(a) < key(b)) {
				t.Errorf("Less(%v [%#x], %v [%#x]) = %v", a, math.Float32bits(a), b, math.Float32bits(b), Less(a, b))
			}
			if Equal(a, b) != (key(a) == key(b)) {
				t.Errorf("Equal(%v, %v) = %v", a, b, Equal(a, b))
			}
		}
	}
}

// rank is i's 0-based position in "largest first, ties toward the lower index" order.
func rank(x []float32, i int) int {
	r := 0
	for j, v := range x {
		if key(v) > key(x[i]) || key(v) == key(x[i]) && j < i {
			r++
		}
	}
	return r
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestSelectionBruteForce(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 3000; trial++ {
		n := 1 + r.IntN(40)
		x := randomValues(r, n)
		for _, th := range append(slices.Clone(pool), x...) {
			want := 0
			for _, v := range x {
				if key(v) >= key(th) {
					want++
				}
			}
			if got := CountAtLeast(x, th); got != want {
				t.Fatalf("CountAtLeast(%v, %v) = %d, want %d", x, th, got, want)
			}
		}
		for k := 1; k <= n; k++ {
			v := KthLargest(x, k)
			above, atLeast := 0, 0
			for _, e := range x {
				if key(e) > key(v) {
					above++
				}
				if key(e) >= key(v) {
					atLeast++
				}
			}
			if !(above < k && k <= atLeast) {
				t.Fatalf("KthLargest(%v, %d) = %v: %d above, %d at least", x, k, v, above, atLeast)
			}
			top := TopK(x, k)
			if len(top) != k {
				t.Fatalf("TopK(%v, %d) has %d indices", x, k, len(top))
			}
			for j := 1; j < k; j++ {
				if top[j-1] >= top[j] {
					t.Fatalf("TopK(%v, %d) = %v: not ascending", x, k, top)
				}
			}
			for i := range x {
				if slices.Contains(top, int32(i)) != (rank(x, i) < k) {
					t.Fatalf("TopK(%v, %d) = %v: index %d has rank %d", x, k, top, i, rank(x, i))
				}
				if rank(x, i) == k-1 && math.Float32bits(v) != math.Float32bits(x[i]) {
					t.Fatalf("KthLargest(%v, %d) = %#x, want the bits of x[%d] = %#x", x, k, math.Float32bits(v), i, math.Float32bits(x[i]))
				}
			}
		}
		if !panics(func() { KthLargest(x, 0) }) || !panics(func() { KthLargest(x, n+1) }) ||
			!panics(func() { TopK(x, 0) }) || !panics(func() { TopK(x, n+1) }) {
			t.Fatalf("k out of range did not panic")
		}
	}
}

// bruteHardest is the hardest-k rule by rank counting within cands.
func bruteHardest(l []float32, cands []int, k int, ties bool) []int {
	if k <= 0 {
		return nil
	}
	sub := make([]float32, len(cands))
	for a, i := range cands {
		sub[a] = l[i]
	}
	var kth float32
	for a := range cands {
		if rank(sub, a) == k-1 {
			kth = sub[a]
		}
	}
	var out []int
	for a, i := range cands {
		if rank(sub, a) < k || ties && key(sub[a]) == key(kth) {
			out = append(out, i)
		}
	}
	return out
}

// bruteRule is the selection rule of API.md on samples [lo, hi).
func bruteRule(cfg Config, l []float32, targets []int32, lo, hi int) []int {
	var valid, pos, neg []int
	for i := lo; i < hi; i++ {
		if targets[i] < 0 {
			continue
		}
		valid = append(valid, i)
		if targets[i] == cfg.Background {
			neg = append(neg, i)
		} else {
			pos = append(pos, i)
		}
	}
	V := len(valid)
	switch {
	case cfg.Keep > 0:
		return bruteHardest(l, valid, min(cfg.Keep, V), cfg.KeepTies)
	case cfg.KeepRatio > 0:
		k := int(math.Floor(cfg.KeepRatio * float64(V)))
		if V > 0 && k < 1 {
			k = 1
		}
		return bruteHardest(l, valid, k, cfg.KeepTies)
	case cfg.ProbThreshold > 0:
		var above []int
		for _, i := range valid {
			if float64(l[i]) > -math.Log(float64(cfg.ProbThreshold)) {
				above = append(above, i)
			}
		}
		if need := min(cfg.MinKept, V); len(above) < need {
			return bruteHardest(l, valid, need, cfg.KeepTies)
		}
		return above
	case cfg.NegPosRatio > 0:
		k := min(len(neg), max(int(math.Floor(cfg.NegPosRatio*float64(len(pos)))), cfg.MinKept))
		return append(pos, bruteHardest(l, neg, k, cfg.KeepTies)...)
	}
	return valid
}

func randomRule(r *rand.Rand) Config {
	var c Config
	switch r.IntN(5) {
	case 0:
		c.Keep = 1 + r.IntN(12)
	case 1:
		c.KeepRatio = []float64{0.01, 0.25, 0.3, 0.5, 0.7, 1}[r.IntN(6)]
	case 2:
		c.ProbThreshold = []float32{0.05, 0.3, 0.7, 0.9, 1}[r.IntN(5)]
		c.MinKept = r.IntN(10)
	case 3:
		c.NegPosRatio = []float64{0.5, 1, 3}[r.IntN(3)]
		c.Background = int32(r.IntN(2))
		c.MinKept = r.IntN(5)
	}
	c.KeepTies = r.IntN(2) == 0
	c.PerImage = r.IntN(2) == 0
	return c
}

func TestSelectBruteForce(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 5000; trial++ {
		cfg := randomRule(r)
		images := 1 + r.IntN(4)
		per := r.IntN(12)
		n := images * per
		S, imgArg := 0, images
		if r.IntN(2) == 0 && per > 0 {
			S, imgArg = per, 0 // planar: groups of S
		}
		l := make([]float32, n)
		targets := make([]int32, n)
		for i := range l {
			targets[i] = int32(r.IntN(4) - 1)
			switch r.IntN(3) {
			case 0:
				l[i] = float32(r.IntN(4)) / 2
			case 1:
				l[i] = float32(r.ExpFloat64())
			default:
				l[i] = []float32{0, float32(math.Inf(1)), float32(-math.Log(0.3)), float32(-math.Log(0.7))}[r.IntN(4)]
			}
			if targets[i] < 0 {
				l[i] = 0
			}
		}
		got, thr := Select(cfg, l, targets, S, imgArg)
		gs := n
		if cfg.PerImage {
			gs = per
		}
		var want []int
		for lo := 0; lo < n; lo += gs {
			want = append(want, bruteRule(cfg, l, targets, lo, lo+gs)...)
		}
		slices.Sort(want)
		if len(got) != len(want) {
			t.Fatalf("cfg %+v S=%d images=%d l=%v targets=%v: selected %v, want %v", cfg, S, imgArg, l, targets, got, want)
		}
		wantThr := float32(0)
		for a, i := range want {
			if int(got[a]) != i {
				t.Fatalf("cfg %+v: selected %v, want %v", cfg, got, want)
			}
			if a == 0 || key(l[i]) < key(wantThr) {
				wantThr = l[i]
			}
		}
		if !Equal(thr, wantThr) {
			t.Fatalf("cfg %+v: threshold %v, want %v", cfg, thr, wantThr)
		}
	}
}

func sel(ix ...int32) []int32 { return ix }

// Small cases whose answers can be read off.
func TestSelectByHand(t *testing.T) {
	l := []float32{1, 3, 2, 3}
	all0 := []int32{0, 0, 0, 0}
	for _, c := range []struct {
		cfg  Config
		l    []float32
		tg   []int32
		imgs int
		want []int32
	}{
		{Config{}, l, all0, 0, sel(0, 1, 2, 3)},
		{Config{}, l, []int32{0, -1, 2, -100}, 0, sel(0, 2)},
		{Config{Keep: 2}, l, all0, 0, sel(1, 3)},
		{Config{Keep: 1}, l, all0, 0, sel(1)},
		{Config{Keep: 1, KeepTies: true}, l, all0, 0, sel(1, 3)},
		{Config{Keep: 3}, l, all0, 0, sel(1, 2, 3)},
		{Config{Keep: 10}, l, all0, 0, sel(0, 1, 2, 3)},
		{Config{Keep: 2}, l, []int32{0, -1, 0, 0}, 0, sel(2, 3)},
		{Config{KeepRatio: 0.5}, l, all0, 0, sel(1, 3)},
		{Config{KeepRatio: 0.01}, l, all0, 0, sel(1)},
		{Config{KeepRatio: 0.01}, l, []int32{-1, -1, -1, -1}, 0, nil},
		{Config{ProbThreshold: float32(math.Exp(-2.5))}, l, all0, 0, sel(1, 3)},
		{Config{ProbThreshold: float32(math.Exp(-2.5)), MinKept: 3}, l, all0, 0, sel(1, 2, 3)},
		{Config{ProbThreshold: float32(math.Exp(-2.5)), MinKept: 2}, l, all0, 0, sel(1, 3)},
		{Config{ProbThreshold: float32(math.Exp(-5)), MinKept: 1}, l, all0, 0, sel(1)},
		{Config{ProbThreshold: 1}, []float32{0, 1, 0, 2}, all0, 0, sel(1, 3)},
		{Config{Keep: 1, PerImage: true}, []float32{1, 2, 3, 4}, all0, 2, sel(1, 3)},
		{Config{Keep: 1}, []float32{1, 2, 3, 4}, all0, 2, sel(3)},
	} {
		got, _ := Select(c.cfg, c.l, c.tg, 0, c.imgs)
		if !slices.Equal(got, c.want) {
			t.Errorf("Select(%+v, %v, %v) = %v, want %v", c.cfg, c.l, c.tg, got, c.want)
		}
	}
	// SSD: background 0; positives 1 and 4; negatives 0, 2, 3, 5 with losses 5, 4, 3, 6.
	ssdL := []float32{5, 1, 4, 3, 0.5, 6}
	ssdT := []int32{0, 1, 0, 0, 2, 0}
	for _, c := range []struct {
		ratio float64
		min   int
		want  []int32
	}{
		{1, 0, sel(0, 1, 4, 5)},
		{0.4, 0, sel(1, 4)},
		{0.4, 1, sel(1, 4, 5)},
		{1.5, 0, sel(0, 1, 2, 4, 5)},
		{10, 0, sel(0, 1, 2, 3, 4, 5)},
		{0.4, 9, sel(0, 1, 2, 3, 4, 5)},
	} {
		got, thr := Select(Config{NegPosRatio: c.ratio, MinKept: c.min}, ssdL, ssdT, 0, 0)
		if !slices.Equal(got, c.want) {
			t.Errorf("NegPosRatio %v MinKept %d: %v, want %v", c.ratio, c.min, got, c.want)
		}
		if thr != 0.5 {
			t.Errorf("threshold %v, want the positive's 0.5", thr)
		}
	}
	if got, thr := Select(Config{Keep: 3}, nil, nil, 0, 0); len(got) != 0 || thr != 0 {
		t.Errorf("empty batch: %v %v", got, thr)
	}
}
