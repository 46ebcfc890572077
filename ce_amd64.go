//go:build !purego

package ohem

// The amd64 row-major tiers for the driver (rows_asm.go), and the adapters that call their
// kernels directly.

// The tiers, as the adapters know them (rowTier.id).
const (
	tierAVX2 = iota
	tierAVX512
)

// smallMax is the largest C that the across-rows kernel (gathers) would take: above it, the
// row-at-a-time kernel is faster (measured on Zen 4: the crossover lies between 24 and 32
// classes). The tiled kernels take C >= mediumMin, so it keeps C = 1 and C = 2 with smoothing.
const smallMax = 24

// The narrow kernels (asm/ce_narrow.go) take C = 3 and 4 without smoothing: CrossEntropy on Zen 5,
// 5 alternated sweep rounds against the tiled kernels, avx512 C = 3 +35%, C = 4 +36%, avx2 C = 4
// +13–18%, C = 3 +9% (0.99 → 1.08 Gelem/s, 7 rounds).
var (
	rowsAVX2 = &rowTier{id: tierAVX2, lanes: 8, pairs: true, narrowMin: 3, narrowMax: 4, smallMax: smallMax,
		tiledMin: mediumMin, tiledMax: tiledMaxAVX2, mediumMax: mediumMaxAVX2, fuseMin: fuseMinAVX2,
		finished: true, asmFinish: true}
	rowsAVX512 = &rowTier{id: tierAVX512, lanes: 16, pairs: true, narrowMin: 3, narrowMax: 4, smallMax: smallMax,
		tiledMin: mediumMin, tiledMax: tiledMaxAVX512, mediumMax: mediumMaxAVX512, fuseMin: fuseMinAVX512,
		finished: true, asmFinish: true}
)

// rowTierOf returns the tier of AVX-512 (z) or AVX2.
func rowTierOf(z bool) *rowTier {
	if z {
		return rowsAVX512
	}
	return rowsAVX2
}

// ceAVX2 and ceAVX512 install the tier's ceRows, lseRows and ceGradRows kernels in ks; fields left
// alone keep the generic implementation.
func ceAVX2(ks *kernelSet)   { installRows(ks, rowsAVX2) }
func ceAVX512(ks *kernelSet) { installRows(ks, rowsAVX512) }

func installRows(ks *kernelSet, d *rowTier) {
	ks.ceRows = d.ceRows
	ks.checksTargets = d.checksTargets
	ks.lseRows = d.lseRows
	ks.ceGradRows = d.ceGradRows
	ks.fuseRows = d.fused
}

// tailFloats is the padded copy of a last group of rows (the widest tier's rows of the tiled
// kernels' largest C; the across-rows kernels' C are smaller); smallScratch the across-rows
// kernel's scratch at smallMax; colScratch the across-rows reductions' column buffer, which amd64
// does not use (its across-rows kernels finish their rows). The kernels' own sizes (maxLanes,
// finishScratch, mediumScratch, ...) are generated: ohem_sizes_amd64.go.
const (
	tailFloats   = maxLanes * tiledMaxC
	smallScratch = (smallMax + smallScratchRows) * maxLanes
	colScratch   = 0
)

// ceGroup runs kernel k, which writes finished rows, on the n rows of x (whole groups for the
// kernels that read them), and returns its checks: the tiled and medium kernels report a target
// >= c and whether a loss may be NaN, the others leave both to the caller (checkNaN).
func (d *rowTier) ceGroup(k rowKind, loss []float32, st stats, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32) check {
	z := d.id == tierAVX512
	var tmax int32
	var nan bool
	switch {
	case k == kindPairs && z && st.on():
		tmax, nan = ce2RowsStatsAVX512(loss, st.m, st.ls, st.pt, x, t, fill)
	case k == kindPairs && z:
		tmax, nan = ce2RowsAVX512(loss, x, t, fill)
	case k == kindPairs && st.on():
		tmax, nan = ce2RowsStatsAVX2(loss, st.m, st.ls, st.pt, x, t, fill)
	case k == kindPairs:
		tmax, nan = ce2RowsAVX2(loss, x, t, fill)
	case k == kindNarrow && z && c == 3:
		tmax, nan = ceNarrow3AVX512(loss, st.m, st.ls, st.pt, x, t, fill)
	case k == kindNarrow && z:
		tmax, nan = ceNarrow4AVX512(loss, st.m, st.ls, st.pt, x, t, fill)
	case k == kindNarrow && c == 3:
		tmax, nan = ceNarrow3AVX2(loss, st.m, st.ls, st.pt, x, t, fill)
	case k == kindNarrow:
		tmax, nan = ceNarrow4AVX2(loss, st.m, st.ls, st.pt, x, t, fill)
	case k == kindSmall && z:
		ceSmallAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, c, eps, fill)
	case k == kindSmall:
		ceSmallAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, c, eps, fill)
	case k == kindTiled && z:
		tmax, nan = ceTiledAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	case k == kindTiled:
		tmax, nan = ceTiledAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	case z:
		tmax, nan = ceMediumAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	default:
		tmax, nan = ceMediumAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	}
	if k != kindPairs && k != kindNarrow && k != kindTiled && k != kindMedium {
		return checkNaN
	}
	return checks(int(tmax) >= c, nan)
}

