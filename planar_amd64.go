//go:build !purego

package ohem

import "math"

// The amd64 planar tiers for the driver (planar_asm.go) and their adapters: each kernel covers
// every position of the call and finishes it with the row kernels' formula (asm/ce.go's ceLoss:
// with label smoothing the gap enters as zt/2 − m/2, which cannot overflow where the loss is
// finite; a +Inf loss at the edge of the float32 range is still recomputed alone by the driver,
// finish.go's rule).

var (
	planarTierAVX2   = &planarTier{id: tierAVX2, minN: 1, finished: true}
	planarTierAVX512 = &planarTier{id: tierAVX512, minN: 1, finished: true}
)

// planarAVX2 and planarAVX512 install the tier's cePlanar and lsePlanar kernels in ks; fields
// left alone keep the generic implementation.
func planarAVX2(ks *kernelSet) {
	ks.cePlanar = planarTierAVX2.cePlanar
	ks.lsePlanar = planarTierAVX2.lsePlanar
}

func planarAVX512(ks *kernelSet) {
	ks.cePlanar = planarTierAVX512.cePlanar
	ks.lsePlanar = planarTierAVX512.lsePlanar
}

// planarScratch: the amd64 kernels block the positions themselves.
const planarScratch = 0

// planarKernel runs the tier's kernel (with smoothing or without) on the len(t) positions: the
// statistics, as for every kernel, are written when len(m) > 0 (st.on()).
func (d *planarTier) planarKernel(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
	m, ls, pt := st.m, st.ls, st.pt
	z := d.id == tierAVX512
	switch {
	case z && eps == 0:
		cePlanarAVX512(loss, m, ls, pt, x, t, c, stride, eps, fill)
	case z:
		cePlanarSmoothAVX512(loss, m, ls, pt, x, t, c, stride, eps, fill)
	case eps == 0:
		cePlanarAVX2(loss, m, ls, pt, x, t, c, stride, eps, fill)
	default:
		cePlanarSmoothAVX2(loss, m, ls, pt, x, t, c, stride, eps, fill)
	}
}

// countInf counts the +Inf losses.
func (d *planarTier) countInf(loss []float32) int {
	inf := float32(math.Inf(1))
	if d.id == tierAVX512 {
		return countAtLeastAVX512(loss, inf)
	}
	return countAtLeastAVX2(loss, inf)
}

// planarLSE runs the tier's log-sum-exp kernel on the len(dst) positions.
func (d *planarTier) planarLSE(dst, x []float32, c, stride int) {
	if d.id == tierAVX512 {
		lsePlanarAVX512(dst, x, c, stride)
	} else {
		lsePlanarAVX2(dst, x, c, stride)
	}
}

// The amd64 kernels finish their positions (planarTier.finished): the driver never calls these.

func (d *planarTier) planarReduce(red *planarReductions, x []float32, t []int32, c, stride int, eps float32) {
	panic("ohem: no planar block kernel on amd64")
}

func (d *planarTier) planarLSEReduce(red *planarReductions, x []float32, n, c, stride int) {
	panic("ohem: no planar block kernel on amd64")
}
