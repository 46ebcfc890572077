//go:build !purego && (amd64 || arm64)

package ohem

import (
	"math"
	"slices"
)

// The row-major driver, shared by every assembly tier: it picks a tier's kernel by C, splits the
// rows into the blocks the kernels take, runs the last rows of the across-rows kernels through
// padded copies, owns the scratch, finishes the rows whose kernel leaves reductions (with the
// tier's ceFinish kernel or in Go, finishRow) and sends to the generic code what the kernels
// cannot take (goFallback). Each tier supplies a rowTier: its limits and, through the thin
// adapters of its architecture (ce_amd64.go, ce_arm64.go), its kernels.
//
// The adapters call the kernels directly: they are //go:noescape, so the scratch the driver
// declares stays on its stack (a func value would move it to the heap on every call).

// A rowKind is one of the row-major kernels a tier may have.
type rowKind int

const (
	kindPairs  rowKind = iota // C = 2 without smoothing, across rows (finished rows)
	kindSmall                 // small C, across rows, each class of a group of rows gathered
	kindTiled                 // groups of rows through lanes×lanes tiles
	kindMedium                // groups of rows, along each row
	kindLarge                 // a row at a time (reductions: finished by the driver)
	kindOne                   // log-sum-exp of C = 1 without a kernel: the logit itself
	kindNarrow                // C = 3, 4 without smoothing, across rows, in registers (finished rows)
)

// rowTier is one tier's row-major kernels as the driver sees them.
type rowTier struct {
	id    int // the tier, as its architecture's adapters know it
	lanes int // rows per vector: the across-rows kernels take whole groups of lanes rows
	// pairs: a C = 2 kernel without smoothing (kindPairs).
	pairs bool
	// narrowMin, narrowMax: the C of the narrow kernels, without smoothing (kindNarrow; none when
	// narrowMax is 0). They give the tiled kernels' losses and statistics to the bit.
	narrowMin, narrowMax int
	// smallMax: the across-rows kernel takes C up to it, where neither the tiled nor the medium
	// kernels do.
	smallMax int
	// tiledMin, tiledMax: the C of the tiled kernels; mediumMax: the medium kernels take C from
	// tiledMax+1 to it (mediumMax <= tiledMax: none).
	tiledMin, tiledMax, mediumMax int
	// fuseMin: ceGradRows gives the medium kernels C from it on (fused reports the others).
	fuseMin int
	// finished: the across-rows kernels write losses and statistics; otherwise they leave
	// reductions, which the driver finishes as the row-at-a-time kernel's.
	finished bool
	// asmFinish: the tier's ceFinish kernel finishes the reductions, otherwise Go (finishRow).
	asmFinish bool
	// smallLSE: the across-rows kernel also reduces for the log-sum-exp (targets −1); without it
	// C = 1 is the logit itself (kindOne) and C = 2 the pairs kernel.
	smallLSE bool
	// overread: the tiled kernel reads up to that many floats past a group's last row when C is
	// not a multiple of the lanes, so the group that ends x goes through a padded copy.
	overread int
}

// ceKind picks the kernel for ceRows.
func (d *rowTier) ceKind(c int, eps float32) rowKind {
	switch {
	case d.pairs && c == 2 && eps == 0:
		return kindPairs
	case c >= d.narrowMin && c <= d.narrowMax && eps == 0:
		return kindNarrow
	case c >= d.tiledMin && c <= d.tiledMax:
		return kindTiled
	case c > d.tiledMax && c <= d.mediumMax:
		return kindMedium
	case c <= d.smallMax:
		return kindSmall
	}
	return kindLarge
}

// lseKind picks the kernel for lseRows.
func (d *rowTier) lseKind(c int) rowKind {
	if !d.smallLSE && c <= 2 {
		if c == 1 {
			return kindOne
		}
		return kindPairs
	}
	return d.ceKind(c, 1) // smoothing: never the pairs kernel
}

// leavesReductions reports whether kernel k leaves reductions for the driver to finish.
func (d *rowTier) leavesReductions(k rowKind) bool { return k == kindLarge || !d.finished }

// goFallback reports a call that goes to the generic code whole: tinySmoothing on a tier that
// finishes in assembly (the fallback rule of finish.go; finishRow reports the single rows).
func (d *rowTier) goFallback(c int, eps float32) bool { return d.asmFinish && tinySmoothing(eps, c) }

