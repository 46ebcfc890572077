//go:build !purego

package ohem

// sigAVX2 and sigAVX512 install the tier's kernels of Sigmoid batches in ks (asm/sigmoid.go).
func sigAVX2(ks *kernelSet)   { sigTier(ks, false) }
func sigAVX512(ks *kernelSet) { sigTier(ks, true) }

func sigTier(ks *kernelSet, z bool) {
	ks.sigLoss = func(loss, x []float32, t []int32, eps, fill float32) { sigLossAsm(z, loss, x, t, eps, fill) }
	ks.sigLSE = func(dst, x []float32) { sigLSEAsm(z, dst, x) }
	ks.sigGrad = func(g, x []float32, t []int32, scale []float32, eps float32) { sigGradAsm(z, g, x, t, scale, eps) }
	ks.sigLossGrad = func(loss, g, x []float32, t []int32, eps, fill, s0 float32) {
		sigLossGradAsm(z, loss, g, x, t, eps, fill, s0)
	}
	ks.sigLossRank = func(loss, rank, x []float32, t []int32, eps, fill float32) {
		sigLossRankAsm(z, loss, rank, x, t, eps, fill)
	}
	ks.sigLossGradRank = func(loss, rank, g, x []float32, t []int32, eps, fill, s0 float32) {
		sigLossGradRankAsm(z, loss, rank, g, x, t, eps, fill, s0)
	}
	ks.zeroBelow = func(g, x []float32, v float32) {
		_ = g[:len(x)] // the kernel writes g[:len(x)]
		if z {
			zeroBelowAVX512(g, x, v)
		} else {
			zeroBelowAVX2(g, x, v)
		}
	}
}

// The kernels are called directly, never through func values, so that their //go:noescape lets
// the padded copies below stay on the stack. AVX-512 takes any length (opmask tails); AVX2 takes
// whole vectors of 8, and the last 1–7 samples go through a padded copy (their padding: logit 0,
// target 0, scale 0), which gives them the bits the kernel gives in place.

func sigLossAsm(z bool, loss, x []float32, t []int32, eps, fill float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _ = loss[n-1], x[n-1] // the kernels read x[:n] and write loss[:n]
	if z {
		sigLossAVX512(loss[:n], x[:n], t, eps, fill)
		return
	}
	m := n &^ 7
	if m > 0 {
		sigLossAVX2(loss[:m], x[:m], t[:m], eps, fill)
	}
	if m < n {
		var xb, lb [8]float32
		var tb [8]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		sigLossAVX2(lb[:], xb[:], tb[:], eps, fill)
		copy(loss[m:n], lb[:])
	}
}

func sigLossRankAsm(z bool, loss, rank, x []float32, t []int32, eps, fill float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _, _ = loss[n-1], rank[n-1], x[n-1] // the kernels read x[:n] and write loss[:n], rank[:n]
	if z {
		sigLossRankAVX512(loss[:n], rank[:n], x[:n], t, eps, fill)
		return
	}
	m := n &^ 7
	if m > 0 {
		sigLossRankAVX2(loss[:m], rank[:m], x[:m], t[:m], eps, fill)
	}
	if m < n {
		var xb, lb, rb [8]float32
		var tb [8]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		sigLossRankAVX2(lb[:], rb[:], xb[:], tb[:], eps, fill)
		copy(loss[m:n], lb[:])
		copy(rank[m:n], rb[:])
	}
}

func sigLossGradRankAsm(z bool, loss, rank, g, x []float32, t []int32, eps, fill, s0 float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _, _, _ = loss[n-1], rank[n-1], g[n-1], x[n-1] // the kernels read x[:n], write the others' [:n]
	if z {
		sigLossGradRankAVX512(loss[:n], rank[:n], g[:n], x[:n], t, eps, fill, s0)
		return
	}
	m := n &^ 7
	if m > 0 {
		sigLossGradRankAVX2(loss[:m], rank[:m], g[:m], x[:m], t[:m], eps, fill, s0)
	}
	if m < n {
		var xb, lb, rb, gb [8]float32
		var tb [8]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		sigLossGradRankAVX2(lb[:], rb[:], gb[:], xb[:], tb[:], eps, fill, s0)
		copy(loss[m:n], lb[:])
		copy(rank[m:n], rb[:])
		copy(g[m:n], gb[:])
	}
}

func sigLSEAsm(z bool, dst, x []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = x[n-1]
	if z {
		sigLSEAVX512(dst, x[:n])
		return
	}
	m := n &^ 7
	if m > 0 {
		sigLSEAVX2(dst[:m], x[:m])
	}
	if m < n {
		var xb, db [8]float32
		copy(xb[:], x[m:n])
		sigLSEAVX2(db[:], xb[:])
		copy(dst[m:n], db[:])
	}
}

func sigGradAsm(z bool, g, x []float32, t []int32, scale []float32, eps float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _, _ = g[n-1], x[n-1], scale[n-1]
	if z {
		sigGradAVX512(g[:n], x[:n], t, scale[:n], eps)
		return
	}
	m := n &^ 7
	if m > 0 {
		sigGradAVX2(g[:m], x[:m], t[:m], scale[:m], eps)
	}
	if m < n {
		var xb, sb, gb [8]float32
		var tb [8]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		copy(sb[:], scale[m:n])
		sigGradAVX2(gb[:], xb[:], tb[:], sb[:], eps)
		copy(g[m:n], gb[:])
	}
}

func sigLossGradAsm(z bool, loss, g, x []float32, t []int32, eps, fill, s0 float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _, _ = loss[n-1], g[n-1], x[n-1]
	if z {
		sigLossGradAVX512(loss[:n], g[:n], x[:n], t, eps, fill, s0)
		return
	}
	m := n &^ 7
	if m > 0 {
		sigLossGradAVX2(loss[:m], g[:m], x[:m], t[:m], eps, fill, s0)
	}
	if m < n {
		var xb, lb, gb [8]float32
		var tb [8]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		sigLossGradAVX2(lb[:], gb[:], xb[:], tb[:], eps, fill, s0)
		copy(loss[m:n], lb[:])
		copy(g[m:n], gb[:])
	}
}
