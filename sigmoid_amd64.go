//go:build !purego

package ohem

// sigAVX2 and sigAVX512 install the tier's kernels of Sigmoid batches in ks (asm/sigmoid.go, and
// zeroBelow of asm/rank.go). The kernels take any length (masked loads and tail stores); the
// adapters below give each the bounds it relies on: it reads and writes len(t) (sigLSE: len(dst))
// elements of every slice.
func sigAVX2(ks *kernelSet) {
	sigTier(ks, sigKernels{sigLossAVX2, sigLSEAVX2, sigGradAVX2, sigLossGradAVX2, sigLossRankAVX2, sigLossGradRankAVX2, zeroBelowAVX2})
}

func sigAVX512(ks *kernelSet) {
	sigTier(ks, sigKernels{sigLossAVX512, sigLSEAVX512, sigGradAVX512, sigLossGradAVX512, sigLossRankAVX512, sigLossGradRankAVX512, zeroBelowAVX512})
}

// sigKernels are one tier's Sigmoid kernels.
type sigKernels struct {
	loss         func(loss, x []float32, t []int32, eps, fill float32) (tmax int32, nan bool)
	lse          func(dst, x []float32) (nan bool)
	grad         func(g, x []float32, t []int32, scale []float32, eps float32)
	lossGrad     func(loss, g, x []float32, t []int32, eps, fill, s0 float32) (tmax int32, nan bool)
	lossRank     func(loss, rank, x []float32, t []int32, eps, fill float32) (tmax int32, nan bool)
	lossGradRank func(loss, rank, g, x []float32, t []int32, eps, fill, s0 float32) (tmax int32, nan bool)
	zeroBelow    func(g, x []float32, v float32)
}

func sigTier(ks *kernelSet, k sigKernels) {
	ks.sigLoss = func(loss, x []float32, t []int32, eps, fill float32) check {
		n := len(t)
		return sigChecks(k.loss(loss[:n], x[:n], t, eps, fill))
	}
	ks.sigLSE = func(dst, x []float32) check { return checks(false, k.lse(dst, x[:len(dst)])) }
	ks.sigGrad = func(g, x []float32, t []int32, scale []float32, eps float32) {
		n := len(t)
		k.grad(g[:n], x[:n], t, scale[:n], eps)
	}
	ks.sigLossGrad = func(loss, g, x []float32, t []int32, eps, fill, s0 float32) check {
		n := len(t)
		return sigChecks(k.lossGrad(loss[:n], g[:n], x[:n], t, eps, fill, s0))
	}
	ks.sigLossRank = func(loss, rank, x []float32, t []int32, eps, fill float32) check {
		n := len(t)
		return sigChecks(k.lossRank(loss[:n], rank[:n], x[:n], t, eps, fill))
	}
	ks.sigLossGradRank = func(loss, rank, g, x []float32, t []int32, eps, fill, s0 float32) check {
		n := len(t)
		return sigChecks(k.lossGradRank(loss[:n], rank[:n], g[:n], x[:n], t, eps, fill, s0))
	}
	ks.zeroBelow = func(g, x []float32, v float32) { k.zeroBelow(g[:len(x)], x, v) }
}

// sigChecks is the check of an amd64 Sigmoid loss kernel's returns: a target above 1 (the
// largest it read), a NaN in its sum of the losses.
func sigChecks(tmax int32, nan bool) check { return checks(tmax > 1, nan) }