// ceRows is the tier's kernelSet.ceRows.
func (d *rowTier) ceRows(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) check {
	if d.goFallback(c, eps) {
		ceRowsGeneric(loss, st, x, t, c, eps, fill)
		return checkNaN
	}
	k := d.ceKind(c, eps)
	if d.leavesReductions(k) {
		d.ceReduced(k, loss, st, x, t, c, eps, fill, rowsGrad{})
		return checkNaN
	}
	return d.ceKernel(k, loss, st, x, t, c, eps, fill)
}

// ceKernel runs kernel k (one that writes finished rows) on every row, with the scratch it needs.
func (d *rowTier) ceKernel(k rowKind, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) check {
	switch k {
	case kindPairs, kindNarrow:
		return d.ceGroups(k, loss, st, x, t, nil, c, eps, fill)
	case kindSmall:
		var scratch [smallScratch]float32
		return d.ceGroups(k, loss, st, x, t, scratch[:], c, eps, fill)
	default:
		var scratch [mediumScratch]float32
		return d.ceGroups(k, loss, st, x, t, scratch[:], c, eps, fill)
	}
}

// maxRows is how many rows one call of kernel k may take.
func maxRows(k rowKind) int {
	if k == kindTiled || k == kindMedium {
		return mediumBlock // their reductions wait in the scratch for the call's finish loop
	}
	return math.MaxInt
}

// padsRows reports whether kernel k reads whole groups of rows, so that the last rows go through
// a copy padded with zero rows; the others take a count of rows.
func padsRows(k rowKind) bool { return k != kindMedium && k != kindLarge }

// ceGroups runs a kernel that writes finished rows on whole groups of rows, and the last rows as
// a group of their own (ceTail).
func (d *rowTier) ceGroups(k rowKind, loss []float32, st stats, x []float32, t []int32, scratch []float32, c int, eps, fill float32) check {
	n := len(t) / d.lanes * d.lanes
	step := maxRows(k)
	var ch check
	for lo := 0; lo < n; lo += step {
		hi := lo + min(step, n-lo)
		ch |= d.ceGroup(k, loss[lo:hi], st.slice(lo, hi), x[lo*c:hi*c], t[lo:hi], scratch, hi-lo, c, eps, fill)
	}
	if n < len(t) {
		ch |= d.ceTail(k, loss[n:], st.slice(n, len(t)), x[n*c:len(t)*c], t[n:], scratch, c, eps, fill)
	}
	return ch
}

// ceTail runs the last r < lanes rows as one group: targets padded with −1 (ignored rows), the
// logits padded with rows of zeros when the kernel reads whole groups, the results copied back.
func (d *rowTier) ceTail(k rowKind, loss []float32, st stats, x []float32, t []int32, scratch []float32, c int, eps, fill float32) check {
	var (
		tb              [maxLanes]int32
		lb, mb, lb2, pb [maxLanes]float32
		xb              [tailFloats]float32
	)
	lanes := d.lanes
	r := padTargets(tb[:lanes], t)
	sb := stats{}
	if st.on() {
		sb = stats{mb[:lanes], lb2[:lanes], pb[:lanes]}
	}
	xl, nl := x, r
	if padsRows(k) {
		copy(xb[:], x)
		xl, nl = xb[:lanes*c], lanes
	}
	ch := d.ceGroup(k, lb[:lanes], sb, xl, tb[:lanes], scratch, nl, c, eps, fill)
	copy(loss, lb[:r])
	if st.on() {
		copy(st.m, mb[:r])
		copy(st.ls, lb2[:r])
		copy(st.pt, pb[:r])
	}
	return ch
}

// padTargets copies t to tb and pads the rest of tb with −1; it returns len(t).
func padTargets(tb, t []int32) int {
	r := copy(tb, t)
	for i := r; i < len(tb); i++ {
		tb[i] = -1
	}
	return r
}

// reductions are the row-at-a-time and across-rows reductions of a block of rows: per row the
// maximum mx, s = Σ_{j≠t} e^{z_j−m} (every j for the log-sum-exp), the target logit zt and the
// smoothing's sum neg (its weighting the finish's; the fused kernels flag predicted drops in it).
type reductions struct{ s, zt, neg, mx [rowBlock]float32 }

// spreadWeight is the weight k the reduction kernels give the smoothing's sum: the finish
// kernel's 2ε/C, or 1 for the Go finish (Σ_{j≠t} (z_j − m)).
func (d *rowTier) spreadWeight(c int, eps float32) float32 {
	if d.asmFinish {
		return float32(2 * float64(eps) / float64(c))
	}
	return 1
}

