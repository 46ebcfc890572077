package ohem

// A kernelSet is one implementation of the hot loops. Every set computes the same functions; the
// generic set (ohem_generic.go) is the reference the others are tested against. The drivers in
// loss.go and select.go validate their input, so a kernel may assume what its comment states.
//
// Conventions shared by every set:
//   - Targets are < c; a negative target marks an ignored sample.
//   - A valid sample whose logits hold a NaN or +Inf, or are all −Inf, gets a NaN loss (or
//     log-sum-exp); the driver turns that into ErrNonFinite.
//   - st receives, per valid sample, what the gradient needs (see stats); it is empty when no
//     gradient follows.
//   - Selection uses the order of the package: IEEE, −0 == +0, NaN above +Inf and equal to NaN.
type kernelSet struct {
	name string

	// ceRows: row-major [len(t)][c] logits x. loss[i] is sample i's cross-entropy, smoothed by eps;
	// fill for an ignored sample (0 for CrossEntropy; −Inf inside a Loss, which keeps ignored
	// samples below every candidate of the selection). It returns its checks: checkNaN unless no
	// loss written is NaN, and checkBad when a target is >= c, which only a set whose
	// checksTargets(c, eps) says so looks for (the caller checks the targets first otherwise).
	ceRows func(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) check
	// checksTargets, optional (nil: never), reports that ceRows with c classes and smoothing eps
	// reads no memory by target, so that it may run on unchecked targets, and reports a target
	// out of range in its checks: the caller then needs no pass over the targets before it.
	checksTargets func(c int, eps float32) bool
	// lseRows: dst[i] = log Σ_j exp(x[i*c+j]) for the len(dst) rows of x.
	lseRows func(dst, x []float32, c int)
	// cePlanar: len(t) positions of a planar image; class j of position p is x[j*stride+p].
	cePlanar func(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32)
	// lsePlanar: dst[p] = log Σ_j exp(x[j*stride+p]) for the len(dst) positions.
	lsePlanar func(dst, x []float32, c, stride int)
	// gradRows: g[i*c+j] = scale[i]·(softmax_ij − q_ij) for every row with scale[i] != 0 and a
	// valid target, 0 for every other row; q = (1−eps)·onehot(t) + eps/c.
	gradRows func(g, x []float32, t []int32, st stats, scale []float32, c int, eps float32)
	// gradPlanar: as gradRows, in the planar layout of cePlanar (g has the layout of x).
	gradPlanar func(g, x []float32, t []int32, st stats, scale []float32, c, stride int, eps float32)

	// ceGradRows, optional (nil: not available), is ceRows with st on that also writes the
	// gradient of every row for one scale s0 given in advance: g[i*c+j] = s0·(softmax_ij − q_ij) for
	// a valid row, 0 for an ignored one; ForwardBackward's two passes over the logits in one. keep
	// is the fraction of the valid rows the selection will keep: when it is below 1, the kernel may
	// predict, from the losses of the rows before, that a row will be dropped, and write zeros for
	// it instead; dropped[i] reports so (false for every other row). It takes the c and eps for
	// which fuseRows reports true.
	ceGradRows func(loss []float32, st stats, g, x []float32, t []int32, dropped []bool, c int, eps, fill, s0 float32, keep float64)
	// fuseRows (set with ceGradRows) reports whether ceGradRows takes c classes and smoothing eps.
	fuseRows func(c int, eps float32) bool

	// Binary (Sigmoid) samples, one per logit: the layout does not matter to these kernels.
	// sigLoss: loss[i] = y'·softplus(−x[i]) + (1−y')·softplus(x[i]) with y = t[i] (0 or 1) and
	// y' = (1−eps)·y + eps/2; fill where t[i] < 0; NaN for a valid sample whose logit is not finite.
	// The loss kernels check as they go, so that a call needs no pass over the targets before and
	// none over the losses after: checkBad reports a target above 1 (the call's ErrTarget; the
	// losses are written all the same, from whatever the kernel makes of such a target), checkNaN
	// a loss written that may be NaN (unset: none is; set: the caller scans, and may find none).
	sigLoss func(loss, x []float32, t []int32, eps, fill float32) check
	// sigLSE: dst[i] = softplus(x[i]) = log(1 + e^x[i]); NaN where x[i] is not finite; checkNaN as
	// sigLoss's.
	sigLSE func(dst, x []float32) check
	// sigGrad: g[i] = scale[i]·(σ(x[i]) − y'_i) where t[i] >= 0 and scale[i] != 0 (x[i] finite
	// there), 0 elsewhere. g may be x itself.
	sigGrad func(g, x []float32, t []int32, scale []float32, eps float32)
	// sigLossGrad, optional (nil: not available), is sigLoss that also writes the gradient for one
	// scale s0 given in advance: g[i] = s0·(σ(x[i]) − y'_i) where t[i] >= 0, 0 elsewhere
	// (ForwardBackward's two passes in one). g may be x itself.
	sigLossGrad func(loss, g, x []float32, t []int32, eps, fill, s0 float32) check
	// sigLossRank, optional (nil: not available), is sigLoss that also writes NegPosRatio's ranks
	// (negPosRanks with background 0): rank[i] = NaN where t[i] = 1, loss[i] elsewhere (fill
	// where t[i] < 0). The loss pass then saves the ranking its own pass over loss and t.
	sigLossRank func(loss, rank, x []float32, t []int32, eps, fill float32) check
	// sigLossGradRank, optional (nil: not available), is sigLossGrad that also writes the ranks of
	// sigLossRank.
	sigLossGradRank func(loss, rank, g, x []float32, t []int32, eps, fill, s0 float32) check
	// zeroBelow sets g[i] = 0 where x[i] < v (not where x[i] is NaN), for i < len(x); len(g) >=
	// len(x). After a fused Sigmoid pass it zeroes the gradient of the samples a selection dropped
	// when the selection kept exactly the x[i] >= v.
	zeroBelow func(g, x []float32, v float32)
	// countTargets returns how many t[i] >= 0 (the valid samples) and how many of those are not bg
	// (NegPosRatio's positives).
	countTargets func(t []int32, bg int32) (valid, pos int)

	// expf sets dst[i] = e^x[i] for x[i] <= 0, log1pf dst[i] = log(1 + x[i]) for x[i] >= 0, and
	// log1pUnitf dst[i] = log(1 + x[i]) for x[i] in [0, 1] (the Sigmoid kernels' log1p of
	// e^{−|d|}): the sequences the other kernels inline, exposed for the tests.
	expf, log1pf, log1pUnitf func(dst, x []float32)

	// maxTarget returns the largest element of t, or −1 when t is empty.
	maxTarget func(t []int32) int32

	// countAtLeast returns how many x[i] >= t.
	countAtLeast func(x []float32, t float32) int
	// band requires lo <= hi, neither NaN. It returns how many x[i] are above hi (NaN included) and
	// how many lie in [lo, hi]; the first len(buf) of the latter are copied to buf in order.
	band func(buf, x []float32, lo, hi float32) (above, inBand int)
	// indicesAtLeast writes base+i for every x[i] >= t, ascending, to dst, which has room for all,
	// and returns their count.
	indicesAtLeast func(dst []int32, x []float32, t float32, base int32) int
	// indicesZeroBelow, optional (nil: indicesAtLeast, then zeroBelow), is indicesAtLeast for a t
	// that is not NaN that also sets g[i] = 0 where x[i] < t (zeroBelow) in the same pass; len(g) >=
	// len(x). The selection's last pass over a group then zeroes the fused pass's gradient of the
	// samples it drops, without another read of x.
	indicesZeroBelow func(dst []int32, g, x []float32, t float32, base int32) int
	// negPosRanks sets NegPosRatio's ranks: rank[i] = NaN (above every loss) for a positive
	// (t[i] >= 0, t[i] != bg), loss[i] for every other sample (an ignored one's loss is −Inf
	// already), for i < len(loss); it returns the number of positives. len(rank) and len(t) are at
	// least len(loss).
	negPosRanks func(rank, loss []float32, t []int32, bg int32) int
	// vectorCount reports that countAtLeast is vectorised: the selection may then cut up to
	// fewDirect elements by repeated counts (a count of each costs far less than a look at each in Go).
	vectorCount bool
}

