//go:build !purego

package ohem

import (
	"math"
	"slices"
)

// ceAVX2 and ceAVX512 install the tier's ceRows, lseRows and ceGradRows kernels in ks; fields left
// alone keep the generic implementation.
func ceAVX2(ks *kernelSet)   { ceTier(ks, false) }
func ceAVX512(ks *kernelSet) { ceTier(ks, true) }

// ceTier installs the kernels of AVX-512 (z) or AVX2.
func ceTier(ks *kernelSet, z bool) {
	ks.ceRows = func(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
		ceRowsAsm(z, loss, st, x, t, c, eps, fill)
	}
	ks.lseRows = func(dst, x []float32, c int) { lseRowsAsm(z, dst, x, c) }
	ks.ceGradRows = func(loss []float32, st stats, g, x []float32, t []int32, dropped []bool, c int, eps, fill, s0 float32, keep float64) {
		if medium(z, c) {
			ceGradMedium(z, loss, st, g, x, t, dropped, c, eps, fill, s0, keep)
			return
		}
		ceRowsLarge(z, loss, st, x, t, c, eps, fill, rowsGrad{g, dropped, s0, keep})
	}
	ks.fuseRows = func(c int, eps float32) bool { return fuseRowsAsm(z, c, eps) }
}

// fuseRowsAsm reports the rows ceGradRows takes: those of the row-at-a-time kernel, and of the
// medium-C kernels from fuseMedium on (the losses of both are ceRows's to the bit).
func fuseRowsAsm(z bool, c int, eps float32) bool {
	return c > smallMax && (!medium(z, c) || fuseMedium(z, c)) && !tinySmoothing(eps, c)
}

// The kernels are called directly, never through func values, so that their //go:noescape lets
// the scratch arrays below stay on the stack.

// ceRowsAsm picks the kernel by C: the C = 2 kernel across rows, the medium-C kernels (groups of
// rows, tiled for the smaller C), the small-C kernel across rows (gathers) below them, or the
// row-at-a-time kernel above them.
func ceRowsAsm(z bool, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	switch {
	case tinySmoothing(eps, c):
		ceRowsGeneric(loss, st, x, t, c, eps, fill)
	case c == 2 && eps == 0:
		cePairs(z, loss, st, x, t, fill)
	case medium(z, c):
		ceMedium(z, loss, st, x, t, c, eps, fill)
	case c <= smallMax:
		ceSmall(z, loss, st, x, t, c, eps, fill)
	default:
		ceRowsLarge(z, loss, st, x, t, c, eps, fill, rowsGrad{})
	}
}

// cePairs is C = 2 without smoothing: whole vectors of rows in the kernel, the last rows through a
// padded copy whose extra rows are ignored.
func cePairs(z bool, loss []float32, st stats, x []float32, t []int32, fill float32) {
	lanes := 8
	if z {
		lanes = 16
	}
	n := len(t) / lanes * lanes
	if n > 0 {
		ce2Block(z, loss[:n], st.slice(0, n), x[:2*n], t[:n], fill)
	}
	if n == len(t) {
		return
	}
	var (
		xb              [32]float32
		tb              [16]int32
		lb, mb, lb2, pb [16]float32
	)
	copy(xb[:], x[2*n:2*len(t)])
	r := copy(tb[:], t[n:])
	for i := r; i < lanes; i++ {
		tb[i] = -1
	}
	sb := stats{}
	if st.on() {
		sb = stats{mb[:lanes], lb2[:lanes], pb[:lanes]}
	}
	ce2Block(z, lb[:lanes], sb, xb[:2*lanes], tb[:lanes], fill)
	copy(loss[n:], lb[:r])
	if st.on() {
		copy(st.m[n:], mb[:r])
		copy(st.ls[n:], lb2[:r])
		copy(st.pt[n:], pb[:r])
	}
}

// ce2Block runs the tier's C = 2 kernel on a whole number of vectors of rows.
func ce2Block(z bool, loss []float32, st stats, x []float32, t []int32, fill float32) {
	switch {
	case z && st.on():
		ce2RowsStatsAVX512(loss, st.m, st.ls, st.pt, x, t, fill)
	case z:
		ce2RowsAVX512(loss, x, t, fill)
	case st.on():
		ce2RowsStatsAVX2(loss, st.m, st.ls, st.pt, x, t, fill)
	default:
		ce2RowsAVX2(loss, x, t, fill)
	}
}