// ceReduced runs a kernel that leaves reductions over blocks of rowBlock rows and finishes them.
// With gr.g set (and st on, the row-at-a-time kernel) it is ceGradRows: see ceGradRows.
func (d *rowTier) ceReduced(k rowKind, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32, gr rowsGrad) {
	var (
		red reductions
		fin finishBuf
	)
	w := d.spreadWeight(c, eps)
	g, s0 := gr.g, gr.s0
	predict := g != nil && eps == 0 && gr.keep < 1
	if g != nil && len(t) > 0 {
		_, _ = g[len(t)*c-1], gr.dropped[len(t)-1] // the kernels write g[:len(t)*c]
	}
	var e0 float32 // the prediction's limit: 0 predicts nothing
	next := rowBlock
	for lo := 0; lo < len(t); lo += rowBlock {
		if predict && lo >= next {
			e0, next = dropLimit(loss[:lo], gr.keep), 2*lo
		}
		hi := min(lo+rowBlock, len(t))
		switch {
		case g != nil:
			q := eps / float32(c)
			d.largeGrad(&red, x[lo*c:hi*c], t[lo:hi], c, w, eps, g[lo*c:hi*c], s0, -(s0 * q), e0)
		case k == kindLarge:
			d.large(&red, x[lo*c:hi*c], t[lo:hi], c, w, eps)
		default:
			d.acrossRows(k, &red, x[:len(t)*c], t, lo, hi, c, w)
		}
		if d.asmFinish {
			d.finishBlock(&fin, &red, loss[lo:hi], st.slice(lo, hi), t[lo:hi], c, eps, fill)
		} else {
			for r, ti := range t[lo:hi] {
				i := lo + r
				if !finishRow(loss, st, i, ti, red.mx[r], red.s[r], red.zt[r], red.neg[r], c, eps, fill) {
					ceRowsGeneric(loss[i:i+1], st.slice(i, i+1), x[i*c:(i+1)*c], t[i:i+1], c, eps, fill)
				}
			}
		}
		if g != nil {
			gradTargets(g, t, gr.dropped, fin.pt[:], &red, lo, hi, c, eps, s0)
		}
	}
}

// finishBuf is the finish kernel's output and scratch for one block.
type finishBuf struct {
	loss, m, ls, pt [rowBlock]float32
	t               [rowBlock]int32
	scratch         [finishScratch]float32
}

// finishBlock finishes a block's reductions with the tier's finish kernel, which reads whole
// vectors of rows: the targets of a partial last vector are padded with −1.
func (d *rowTier) finishBlock(f *finishBuf, red *reductions, loss []float32, st stats, t []int32, c int, eps, fill float32) {
	tf := t
	if r := len(t); r%d.lanes != 0 {
		w := (r + d.lanes - 1) / d.lanes * d.lanes
		padTargets(f.t[:w], t)
		tf = f.t[:w]
	}
	w := len(tf)
	var sm, sl, sp []float32
	if st.on() {
		sm, sl, sp = f.m[:w], f.ls[:w], f.pt[:w]
	}
	d.finish(f.loss[:w], sm, sl, sp, red, tf, f.scratch[:], c, eps, fill)
	copy(loss, f.loss[:])
	if st.on() {
		copy(st.m, f.m[:])
		copy(st.ls, f.ls[:])
		copy(st.pt, f.pt[:])
	}
}

// gradTargets sets, after a fused block, each kept valid row's target element of the gradient
// from pt = p_t − 1 (exact when p_t is close to 1) and records the rows the kernel predicted
// dropped (without smoothing it flags the rows it zeroed in neg).
func gradTargets(g []float32, t []int32, dropped []bool, pt []float32, red *reductions, lo, hi, c int, eps, s0 float32) {
	tq := eps - eps/float32(c)
	for r, ti := range t[lo:hi] {
		drop := ti >= 0 && eps == 0 && red.neg[r] != 0
		dropped[lo+r] = drop
		if ti >= 0 && !drop {
			g[(lo+r)*c+int(ti)] = s0 * (pt[r] + tq)
		}
	}
}

