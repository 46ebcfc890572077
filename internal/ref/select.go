package ref

import (
	"math"
	"slices"
)

// The order of the selection functions: IEEE order with -0 == +0, every NaN equal to
// every other NaN and above +Inf (as torch.topk ranks NaN).

// Less reports whether a is strictly below b in the selection order.
func Less(a, b float32) bool { return less64(float64(a), float64(b)) }

// Equal reports whether a and b are equal in the selection order (-0 == +0, NaN == NaN).
// Use it, not ==, to compare KthLargest or Threshold results across implementations.
func Equal(a, b float32) bool { return !Less(a, b) && !Less(b, a) }

func less64(a, b float64) bool {
	if math.IsNaN(a) {
		return false
	}
	if math.IsNaN(b) {
		return true
	}
	return a < b
}

func equal64(a, b float64) bool { return !less64(a, b) && !less64(b, a) }

// CountAtLeast returns how many elements of x are >= t in the selection order
// (CountAtLeast(x, NaN) counts the NaNs).
func CountAtLeast(x []float32, t float32) int {
	n := 0
	for _, v := range x {
		if !Less(v, t) {
			n++
		}
	}
	return n
}

// rankOrder returns idx sorted from largest to smallest x, ties toward the lower index
// (a stable sort of idx, which must be ascending).
func rankOrder(x []float64, idx []int) []int {
	ord := slices.Clone(idx)
	slices.SortStableFunc(ord, func(i, j int) int {
		switch {
		case less64(x[j], x[i]):
			return -1
		case less64(x[i], x[j]):
			return 1
		}
		return 0
	})
	return ord
}

// Order returns the indices of x from largest to smallest in the selection order, ties toward the
// lower index: what KthLargest and TopK read off.
func Order(x []float32) []int { return rankOrder(widen(x), indices(len(x))) }

func indices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// KthLargest returns the k-th largest element of x (1 <= k <= len(x); it panics otherwise).
// Among equal elements it returns the one TopK(x, k) ranks last, i.e. x[i] for the
// highest-ranked i in "largest first, ties toward the lower index" order at position k;
// this only matters for the sign of a zero or a NaN's payload.
func KthLargest(x []float32, k int) float32 {
	if k < 1 || k > len(x) {
		panic("ref.KthLargest: k out of range")
	}
	return x[rankOrder(widen(x), indices(len(x)))[k-1]]
}

// TopK returns the indices of the k largest elements of x (1 <= k <= len(x); it panics
// otherwise), exactly k, ties broken toward the lower index, in ascending index order.
func TopK(x []float32, k int) []int32 {
	if k < 1 || k > len(x) {
		panic("ref.TopK: k out of range")
	}
	ord := rankOrder(widen(x), indices(len(x)))[:k]
	slices.Sort(ord)
	out := make([]int32, k)
	for i, v := range ord {
		out[i] = int32(v)
	}
	return out
}

// hardest returns the k candidates (ascending indices into x) with the largest x, ties
// toward the lower index; with ties, also every further candidate equal to the k-th one.
func hardest(x []float64, cand []int, k int, ties bool) []int {
	if k <= 0 {
		return nil
	}
	ord := rankOrder(x, cand)
	kept := ord[:k]
	if ties {
		last := x[ord[k-1]]
		for _, i := range ord[k:] {
			if !equal64(x[i], last) {
				break // ord is sorted, so the ties are contiguous
			}
			kept = append(kept, i)
		}
	}
	return kept
}

// GroupSize returns the number of consecutive samples in one image group of an
// n-sample batch: S for a planar batch (S > 0), n/images for a row-major batch
// with images > 1, else n.
func GroupSize(n, S, images int) int {
	switch {
	case S > 0:
		return S
	case images > 1:
		return n / images
	}
	return n
}

// Select applies cfg's selection rule to the given per-sample losses (the library's
// Losses(), 0 for ignored samples) and returns the kept indices, ascending, and the
// threshold (the smallest kept loss; 0 when nothing is kept). targets marks the valid
// samples and, for NegPosRatio, the positives; S and images give the PerImage groups as in
// GroupSize. Losses are compared exactly as float32 values widened to float64.
func Select(cfg Config, losses []float32, targets []int32, S, images int) (selected []int32, threshold float32) {
	sel, thr := Select64(cfg, widen(losses), targets, S, images)
	return sel, float32(thr)
}

// Select64 is Select on float64 losses.
func Select64(cfg Config, losses []float64, targets []int32, S, images int) (selected []int32, threshold float64) {
	n := len(losses)
	gs := n
	if cfg.PerImage {
		gs = GroupSize(n, S, images)
	}
	if gs <= 0 {
		gs = n
	}
	var kept []int
	for lo := 0; lo < n; lo += gs {
		kept = append(kept, selectGroup(cfg, losses, targets, lo, min(lo+gs, n))...)
	}
	slices.Sort(kept)
	selected = make([]int32, len(kept))
	for i, v := range kept {
		selected[i] = int32(v)
		if i == 0 || less64(losses[v], threshold) {
			threshold = losses[v]
		}
	}
	return selected, threshold
}

// selectGroup applies the rule to samples [lo, hi), with every count taken within them.
func selectGroup(cfg Config, x []float64, targets []int32, lo, hi int) []int {
	var valid []int
	for i := lo; i < hi; i++ {
		if targets[i] >= 0 {
			valid = append(valid, i)
		}
	}
	V := len(valid)
	switch {
	case cfg.Keep > 0:
		return hardest(x, valid, min(cfg.Keep, V), cfg.KeepTies)

	case cfg.KeepRatio > 0:
		k := V
		if f := math.Floor(cfg.KeepRatio * float64(V)); f < float64(V) {
			k = int(f)
		}
		if V > 0 && k < 1 {
			k = 1
		}
		return hardest(x, valid, k, cfg.KeepTies)

	case cfg.ProbThreshold > 0:
		thr := -math.Log(float64(cfg.ProbThreshold)) // p_i < t  <=>  l_i > −ln t
		var above []int
		for _, i := range valid {
			if x[i] > thr {
				above = append(above, i)
			}
		}
		if need := min(cfg.MinKept, V); len(above) < need {
			return hardest(x, valid, need, cfg.KeepTies)
		}
		return above

	case cfg.NegPosRatio > 0:
		var pos, neg []int
		for _, i := range valid {
			if targets[i] != cfg.Background {
				pos = append(pos, i)
			} else {
				neg = append(neg, i)
			}
		}
		k := len(neg)
		if f := math.Floor(cfg.NegPosRatio * float64(len(pos))); f < float64(k) {
			k = int(f)
		}
		k = min(len(neg), max(k, cfg.MinKept))
		return append(pos, hardest(x, neg, k, cfg.KeepTies)...)
	}
	return valid
}
