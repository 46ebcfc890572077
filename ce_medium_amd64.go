//go:build !purego

package ohem

import "math"

// The medium-C row-major kernels (asm/ce_medium.go): a group of lanes rows at a time, with
// vertical operations only, either along each row (the group's horizontal reductions done
// together by a transpose) or, for the smaller C, through the group's columns (lanes×lanes tiles
// transposed into a column buffer).

// The C that ceRowsAsm, lseRowsAsm and ceGradRows give the medium kernels (the tiled ones take
// every C from 1 to tiledMaxC, the others from the lanes to mediumMaxC), measured on an AMD EPYC (family 26, Zen 5), one thread, 4M logits
// per call (BenchmarkCrossover, BenchmarkClasses):
//   - mediumMin: the tiled kernels take any C; from C = 3 on they run 1.7–4.5× the rate of the
//     small-C kernel (which gathers each class of 8 or 16 rows): on AVX-512 1.2, 1.8, 2.6, 3.3 and
//     3.7 Gelem/s at C = 3, 5, 8, 12 and 16 against 0.7–0.8, on AVX2 0.8, 1.1, 1.3–1.7, 1.6–1.8
//     against 0.5–0.6; the small-C kernel keeps C = 1 and C = 2 with label smoothing (C = 2
//     without has a kernel of its own), lseRows C = 1;
//   - mediumMax: above it the row-at-a-time kernel: on AVX-512 the medium kernels stay ahead up to
//     their 512 (CrossEntropy 5.3 against 4.1 Gelem/s at C = 512, ForwardBackward 2.7 against 1.7);
//     on AVX2, bound by its two FMA pipes, they are even at C = 512 and the fused ForwardBackward
//     of the row-at-a-time kernel is ahead there, so AVX2 stops at 384;
//   - fuseMinAVX2, fuseMinAVX512: ForwardBackward fuses the gradient with the losses from them on
//     (ceGradMedium: one exp per logit, the gradient written while the block is in L2); below, the
//     losses (on the tiled kernels up to their limit) and a separate gradient pass are faster,
//     since the rows predicted dropped cost the separate pass nothing, where the fused pass writes
//     them and the driver zeroes them again. AVX-512 at C = 81: 1.75 Gelem/s separate against
//     1.59 fused, at 100: 1.78 against 1.90; AVX2 at 48: 1.18 against 1.11, at 64: 1.09 against
//     1.24. Fused, the medium kernels run ForwardBackward 25–35% faster than the row-at-a-time
//     kernel's fused pass at C = 100 to 512 (AVX2 at 256: 2.13 against 1.66 Gelem/s);
//   - tiledMax: up to it the tiled kernels: along the rows a group costs per row two walks over its
//     vectors, with a partial last one (C = 25 fills 25 of 32 lanes on AVX-512), where the tiles
//     fill every lane of the exp pass and have no per-row work. On AVX-512 they ran 15–50% faster
//     at C = 16..48 and were even at 64 (CrossEntropy; log-sum-exp +9%), slower from 81 on; on
//     AVX2, FMA-bound, up to 25% faster at C = 25..37, even at 16, 24, 32 and 48.
const (
	mediumMin       = 3
	mediumMaxAVX2   = 384
	mediumMaxAVX512 = 512
	fuseMinAVX2     = 64
	fuseMinAVX512   = 100
	tiledMaxAVX2    = 40
	tiledMaxAVX512  = 64
)

// medium reports whether the medium kernels of the tier (z: AVX-512) take C classes.
func medium(z bool, c int) bool {
	if z {
		return c >= mediumMin && c <= mediumMaxAVX512
	}
	return c >= mediumMin && c <= mediumMaxAVX2
}

// fuseMedium reports whether ForwardBackward fuses the gradient with the medium kernels' losses.
func fuseMedium(z bool, c int) bool {
	if z {
		return c >= fuseMinAVX512
	}
	return c >= fuseMinAVX2
}

// tiled reports whether C goes to the tier's tiled kernels.
func tiled(z bool, c int) bool {
	if z {
		return c <= tiledMaxAVX512
	}
	return c <= tiledMaxAVX2
}

// mediumMaxC is the largest C the kernels take, tiledMaxC the largest the tiled ones take.
const (
	mediumMaxC = 512
	tiledMaxC  = 64
)

// mediumScratch is the scratch the kernels need, in float32s; mediumBlock the most rows one call
// takes (their reductions wait in the scratch for the call's finish loop).
const (
	mediumScratch = 3456
	mediumBlock   = 256
)

// ceMedium runs the tier's medium-C kernel for C (tiled or not) on whole groups of rows, and the
// last rows as a group of their own, its targets padded with −1.
func ceMedium(z bool, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	var scratch [mediumScratch]float32
	ceMediumScratch(z, tiled(z, c), loss, st, x, t, scratch[:], c, eps, fill)
}

// ceMediumScratch is ceMedium with the kernel (tl: tiled) and its scratch given.
func ceMediumScratch(z, tl bool, loss []float32, st stats, x []float32, t []int32, scratch []float32, c int, eps, fill float32) {
	lanes := 8
	if z {
		lanes = 16
	}
	n := len(t) / lanes * lanes
	for lo := 0; lo < n; lo += mediumBlock {
		hi := min(lo+mediumBlock, n)
		ceMediumBlock(z, tl, loss[lo:hi], st.slice(lo, hi), x[lo*c:hi*c], t[lo:hi], scratch, hi-lo, c, eps, fill)
	}
	if n == len(t) {
		return
	}
	var (
		tb              [16]int32
		lb, mb, lb2, pb [16]float32
		xb              [16 * tiledMaxC]float32
	)
	r := copy(tb[:], t[n:])
	for i := r; i < lanes; i++ {
		tb[i] = -1
	}
	sb := stats{}
	if st.on() {
		sb = stats{mb[:lanes], lb2[:lanes], pb[:lanes]}
	}
	xl, nl := x[n*c:len(t)*c], r
	if tl {
		// The tiled kernels read whole groups: the last rows, then rows of zeros.
		copy(xb[:], xl)
		xl, nl = xb[:lanes*c], lanes
	}
	ceMediumBlock(z, tl, lb[:lanes], sb, xl, tb[:lanes], scratch, nl, c, eps, fill)
	copy(loss[n:], lb[:r])
	if st.on() {
		copy(st.m[n:], mb[:r])
		copy(st.ls[n:], lb2[:r])
		copy(st.pt[n:], pb[:r])
	}
}

