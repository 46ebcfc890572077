//go:build !purego && (amd64 || arm64)

package ohem

import "math"

// The planar driver, shared by every assembly tier as rows_asm.go is for the row-major layout: it
// checks the bounds the kernels rely on, sends to the generic code what they cannot take (fewer
// positions than a vector; the fallback rule of finish.go), and either lets the tier's kernel run
// every position and finish it (amd64: the kernels block the positions themselves) or runs the
// tier's block kernel over blocks of planarBlock positions and finishes each position in Go
// (finishRow; NEON). The adapters (planar_amd64.go, planar_arm64.go) call the kernels directly.

// planarTier is one tier's planar kernels as the driver sees them.
type planarTier struct {
	id int // the tier, as its architecture's adapters know it
	// minN: fewer positions go to the generic code (the block kernels' last vector ends at the
	// block's end, so a block needs a whole vector).
	minN int
	// finished: the kernel writes the losses and statistics of every position (planarKernel);
	// otherwise it leaves the reductions of a block (planarReduce) for finishRow.
	finished bool
}

// cePlanar is the tier's kernelSet.cePlanar.
func (d *planarTier) cePlanar(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
	n := len(t)
	if n == 0 {
		return
	}
	if n < d.minN || d.finished && tinySmoothing(eps, c) {
		cePlanarGeneric(loss, st, x, t, c, stride, eps, fill)
		return
	}
	// The kernels read x[j*stride+p] for p < n, j < c and write loss[:n] (and st[:n]).
	_ = loss[n-1]
	_ = x[(c-1)*stride+n-1]
	if st.on() {
		_, _, _ = st.m[n-1], st.ls[n-1], st.pt[n-1]
	}
	if !d.finished {
		d.cePlanarBlocks(loss, st, x, t, c, stride, eps, fill)
		return
	}
	d.planarKernel(loss, st, x, t, c, stride, eps, fill)
	if eps == 0 || d.countInf(loss[:n]) == 0 {
		return
	}
	// An overflowed spread shows as a +Inf loss (the fallback rule): recompute those positions.
	inf := float32(math.Inf(1))
	for p, v := range loss[:n] {
		if v == inf {
			cePlanarGeneric(loss[p:p+1], st.slice(p, p+1), x[p:], t[p:p+1], c, stride, eps, fill)
		}
	}
}

// planarSpan returns the block [lo, hi) that follows hi0 (< n, n >= minN): at most planarBlock
// positions and at least minN; a last block shorter than that starts earlier and recomputes a few.
func (d *planarTier) planarSpan(hi0, n int) (lo, hi int) {
	hi = min(hi0+planarBlock, n)
	return min(hi0, hi-d.minN), hi
}

// planarReductions are a block's reductions: per position the maximum mx, s = Σ_{j≠t} e^{z_j−m}
// (every j for the log-sum-exp), the target logit zt and neg = Σ_{j≠t} (z_j − m), −Inf when it
// overflowed float32.
type planarReductions struct {
	s, neg  [planarBlock]float64
	zt, mx  [planarBlock]float32
	scratch [planarScratch]float32
}

// cePlanarBlocks runs the tier's block kernel and finishes each position in Go.
func (d *planarTier) cePlanarBlocks(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
	var red planarReductions
	n := len(t)
	for hi := 0; hi < n; {
		var lo int
		lo, hi = d.planarSpan(hi, n)
		d.planarReduce(&red, x[lo:], t[lo:hi], c, stride, eps)
		for r, ti := range t[lo:hi] {
			p := lo + r
			if !finishRow(loss, st, p, ti, red.mx[r], float32(red.s[r]), red.zt[r], float32(red.neg[r]), c, eps, fill) {
				cePlanarGeneric(loss[p:p+1], st.slice(p, p+1), x[p:], t[p:p+1], c, stride, eps, fill)
			}
		}
	}
}

// lsePlanar is the tier's kernelSet.lsePlanar.
func (d *planarTier) lsePlanar(dst, x []float32, c, stride int) {
	n := len(dst)
	if n == 0 {
		return
	}
	if n < d.minN {
		lsePlanarGeneric(dst, x, c, stride)
		return
	}
	_ = x[(c-1)*stride+n-1]
	if d.finished {
		d.planarLSE(dst, x, c, stride)
		return
	}
	var red planarReductions
	for hi := 0; hi < n; {
		var lo int
		lo, hi = d.planarSpan(hi, n)
		d.planarLSEReduce(&red, x[lo:], hi-lo, c, stride)
		for r := range hi - lo {
			dst[lo+r] = finishLSE(red.mx[r], red.s[r])
		}
	}
}