// stats holds, per sample, what the gradient needs from the forward pass: the maximum logit m, the
// log-sum ls = log Σ_j exp(z_j − m), and pt = p_t − 1 = −Σ_{j≠t} exp(z_j − m) / Σ_j exp(z_j − m),
// the target's softmax minus one, which stays exact when p_t is close to 1. Empty (nil slices) when
// no gradient follows.
type stats struct{ m, ls, pt []float32 }

func (s stats) on() bool { return s.m != nil }

// slice returns the statistics of samples [lo, hi).
func (s stats) slice(lo, hi int) stats {
	if s.m == nil {
		return s
	}
	return stats{s.m[lo:hi], s.ls[lo:hi], s.pt[lo:hi]}
}

// set stores sample i's statistics, if any are kept.
func (s stats) set(i int, m, ls, pt float32) {
	if s.m != nil {
		s.m[i], s.ls[i], s.pt[i] = m, ls, pt
	}
}

// check is what a loss kernel found besides its losses: checkBad, a target out of range (where
// the kernel looks: the Sigmoid ones always, ceRows where checksTargets says so), and checkNaN, a
// loss written that may be NaN (unset: none is), which the caller then looks for.
type check uint8

const (
	checkBad check = 1 << iota
	checkNaN
)

// checks packs a kernel's checks.
func checks(bad, nan bool) check {
	var c check
	if bad {
		c |= checkBad
	}
	if nan {
		c |= checkNaN
	}
	return c
}

// zeroedIndices is indicesZeroBelow, or where the set has none indicesAtLeast then zeroBelow.
func (ks *kernelSet) zeroedIndices(dst []int32, g, x []float32, t float32, base int32) int {
	if ks.indicesZeroBelow != nil {
		return ks.indicesZeroBelow(dst, g, x, t, base)
	}
	n := ks.indicesAtLeast(dst, x, t, base)
	ks.zeroBelow(g, x, t)
	return n
}