func ceMediumBlock(z, tl bool, loss []float32, st stats, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32) {
	switch {
	case z && tl:
		ceTiledAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	case z:
		ceMediumAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	case tl:
		ceTiledAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	default:
		ceMediumAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	}
}

// mediumFuseBlock is how many rows ceGradMedium gives the kernel at a time: their gradient is
// still in L2 for the kernel's last pass over it (64 rows of 512 classes are 128 KB).
const mediumFuseBlock = 64

// ceGradMedium is ceGradRows for the C of the medium kernels (C > tiledMax): ceMediumGrad computes
// the losses and statistics as ceMedium does (so that they are ceRows's to the bit) and the
// gradient with the exps of the losses' pass; the target's element is set here from pt, exact when
// p_t is close to 1, as ceRowsLarge's glue does. Without smoothing and with keep < 1, a row whose
// loss lies below the quantile of the losses of the blocks before that dropLimit picks is
// predicted dropped, as ceRowsLarge does: its gradient is zeros, and dropped says so.
func ceGradMedium(z bool, loss []float32, st stats, g, x []float32, t []int32, dropped []bool, c int, eps, fill, s0 float32, keep float64) {
	var (
		scratch         [mediumScratch]float32
		tb              [16]int32
		lb, mb, lb2, pb [16]float32
	)
	lanes := 8
	if z {
		lanes = 16
	}
	if len(t) > 0 {
		_, _, _ = g[len(t)*c-1], x[len(t)*c-1], dropped[len(t)-1] // the kernel writes g[:len(t)*c]
	}
	predict := eps == 0 && keep < 1
	tau := float32(math.Inf(-1)) // rows with a loss below it are predicted dropped
	next := 2 * mediumFuseBlock
	q := eps / float32(c)
	nq, tq := -(s0 * q), eps-q
	call := func(loss []float32, st stats, x []float32, t []int32, n int, g []float32) {
		if z {
			ceMediumGradAVX512(loss, st.m, st.ls, st.pt, x, t, scratch[:], n, c, eps, fill, g, s0, nq, tau)
		} else {
			ceMediumGradAVX2(loss, st.m, st.ls, st.pt, x, t, scratch[:], n, c, eps, fill, g, s0, nq, tau)
		}
	}
	for lo := 0; lo < len(t); lo += mediumFuseBlock {
		if predict && lo >= next {
			tau, next = float32(math.Log(float64(dropLimit(loss[:lo], keep)))), 2*lo
		}
		hi := min(lo+mediumFuseBlock, len(t))
		n := (hi - lo) / lanes * lanes
		if n > 0 {
			call(loss[lo:lo+n], st.slice(lo, lo+n), x[lo*c:(lo+n)*c], t[lo:lo+n], n, g[lo*c:(lo+n)*c])
		}
		if r := hi - lo - n; r > 0 {
			// The last rows as a group of their own, its targets padded with −1: the kernel reads
			// and writes only the rows before r.
			k := copy(tb[:], t[lo+n:hi])
			for i := k; i < lanes; i++ {
				tb[i] = -1
			}
			call(lb[:lanes], stats{mb[:lanes], lb2[:lanes], pb[:lanes]}, x[(lo+n)*c:hi*c], tb[:lanes], r, g[(lo+n)*c:hi*c])
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

// lseMedium is lseRows for medium C, as ceMedium.
func lseMedium(z bool, dst, x []float32, c int) { lseMediumKernel(z, tiled(z, c), dst, x, c) }

// lseMediumKernel is lseMedium with the kernel given (tl: tiled).
func lseMediumKernel(z, tl bool, dst, x []float32, c int) {
	lanes := 8
	if z {
		lanes = 16
	}
	var scratch [mediumScratch]float32
	n := len(dst) / lanes * lanes
	for lo := 0; lo < n; lo += mediumBlock {
		hi := min(lo+mediumBlock, n)
		lseMediumBlock(z, tl, dst[lo:hi], x[lo*c:hi*c], scratch[:], hi-lo, c)
	}
	if n == len(dst) {
		return
	}
	var (
		db [16]float32
		xb [16 * tiledMaxC]float32
	)
	xl, nl := x[n*c:len(dst)*c], len(dst)-n
	if tl {
		copy(xb[:], xl)
		xl, nl = xb[:lanes*c], lanes
	}
	lseMediumBlock(z, tl, db[:lanes], xl, scratch[:], nl, c)
	copy(dst[n:], db[:])
}

func lseMediumBlock(z, tl bool, dst, x, scratch []float32, n, c int) {
	switch {
	case z && tl:
		lseTiledAVX512(dst, x, scratch, n, c)
	case z:
		lseMediumAVX512(dst, x, scratch, n, c)
	case tl:
		lseTiledAVX2(dst, x, scratch, n, c)
	default:
		lseMediumAVX2(dst, x, scratch, n, c)
	}
}