// acrossRows runs an across-rows reduction kernel on rows [lo, hi) of the rows of x (hi − lo <= rowBlock) into
// red: whole groups in place, the last rows (and the group that ends x, for a kernel that reads
// past a group) through a copy padded with zeros, its targets −1. t nil: no targets (the
// log-sum-exp).
func (d *rowTier) acrossRows(k rowKind, red *reductions, x []float32, t []int32, lo, hi, c int, w float32) {
	var (
		col  [colScratch]float32
		xb   [tailFloats]float32
		tb   [maxLanes]int32
		none [rowBlock]int32
	)
	lanes, rows := d.lanes, len(x)/c
	tg := func(a, b int) []int32 {
		if t != nil {
			return t[a:b]
		}
		for i := range none[:b-a] {
			none[i] = -1
		}
		return none[:b-a]
	}
	n := (hi - lo) / lanes * lanes
	if k == kindTiled && d.overread > 0 && n > 0 && lo+n == rows && c%lanes != 0 {
		n -= lanes // the group that ends x
	}
	if n > 0 {
		d.across(k, red, 0, x[lo*c:(lo+n)*c+d.over(k, lo+n, rows, c)], tg(lo, lo+n), col[:], c, w)
	}
	for g := lo + n; g < hi; g += lanes {
		r := min(lanes, hi-g)
		copy(xb[:], x[g*c:(g+r)*c])
		clear(xb[r*c : lanes*c+d.overread])
		padTargets(tb[:lanes], tg(g, g+r))
		d.across(k, red, g-lo, xb[:lanes*c+d.overread], tb[:lanes], col[:], c, w)
	}
}

// over is how many floats past row hi an across-rows kernel k may read in x (of rows rows).
func (d *rowTier) over(k rowKind, hi, rows, c int) int {
	if k != kindTiled || d.overread == 0 {
		return 0
	}
	return min(d.overread, (rows-hi)*c)
}

// lseRows is the tier's kernelSet.lseRows.
func (d *rowTier) lseRows(dst, x []float32, c int) {
	k := d.lseKind(c)
	switch {
	case k == kindOne:
		// log e^z = z; a non-finite logit (a row all −Inf included) is a bad row.
		for i, v := range x[:len(dst)] {
			if v-v != 0 {
				v = nan32
			}
			dst[i] = v
		}
	case d.leavesReductions(k):
		var red reductions
		for lo := 0; lo < len(dst); lo += rowBlock {
			hi := min(lo+rowBlock, len(dst))
			if k == kindLarge {
				d.lseLarge(&red, x[lo*c:hi*c], hi-lo, c)
			} else {
				d.acrossRows(k, &red, x[:len(dst)*c], nil, lo, hi, c, 0)
			}
			for r := range hi - lo {
				dst[lo+r] = finishLSE(red.mx[r], float64(red.s[r]))
			}
		}
	case k == kindPairs:
		d.lseGroups(k, dst, x, nil, c)
	default:
		var scratch [mediumScratch]float32
		d.lseGroups(k, dst, x, scratch[:], c)
	}
}

// lseGroups is ceGroups for the log-sum-exp.
func (d *rowTier) lseGroups(k rowKind, dst, x, scratch []float32, c int) {
	n := len(dst) / d.lanes * d.lanes
	step := maxRows(k)
	for lo := 0; lo < n; lo += step {
		hi := lo + min(step, n-lo)
		d.lseGroup(k, dst[lo:hi], x[lo*c:hi*c], scratch, hi-lo, c)
	}
	if n == len(dst) {
		return
	}
	var (
		db [maxLanes]float32
		xb [tailFloats]float32
	)
	lanes := d.lanes
	xl, nl := x[n*c:len(dst)*c], len(dst)-n
	if padsRows(k) {
		copy(xb[:], xl)
		xl, nl = xb[:lanes*c], lanes
	}
	d.lseGroup(k, db[:lanes], xl, scratch, nl, c)
	copy(dst[n:], db[:])
}

// fused reports the C and smoothing ceGradRows takes: those of the row-at-a-time kernel, and of
// the medium kernels from fuseMin on (the losses of both are ceRows's to the bit).
func (d *rowTier) fused(c int, eps float32) bool {
	k := d.ceKind(c, eps)
	return d.asmFinish && c > d.smallMax && (k == kindLarge || k == kindMedium && c >= d.fuseMin) && !d.goFallback(c, eps)
}

// ceGradRows is the tier's kernelSet.ceGradRows: ceRows that also writes every row's gradient
// for the scale s0. With the row-at-a-time kernel (ceReduced), the Grad kernels write it and each
// valid row's target element is then set from pt, as gradRows does; with the C of the medium
// kernels (tiled ones included: the fused kernel is the medium one), ceGradGroups. Without smoothing and with keep < 1, the rows whose loss lies below a quantile of
// the losses of the blocks before (dropLimit) are predicted dropped: they get zeros, and dropped
// says so.
func (d *rowTier) ceGradRows(loss []float32, st stats, g, x []float32, t []int32, dropped []bool, c int, eps, fill, s0 float32, keep float64) {
	if k := d.ceKind(c, eps); k == kindTiled || k == kindMedium {
		d.ceGradGroups(loss, st, g, x, t, dropped, c, eps, fill, s0, keep)
		return
	}
	d.ceReduced(kindLarge, loss, st, x, t, c, eps, fill, rowsGrad{g, dropped, s0, keep})
}