// checksTargets is the tier's kernelSet.checksTargets: the C = 2 kernels and the tiled kernels
// up to tiledSelectMaxC classes take the target's logit by a compare with the class index, never
// by a load at it, so they may run before the targets are checked, and report one >= c.
func (d *rowTier) checksTargets(c int, eps float32) bool {
	if d.goFallback(c, eps) || d.fused(c, eps) {
		return false
	}
	k := d.ceKind(c, eps)
	return k == kindPairs || k == kindNarrow || k == kindTiled && c <= tiledSelectMaxC
}

// lseGroup is ceGroup for the log-sum-exp.
func (d *rowTier) lseGroup(k rowKind, dst, x, scratch []float32, n, c int) {
	z := d.id == tierAVX512
	switch {
	case k == kindPairs && z:
		lse2RowsAVX512(dst, x)
	case k == kindPairs:
		lse2RowsAVX2(dst, x)
	case k == kindTiled && z:
		lseTiledAVX512(dst, x, scratch, n, c)
	case k == kindTiled:
		lseTiledAVX2(dst, x, scratch, n, c)
	case z:
		lseMediumAVX512(dst, x, scratch, n, c)
	default:
		lseMediumAVX2(dst, x, scratch, n, c)
	}
}

// large runs the row-at-a-time kernel on the len(t) rows of x: per row the maximum, s, the target
// logit and (with smoothing) the spread weighted by w.
func (d *rowTier) large(red *reductions, x []float32, t []int32, c int, w, eps float32) {
	z := d.id == tierAVX512
	switch {
	case z && eps == 0:
		ceRowsLargeAVX512(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w)
	case z:
		ceRowsLargeSpreadAVX512(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w)
	case eps == 0:
		ceRowsLargeAVX2(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w)
	default:
		ceRowsLargeSpreadAVX2(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w)
	}
}

// largeGrad is large that also writes the gradient of the rows to g for the scale s0 (nq the
// spread's term −s0·ε/C; e0 the prediction's limit without smoothing, 0: none).
func (d *rowTier) largeGrad(red *reductions, x []float32, t []int32, c int, w, eps float32, g []float32, s0, nq, e0 float32) {
	z := d.id == tierAVX512
	switch {
	case z && eps == 0:
		ceRowsLargeGradAVX512(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w, g, s0, nq, e0)
	case z:
		ceRowsLargeSpreadGradAVX512(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w, g, s0, nq, 0)
	case eps == 0:
		ceRowsLargeGradAVX2(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w, g, s0, nq, e0)
	default:
		ceRowsLargeSpreadGradAVX2(red.s[:], red.zt[:], red.neg[:], red.mx[:], x, t, c, w, g, s0, nq, 0)
	}
}

// lseLarge runs the row-at-a-time log-sum-exp kernel on the n rows of x (s, mx).
func (d *rowTier) lseLarge(red *reductions, x []float32, n, c int) {
	if d.id == tierAVX512 {
		lseRowsLargeAVX512(red.s[:n], red.mx[:n], x, c)
	} else {
		lseRowsLargeAVX2(red.s[:n], red.mx[:n], x, c)
	}
}

// finish runs the tier's ceFinish kernel on whole vectors of rows (len(t) of them).
func (d *rowTier) finish(loss, m, ls, pt []float32, red *reductions, t []int32, scratch []float32, c int, eps, fill float32) {
	if d.id == tierAVX512 {
		ceFinishAVX512(loss, m, ls, pt, red.s[:], red.mx[:], red.zt[:], red.neg[:], t, scratch, c, eps, fill)
	} else {
		ceFinishAVX2(loss, m, ls, pt, red.s[:], red.mx[:], red.zt[:], red.neg[:], t, scratch, c, eps, fill)
	}
}

// mediumGrad runs the medium kernel with the gradient (ceGradGroups) on n rows.
func (d *rowTier) mediumGrad(loss []float32, st stats, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32, g []float32, s0, nq, tau float32) {
	if d.id == tierAVX512 {
		ceMediumGradAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill, g, s0, nq, tau)
	} else {
		ceMediumGradAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill, g, s0, nq, tau)
	}
}

// across: amd64 has no across-rows kernel that leaves reductions (rowTier.finished).
func (d *rowTier) across(k rowKind, red *reductions, off int, x []float32, t []int32, col []float32, c int, w float32) {
	panic("ohem: no across-rows reduction kernel on amd64")
}
