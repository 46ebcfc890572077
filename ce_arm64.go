//go:build !purego

package ohem

// The NEON row-major tier for the driver (rows_asm.go), and the adapters that call its kernels
// directly. Every NEON kernel reduces its rows (ohem_arm64.s) and Go finishes them (finishRow).

const tierNEON = 0

// smallMaxNEON is the largest C that goes across rows lane by lane (ceSmallNEON); larger C go
// through the tiles (up to tiledMaxNEON) and along each row above.
const smallMaxNEON = tiledMinNEON - 1

var rowsNEON = &rowTier{id: tierNEON, lanes: 4, smallMax: smallMaxNEON,
	tiledMin: tiledMinNEON, tiledMax: tiledMaxNEON, smallLSE: true, overread: tiledOverread}

// ceNEON installs the NEON row-major kernels.
func ceNEON(ks *kernelSet) {
	ks.ceRows = rowsNEON.ceRows
	ks.lseRows = rowsNEON.lseRows
}

// tailFloats is the padded copy of a last group of rows (4 rows of the tiled kernel's largest C
// and the floats it reads past them); colScratch the tiled kernel's column buffer. NEON has no
// finish kernel (finishScratch) and no finished-row kernels (smallScratch, mediumScratch,
// mediumBlock). maxLanes, tiledOverread and tiledColPad are generated: ohem_sizes_arm64.go.
const (
	tailFloats    = 4*tiledMaxNEON + tiledOverread
	colScratch    = 4 * (tiledMaxNEON + tiledColPad)
	finishScratch = 0
	smallScratch  = 0
	mediumScratch = 0
	mediumBlock   = rowBlock
)

// across runs the across-rows kernel k (kindSmall: lane by lane, kindTiled: through 4×4 tiles) on
// the len(t) rows of x, a whole number of groups, into red from row off; w is the spread's
// weight (1, or 0 for the log-sum-exp, whose targets are −1).
func (d *rowTier) across(k rowKind, red *reductions, off int, x []float32, t []int32, col []float32, c int, w float32) {
	o, n := off, off+len(t)
	if k == kindTiled {
		ceTiledNEON(red.s[o:n], red.zt[o:n], red.neg[o:n], red.mx[o:n], x, t, col, c, w)
	} else {
		ceSmallNEON(red.s[o:n], red.zt[o:n], red.neg[o:n], red.mx[o:n], x, t, c, w)
	}
}

// large runs the row-at-a-time kernel on the len(t) rows of x.
func (d *rowTier) large(red *reductions, x []float32, t []int32, c int, w, eps float32) {
	if eps == 0 {
		ceRowsLargeNEON(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w)
	} else {
		ceRowsLargeSpreadNEON(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w)
	}
}

// lseLarge runs the row-at-a-time log-sum-exp kernel on the n rows of x.
func (d *rowTier) lseLarge(red *reductions, x []float32, n, c int) {
	lseRowsLargeNEON(red.s[:n], red.mx[:n], x, c)
}

// NEON has no finished-row kernels, no finish kernel and no fused kernels (rowTier.finished,
// asmFinish): the driver never calls these.

func (d *rowTier) ceGroup(k rowKind, loss []float32, st stats, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32) check {
	panic("ohem: no finished-row kernel on arm64")
}

func (d *rowTier) lseGroup(k rowKind, dst, x, scratch []float32, n, c int) {
	panic("ohem: no finished-row kernel on arm64")
}

func (d *rowTier) largeGrad(red *reductions, x []float32, t []int32, c int, w, eps float32, g []float32, s0, nq, e0 float32) {
	panic("ohem: no fused kernel on arm64")
}

func (d *rowTier) finish(loss, m, ls, pt []float32, red *reductions, t []int32, scratch []float32, c int, eps, fill float32) {
	panic("ohem: no finish kernel on arm64")
}

func (d *rowTier) mediumGrad(loss []float32, st stats, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32, g []float32, s0, nq, tau float32) {
	panic("ohem: no fused kernel on arm64")
}