// rowsGrad is what ceReduced needs to write the gradient too (ceGradRows).
type rowsGrad struct {
	g       []float32 // nil: no gradient
	dropped []bool
	s0      float32
	keep    float64 // the fraction of the valid rows that will be kept
}

// mediumFuseBlock is how many rows ceGradGroups gives the kernel at a time: their gradient is
// still in L2 for the kernel's last pass over it (64 rows of 512 classes are 128 KB).
const mediumFuseBlock = 64

// ceGradGroups is ceGradRows for the medium kernels: the Grad kernel computes the losses and
// statistics as the medium kernel does (so that they are ceRows's to the bit) and the gradient
// with the exps of the losses' pass; the target's element is set here from pt, exact when p_t is
// close to 1. The last rows of a block go as a group of their own, its targets padded with −1:
// the kernel reads and writes only the rows before its count.
func (d *rowTier) ceGradGroups(loss []float32, st stats, g, x []float32, t []int32, dropped []bool, c int, eps, fill, s0 float32, keep float64) {
	var (
		scratch         [mediumScratch]float32
		tb              [maxLanes]int32
		lb, mb, lb2, pb [maxLanes]float32
	)
	lanes := d.lanes
	if len(t) > 0 {
		_, _, _ = g[len(t)*c-1], x[len(t)*c-1], dropped[len(t)-1] // the kernel writes g[:len(t)*c]
	}
	predict := eps == 0 && keep < 1
	tau := float32(math.Inf(-1)) // rows with a loss below it are predicted dropped
	next := 2 * mediumFuseBlock
	q := eps / float32(c)
	nq, tq := -(s0 * q), eps-q
	for lo := 0; lo < len(t); lo += mediumFuseBlock {
		if predict && lo >= next {
			tau, next = float32(math.Log(float64(dropLimit(loss[:lo], keep)))), 2*lo
		}
		hi := min(lo+mediumFuseBlock, len(t))
		n := (hi - lo) / lanes * lanes
		if n > 0 {
			d.mediumGrad(loss[lo:lo+n], st.slice(lo, lo+n), x[lo*c:(lo+n)*c], t[lo:lo+n], scratch[:], n, c, eps, fill, g[lo*c:(lo+n)*c], s0, nq, tau)
		}
		if r := hi - lo - n; r > 0 {
			padTargets(tb[:lanes], t[lo+n:hi])
			d.mediumGrad(lb[:lanes], stats{mb[:lanes], lb2[:lanes], pb[:lanes]}, x[(lo+n)*c:hi*c], tb[:lanes], scratch[:], r, c, eps, fill, g[(lo+n)*c:hi*c], s0, nq, tau)
			copy(loss[lo+n:hi], lb[:r])
			copy(st.m[lo+n:hi], mb[:r])
			copy(st.ls[lo+n:hi], lb2[:r])
			copy(st.pt[lo+n:hi], pb[:r])
		}
		for i := lo; i < hi; i++ {
			ti := t[i]
			drop := ti >= 0 && loss[i] < tau
			dropped[i] = drop
			if ti >= 0 && !drop {
				g[i*c+int(ti)] = s0 * (st.pt[i] + tq)
			}
		}
	}
}

// dropQuantile sets how far below the quantile 1 − keep of the losses a row must lie to be
// predicted dropped: at quantile dropQuantile·(1 − keep). A sample of 128 losses puts the 0.8 of
// it, the 24% quantile for keep = 0.7, below the 30% one with a margin of 1.6 standard errors.
const dropQuantile = 0.8

// dropLimit returns e^τ, τ the quantile dropQuantile·(1 − keep) of an evenly spaced sample of the
// finite losses of the valid rows so far (loss); 0 (predict nothing) when there are too few.
func dropLimit(loss []float32, keep float64) float32 {
	var smp [128]float32
	n := 0
	step := max(1, len(loss)/len(smp))
	for i := 0; i < len(loss) && n < len(smp); i += step {
		if v := loss[i]; v >= 0 && v <= math.MaxFloat32 {
			smp[n] = v
			n++
		}
	}
	if n < 32 {
		return 0
	}
	slices.Sort(smp[:n])
	tau := smp[int(dropQuantile*(1-keep)*float64(n))]
	return float32(math.Exp(float64(tau)))
}
