package ohem

import "math"

// The Go finish of a softmax row (or planar position) from its reductions, and the rule for what
// goes to the generic code instead. Every path that finishes in Go uses finishRow (a log-sum-exp,
// finishLSE); the generic kernels use finishCE itself.
//
// The fallback rule. The assembly kernels work in float32 where the generic code works in
// float64; two cases go to the generic code, which gives every result its float64 evaluation:
//   - tinySmoothing: a label smoothing so small that ε/C is not a normal float32. The kernels that
//     finish in assembly (amd64) weigh the spread by ε/C in float32, where 0·(−Inf) would make a
//     NaN: the whole call goes to the generic code (rowTier.goFallback, the planar drivers).
//   - an overflowed spread: with smoothing, the sum Σ (z_j − m) overflows float32 when the logits
//     span more than float32 can subtract, although the smoothed loss may be finite. A row finished
//     in Go reports it (finishRow returns false: its sum is ±Inf), and that sample alone is
//     recomputed. The kernels that finish in assembly (amd64) sum the spread in halves, weighted
//     as they go, and take m − z_t as twice a half difference (the generator's ceLoss), which cannot
//     overflow where the smoothed loss is finite; a planar position they finish with a +Inf loss
//     (a loss at the edge of the float32 range) is still recomputed alone.

// tinySmoothing reports a label smoothing so small that ε/C is not a normal float32 (the rule above).
func tinySmoothing(eps float32, c int) bool {
	return eps != 0 && float64(eps)/float64(c) < 0x1p-126
}

// finishCE turns one sample's reductions into its loss: m is the row maximum, zt the target logit,
// others = Σ_{j≠t} exp(z_j − m), spread = Σ_j (m − z_j) (only read when eps > 0). It returns the
// (smoothed) loss, log Σ_j exp(z_j − m) and p_t − 1. When the target holds the maximum the loss is
// log1p(others), which keeps tiny losses exact.
func finishCE(others float64, m, zt float32, spread float64, c int, eps float32) (loss, lsum, pt float32) {
	var ls, ce, total float64
	if zt == m {
		ls = math.Log1p(others)
		ce = ls
		total = 1 + others
	} else {
		total = others + math.Exp(float64(zt)-float64(m))
		ls = math.Log(total)
		ce = ls + (float64(m) - float64(zt))
	}
	if eps != 0 {
		e := float64(eps)
		ce = (1-e)*ce + e*(ls+spread/float64(c))
	}
	return float32(ce), float32(ls), float32(-others / total)
}

// finishRow turns sample i's reductions into its loss and statistics: ti its target, m the
// maximum, s the sum of e^{z_j−m} over j ≠ t, zt the target logit, sum = Σ_{j≠t} (z_j − m) (read
// only when eps != 0). An ignored sample (ti < 0) gets fill and zero statistics; a sample whose
// maximum is not finite (a NaN, +Inf, or all −Inf) a NaN loss. It returns false when sum
// overflowed, for the caller to recompute the sample with the generic code (the rule above).
func finishRow(loss []float32, st stats, i int, ti int32, m, s, zt, sum float32, c int, eps, fill float32) bool {
	if ti < 0 {
		loss[i] = fill
		st.set(i, 0, 0, 0)
		return true
	}
	if m-m != 0 {
		loss[i] = nan32
		return true
	}
	var spread float64
	if eps != 0 {
		if math.IsInf(float64(sum), 0) {
			return false
		}
		spread = -float64(sum) + (float64(m) - float64(zt)) // Σ_j (m − z_j), the target's term too
	}
	l, ls, pt := finishCE(float64(s), m, zt, spread, c, eps)
	loss[i] = l
	st.set(i, m, ls, pt)
	return true
}

// finishLSE is the log-sum-exp of a row or position from its maximum m and s = Σ_j e^{z_j−m}: NaN
// when the maximum is not finite (+Inf, or all −Inf; NaN logits make s NaN).
func finishLSE(m float32, s float64) float32 {
	if m-m != 0 {
		s = math.NaN()
	}
	return float32(float64(m) + math.Log(s))
}
