package ohem

import "math"

// The generic kernels of Sigmoid batches: every logit z is a binary sample with target y (0 or 1).
// With d = z for a negative (y = 0) and d = −z for a positive, the loss is softplus(d) =
// max(d, 0) + log1p(e^{−|d|}), which keeps a tiny loss's digits, and with label smoothing ε
// (y' = (1−ε)·y + ε/2)
//
//	y'·softplus(−z) + (1−y')·softplus(z) = max(d, 0) + log1p(e^{−|d|}) − ε/2·d,
//
// no cancellation: for d > 0 the first and the last term sum to (1 − ε/2)·d >= d/2. The gradient
// σ(z) − y' is ±(σ(d) − ε/2), + for a negative, − for a positive, with σ(d) = 1/(1 + e^{−|d|}) for
// d >= 0 and e^{−|d|}/(1 + e^{−|d|}) below: nothing cancels but the smoothing term. e^{−|d|} is the
// float32 exp32 of every set (exactly 0 below its cut-off), so a loss below the underflow point is
// exactly 0 everywhere.

// sigD returns d, the logit signed by the target: z for t = 0, −z for t = 1.
func sigD(z float32, t int32) float32 {
	if t != 0 {
		return -z
	}
	return z
}

func sigLossGeneric(loss, x []float32, t []int32, eps, fill float32) check {
	h := 0.5 * float64(eps)
	bad, nan := false, fill != fill
	for i, ti := range t {
		bad = bad || ti > 1
		if ti < 0 {
			loss[i] = fill
			continue
		}
		z := x[i]
		if z-z != 0 { // NaN or ±Inf
			loss[i] = nan32
			nan = true
			continue
		}
		d := sigD(z, ti)
		u := float64(exp32(-abs32(d)))
		loss[i] = float32(max(float64(d), 0) + math.Log1p(u) - h*float64(d))
	}
	return checks(bad, nan)
}

func sigLSEGeneric(dst, x []float32) check {
	nan := false
	for i, z := range x {
		if z-z != 0 {
			dst[i] = nan32
			nan = true
			continue
		}
		dst[i] = float32(max(float64(z), 0) + math.Log1p(float64(exp32(-abs32(z)))))
	}
	return checks(false, nan)
}

func sigGradGeneric(g, x []float32, t []int32, scale []float32, eps float32) {
	h := 0.5 * float64(eps)
	for i, ti := range t {
		sc := scale[i]
		if ti < 0 || sc == 0 {
			g[i] = 0
			continue
		}
		d := sigD(x[i], ti)
		u := float64(exp32(-abs32(d)))
		s := 1 / (1 + u) // σ(d)
		if d < 0 {
			s = u / (1 + u)
		}
		v := s - h
		if ti != 0 {
			v = -v
		}
		g[i] = float32(float64(sc) * v)
	}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