// ceRowsLarge runs the row-at-a-time kernel over blocks of rows, which leaves per row the
// maximum m, s = Σ_{j≠t} e^{z_j−m}, the target logit and (with smoothing) ε/C·Σ_j (z_j − m), and then
// ceFinish, which turns a vector of rows at a time into losses and statistics.
//
// With gr.g set (and st on) it is ceGradRows: the Grad kernels also write every row's gradient for
// the scale gr.s0, and each valid row's target element is then set from pt, as gradRows does.
// Without smoothing and with gr.keep < 1, the rows of a block whose loss lies below a quantile of
// the losses of the blocks before (dropLimit) are predicted dropped: they get zeros, and dropped
// says so.
func ceRowsLarge(z bool, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32, gr rowsGrad) {
	var (
		s, zt, neg, mx  [rowBlock]float32
		lb, mb, lb2, pb [rowBlock]float32
		tb              [rowBlock]int32
		scratch         [16 * 16]float32
	)
	lanes := 8
	if z {
		lanes = 16
	}
	k := float32(2 * float64(eps) / float64(c)) // the spread's weight per half difference
	g, s0 := gr.g, gr.s0
	q := eps / float32(c)
	tq, nq := eps-q, -(s0 * q) // the gradient's target term and spread
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
		xb := x[lo*c : hi*c]
		tf := t[lo:hi] // the targets ceFinish reads: a whole number of vectors
		if r := hi - lo; r%lanes != 0 {
			copy(tb[:], tf)
			w := (r + lanes - 1) / lanes * lanes
			for i := r; i < w; i++ {
				tb[i] = -1
			}
			tf = tb[:w]
		}
		switch {
		case g != nil:
			gb := g[lo*c : hi*c]
			switch {
			case z && eps == 0:
				ceRowsLargeGradAVX512(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k, gb, s0, nq, e0)
			case z:
				ceRowsLargeSpreadGradAVX512(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k, gb, s0, nq, 0)
			case eps == 0:
				ceRowsLargeGradAVX2(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k, gb, s0, nq, e0)
			default:
				ceRowsLargeSpreadGradAVX2(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k, gb, s0, nq, 0)
			}
		case z && eps == 0:
			ceRowsLargeAVX512(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k)
		case z:
			ceRowsLargeSpreadAVX512(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k)
		case eps == 0:
			ceRowsLargeAVX2(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k)
		default:
			ceRowsLargeSpreadAVX2(s[:], zt[:], neg[:], mx[:], xb, t[lo:hi], c, k)
		}
		w := len(tf)
		var sm, sl, sp []float32
		if st.on() {
			sm, sl, sp = mb[:w], lb2[:w], pb[:w]
		}
		if z {
			ceFinishAVX512(lb[:w], sm, sl, sp, s[:], mx[:], zt[:], neg[:], tf, scratch[:], c, eps, fill)
		} else {
			ceFinishAVX2(lb[:w], sm, sl, sp, s[:], mx[:], zt[:], neg[:], tf, scratch[:], c, eps, fill)
		}
		copy(loss[lo:hi], lb[:])
		if st.on() {
			copy(st.m[lo:hi], mb[:])
			copy(st.ls[lo:hi], lb2[:])
			copy(st.pt[lo:hi], pb[:])
		}
		if g != nil {
			// The target's element from pt = p_t − 1, exact when p_t is close to 1; the kernel
			// without smoothing flags the rows it zeroed in neg.
			for r, ti := range t[lo:hi] {
				drop := ti >= 0 && eps == 0 && neg[r] != 0
				gr.dropped[lo+r] = drop
				if ti >= 0 && !drop {
					g[(lo+r)*c+int(ti)] = s0 * (pb[r] + tq)
				}
			}
		}
	}
}

