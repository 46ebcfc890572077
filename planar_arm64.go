//go:build !purego

package ohem

import "math"

// planarNEON installs the NEON planar kernels: they reduce blocks of planarBlock positions
// (ohem_arm64.s: 8 positions at a time across the class planes), and Go finishes each position
// as ce_arm64.go finishes a row. Fewer than 4 positions (a kernel's vector) go to the generic code.
func planarNEON(ks *kernelSet) {
	ks.cePlanar = cePlanarNEON
	ks.lsePlanar = lsePlanarNEON
}

// planarScratch is the scratch block of the planar kernels: 128 classes of 8 positions.
const planarScratch = 128 * 8

// planarSpan returns the block [lo, hi) that follows hi0 (< n, n >= 4): at most planarBlock
// positions and at least 4; a last block shorter than 4 starts earlier and recomputes a few.
func planarSpan(hi0, n int) (lo, hi int) {
	hi = min(hi0+planarBlock, n)
	return min(hi0, hi-4), hi
}

func cePlanarNEON(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
	n := len(t)
	if n < 4 {
		cePlanarGeneric(loss, st, x, t, c, stride, eps, fill)
		return
	}
	// The kernel reads x[j*stride+p] for j < c, p < n.
	_ = x[(c-1)*stride+n-1]
	_ = loss[n-1]
	var (
		s, neg  [planarBlock]float64
		zt, mx  [planarBlock]float32
		scratch [planarScratch]float32
	)
	for hi := 0; hi < n; {
		var lo int
		lo, hi = planarSpan(hi, n)
		nb := hi - lo
		if eps == 0 {
			cePlanarBlockNEON(s[:nb], zt[:nb], neg[:nb], mx[:nb], x[lo:], t[lo:hi], c, stride, scratch[:])
		} else {
			cePlanarBlockSpreadNEON(s[:nb], zt[:nb], neg[:nb], mx[:nb], x[lo:], t[lo:hi], c, stride, scratch[:])
		}
		for r, ti := range t[lo:hi] {
			p := lo + r
			// The kernel's neg is Σ_{j≠t} (z_j − m), −Inf when it overflowed float32 (then
			// finishRow asks for the generic code's float64 evaluation).
			if !finishRow(loss, st, p, ti, mx[r], float32(s[r]), zt[r], float32(neg[r]), c, eps, fill) {
				cePlanarGeneric(loss[p:p+1], st.slice(p, p+1), x[p:], t[p:p+1], c, stride, eps, fill)
			}
		}
	}
}

func lsePlanarNEON(dst, x []float32, c, stride int) {
	n := len(dst)
	if n < 4 {
		lsePlanarGeneric(dst, x, c, stride)
		return
	}
	_ = x[(c-1)*stride+n-1]
	var (
		s       [planarBlock]float64
		mx      [planarBlock]float32
		scratch [planarScratch]float32
	)
	for hi := 0; hi < n; {
		var lo int
		lo, hi = planarSpan(hi, n)
		nb := hi - lo
		lsePlanarBlockNEON(s[:nb], mx[:nb], x[lo:], c, stride, scratch[:])
		for r := range nb {
			m, sum := mx[r], s[r]
			if m-m != 0 {
				sum = math.NaN()
			}
			dst[lo+r] = float32(float64(m) + math.Log(sum))
		}
	}
}
