// Package ref is a slow, obviously-correct float64 reference of the ohem API contract
// (shared/API.md), written from that document alone so that tests can compare the
// library against it. It does not import the root package and checks no input: every
// function assumes a valid batch and config (it may panic or return NaN otherwise).
//
// Layout: logits []float32 and targets []int32 with C classes and spatial size S.
// S == 0 is row-major [N][C]; S > 0 is planar [Images][C][S]. Sample i of a planar
// batch is image*S + position, and its class-j logit is logits[(image*C+j)*S+position].
//
// Every per-sample formula is evaluated in float64 from the float32 inputs, with the
// maximum logit subtracted first; a loss whose target holds the maximum is computed as
// log1p(Σ_{j≠t} exp(z_j − z_t)), so tiny losses keep their relative accuracy.
package ref

import "math"

// Index returns the position in a logits slice of sample i's class-j logit.
func Index(C, S, i, j int) int {
	if S == 0 {
		return i*C + j
	}
	img, pos := i/S, i%S
	return (img*C+j)*S + pos
}

// Logit returns sample i's class-j logit.
func Logit(logits []float32, C, S, i, j int) float32 {
	return logits[Index(C, S, i, j)]
}

// NumSamples returns N = len(logits) / C.
func NumSamples(logits []float32, C int) int { return len(logits) / C }

// Row returns sample i's C logits, converted to float64, in class order.
func Row(logits []float32, C, S, i int) []float64 {
	z := make([]float64, C)
	for j := range z {
		z[j] = float64(Logit(logits, C, S, i, j))
	}
	return z
}

// LogSumExp returns log Σ_j exp(z_j) for sample i (−Inf when every logit is −Inf).
func LogSumExp(logits []float32, C, S, i int) float64 {
	return lse64(Row(logits, C, S, i))
}

// CrossEntropy returns sample i's label-smoothed cross-entropy for the given target
// (0 <= target < C):
//
//	(1−eps)·(lse − z_t) + eps·(lse − mean_j z_j)
//
// eps == 0 is the plain loss lse − z_t (−Inf logits of other classes are then harmless);
// with eps > 0 any −Inf logit gives +Inf, and a −Inf target logit always gives +Inf.
// Pass eps as float64(cfg.LabelSmoothing). Every logit −Inf gives NaN (an error in the API).
func CrossEntropy(logits []float32, C, S, i int, target int32, eps float64) float64 {
	return ce64(Row(logits, C, S, i), int(target), eps)
}

// Grad returns the gradient of CrossEntropy(logits, C, S, i, target, eps) with respect to
// sample i's C logits, in class order: softmax_j − q_j with q = (1−eps)·onehot(target) + eps/C.
// The target element is computed as expm1(−nll) + eps·(1 − 1/C), so it stays accurate when tiny.
func Grad(logits []float32, C, S, i int, target int32, eps float64) []float64 {
	return grad64(Row(logits, C, S, i), int(target), eps)
}

// parts returns m = max_j z_j and L = log1p(Σ_{j≠a} exp(z_j − m)), a the first index of
// the maximum, so that lse = m + L (L = 0 when every z_j is −Inf).
func parts(z []float64) (m, L float64) {
	m = math.Inf(-1)
	a := -1
	for j, v := range z {
		if a < 0 || v > m {
			m, a = v, j
		}
	}
	if math.IsInf(m, -1) {
		return m, 0
	}
	s := 0.0
	for j, v := range z {
		if j != a {
			s += math.Exp(v - m)
		}
	}
	return m, math.Log1p(s)
}

func lse64(z []float64) float64 {
	m, L := parts(z)
	return m + L
}

// nll64 returns lse − z_t as (m − z_t) + L, two non-negative terms. When z_t is a
// maximum, m − z_t = 0 and L is log1p(Σ_{j≠t} exp(z_j − z_t)) (z_t and the first maximum
// both contribute exp(0) = 1, so which one is left out of L does not matter).
func nll64(z []float64, t int) (nll, m, L float64) {
	m, L = parts(z)
	if math.IsInf(m, -1) {
		return math.NaN(), m, L
	}
	return (m - z[t]) + L, m, L
}

func ce64(z []float64, t int, eps float64) float64 {
	nll, m, L := nll64(z, t)
	if eps == 0 || math.IsNaN(nll) {
		return nll
	}
	// lse − mean_j z_j = L + mean_j (m − z_j), every term non-negative.
	s := 0.0
	for _, v := range z {
		s += m - v
	}
	smooth := L + s/float64(len(z))
	return (1-eps)*nll + eps*smooth
}

func grad64(z []float64, t int, eps float64) []float64 {
	C := float64(len(z))
	nll, m, L := nll64(z, t)
	g := make([]float64, len(z))
	for j, v := range z {
		if j == t {
			g[j] = math.Expm1(-nll) + (eps - eps/C) // (p_t − 1) + eps − eps/C
		} else {
			g[j] = math.Exp((v-m)-L) - eps/C
		}
	}
	return g
}
