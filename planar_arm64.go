//go:build !purego

package ohem

// The NEON planar tier for the driver (planar_asm.go) and its adapters: the kernels reduce blocks
// of planarBlock positions (ohem_arm64.s: 8 positions at a time across the class planes), and Go
// finishes each position as a row (finishRow). Fewer than 4 positions (a kernel's vector) go to
// the generic code.

var planarTierNEON = &planarTier{id: tierNEON, minN: 4}

// planarNEON installs the NEON planar kernels.
func planarNEON(ks *kernelSet) {
	ks.cePlanar = planarTierNEON.cePlanar
	ks.lsePlanar = planarTierNEON.lsePlanar
}

// The planar block kernels' scratch (planarScratch) is generated: ohem_sizes_arm64.go.

// planarReduce runs the block kernel (with the smoothing's sum or without) on the len(t)
// positions of x.
func (d *planarTier) planarReduce(red *planarReductions, x []float32, t []int32, c, stride int, eps float32) {
	nb := len(t)
	if eps == 0 {
		cePlanarBlockNEON(red.s[:nb], red.zt[:nb], red.neg[:nb], red.mx[:nb], x, t, c, stride, red.scratch[:])
	} else {
		cePlanarBlockSpreadNEON(red.s[:nb], red.zt[:nb], red.neg[:nb], red.mx[:nb], x, t, c, stride, red.scratch[:])
	}
}

// planarLSEReduce runs the log-sum-exp block kernel on n positions of x.
func (d *planarTier) planarLSEReduce(red *planarReductions, x []float32, n, c, stride int) {
	lsePlanarBlockNEON(red.s[:n], red.mx[:n], x, c, stride, red.scratch[:])
}

// NEON finishes every position in Go (planarTier.finished): the driver never calls these.

func (d *planarTier) planarKernel(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
	panic("ohem: no finishing planar kernel on arm64")
}

func (d *planarTier) countInf(loss []float32) int { panic("ohem: no finishing planar kernel on arm64") }

func (d *planarTier) planarLSE(dst, x []float32, c, stride int) {
	panic("ohem: no finishing planar kernel on arm64")
}
