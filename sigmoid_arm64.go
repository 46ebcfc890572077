//go:build !purego

package ohem

// sigNEON installs the NEON kernels of Sigmoid batches in ks (asm/neon_sigmoid.go). They take
// whole vectors of 4; the last 1–3 samples go through a padded copy (logit 0, target 0, scale 0),
// which gives them the bits the kernel gives in place, and keeps every store of a kernel after
// the loads of its vector (g may be x).
//
// The NEON loss kernels do not check as they go (the amd64 ones do): the checks sigLoss returns
// are a pass of the set's maxTarget over the targets and one of countAtLeast over the losses.
func sigNEON(ks *kernelSet) {
	lossChecks := func(loss []float32, t []int32) check {
		return checks(ks.maxTarget(t) > 1, ks.countAtLeast(loss[:len(t)], nan32) > 0)
	}
	ks.sigLoss = func(loss, x []float32, t []int32, eps, fill float32) check {
		sigLossNEONs(loss, x, t, eps, fill)
		return lossChecks(loss, t)
	}
	ks.sigLSE = func(dst, x []float32) check {
		sigLSENEONs(dst, x)
		return checks(false, ks.countAtLeast(dst, nan32) > 0)
	}
	ks.sigGrad = sigGradNEONs
	ks.sigLossGrad = func(loss, g, x []float32, t []int32, eps, fill, s0 float32) check {
		sigLossGradNEONs(loss, g, x, t, eps, fill, s0)
		return lossChecks(loss, t)
	}
}

func sigLossNEONs(loss, x []float32, t []int32, eps, fill float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _ = loss[n-1], x[n-1] // the kernels read x[:n] and write loss[:n]
	m := n &^ 3
	if m > 0 {
		sigLossNEON(loss[:m], x[:m], t[:m], eps, fill)
	}
	if m < n {
		var xb, lb [4]float32
		var tb [4]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		sigLossNEON(lb[:], xb[:], tb[:], eps, fill)
		copy(loss[m:n], lb[:])
	}
}

func sigLSENEONs(dst, x []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = x[n-1]
	m := n &^ 3
	if m > 0 {
		sigLSENEON(dst[:m], x[:m])
	}
	if m < n {
		var xb, db [4]float32
		copy(xb[:], x[m:n])
		sigLSENEON(db[:], xb[:])
		copy(dst[m:n], db[:])
	}
}

func sigGradNEONs(g, x []float32, t []int32, scale []float32, eps float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _, _ = g[n-1], x[n-1], scale[n-1]
	m := n &^ 3
	if m > 0 {
		sigGradNEON(g[:m], x[:m], t[:m], scale[:m], eps)
	}
	if m < n {
		var xb, sb, gb [4]float32
		var tb [4]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		copy(sb[:], scale[m:n])
		sigGradNEON(gb[:], xb[:], tb[:], sb[:], eps)
		copy(g[m:n], gb[:])
	}
}

func sigLossGradNEONs(loss, g, x []float32, t []int32, eps, fill, s0 float32) {
	n := len(t)
	if n == 0 {
		return
	}
	_, _, _ = loss[n-1], g[n-1], x[n-1]
	m := n &^ 3
	if m > 0 {
		sigLossGradNEON(loss[:m], g[:m], x[:m], t[:m], eps, fill, s0)
	}
	if m < n {
		var xb, lb, gb [4]float32
		var tb [4]int32
		copy(xb[:], x[m:n])
		copy(tb[:], t[m:n])
		sigLossGradNEON(lb[:], gb[:], xb[:], tb[:], eps, fill, s0)
		copy(loss[m:n], lb[:])
		copy(g[m:n], gb[:])
	}
}