// rowsGrad is what ceRowsLarge needs to write the gradient too (ceGradRows).
type rowsGrad struct {
	g       []float32 // nil: no gradient
	dropped []bool
	s0      float32
	keep    float64 // the fraction of the valid rows that will be kept
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

// lseRowsAsm is lseRows: C = 2 across rows, the C of the medium kernels with them, every other C
// with the row-at-a-time kernel, each row finished in Go (log Σ, NaN for a row whose maximum is
// not finite).
func lseRowsAsm(z bool, dst, x []float32, c int) {
	switch {
	case c == 1:
		// log e^z = z; a non-finite logit (a row all −Inf included) is a bad row.
		for i, v := range x[:len(dst)] {
			if v-v != 0 {
				v = nan32
			}
			dst[i] = v
		}
		return
	case c == 2:
		lsePairs(z, dst, x)
		return
	case medium(z, c):
		lseMedium(z, dst, x, c)
		return
	}
	var sum, mx [rowBlock]float32
	for lo := 0; lo < len(dst); lo += rowBlock {
		hi := min(lo+rowBlock, len(dst))
		if z {
			lseRowsLargeAVX512(sum[:hi-lo], mx[:hi-lo], x[lo*c:hi*c], c)
		} else {
			lseRowsLargeAVX2(sum[:hi-lo], mx[:hi-lo], x[lo*c:hi*c], c)
		}
		for r := range hi - lo {
			m, s := mx[r], sum[r]
			if m-m != 0 { // +Inf or all −Inf (NaN logits make s NaN)
				s = nan32
			}
			dst[lo+r] = float32(float64(m) + math.Log(float64(s)))
		}
	}
}

// lsePairs is lseRows for C = 2, across rows as cePairs.
func lsePairs(z bool, dst, x []float32) {
	lanes := 8
	if z {
		lanes = 16
	}
	n := len(dst) / lanes * lanes
	if n > 0 {
		if z {
			lse2RowsAVX512(dst[:n], x[:2*n])
		} else {
			lse2RowsAVX2(dst[:n], x[:2*n])
		}
	}
	if n == len(dst) {
		return
	}
	var (
		xb [32]float32
		db [16]float32
	)
	copy(xb[:], x[2*n:2*len(dst)])
	if z {
		lse2RowsAVX512(db[:lanes], xb[:2*lanes])
	} else {
		lse2RowsAVX2(db[:lanes], xb[:2*lanes])
	}
	copy(dst[n:], db[:len(dst)-n])
}

// smallMax is the largest C that ceSmall takes: above it, the row-at-a-time kernel is faster
// (measured on Zen 4: the crossover lies between 24 and 32 classes).
const smallMax = 24

// ceSmall runs the across-rows kernel for small C on whole vectors of rows, and the last rows
// through a padded copy whose extra rows are ignored.
func ceSmall(z bool, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	lanes := 8
	if z {
		lanes = 16
	}
	var scratch [(smallMax + 16) * 16]float32
	n := len(t) / lanes * lanes
	if n > 0 {
		ceSmallBlock(z, loss[:n], st.slice(0, n), x[:n*c], t[:n], scratch[:], c, eps, fill)
	}
	if n == len(t) {
		return
	}
	var (
		xb              [smallMax * 16]float32
		tb              [16]int32
		lb, mb, lb2, pb [16]float32
	)
	copy(xb[:], x[n*c:])
	r := copy(tb[:], t[n:])
	for i := r; i < lanes; i++ {
		tb[i] = -1
	}
	sb := stats{}
	if st.on() {
		sb = stats{mb[:lanes], lb2[:lanes], pb[:lanes]}
	}
	ceSmallBlock(z, lb[:lanes], sb, xb[:lanes*c], tb[:lanes], scratch[:], c, eps, fill)
	copy(loss[n:], lb[:r])
	if st.on() {
		copy(st.m[n:], mb[:r])
		copy(st.ls[n:], lb2[:r])
		copy(st.pt[n:], pb[:r])
	}
}

func ceSmallBlock(z bool, loss []float32, st stats, x []float32, t []int32, scratch []float32, c int, eps, fill float32) {
	if z {
		ceSmallAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, c, eps, fill)
	} else {
		ceSmallAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, c, eps, fill)
	}
}
