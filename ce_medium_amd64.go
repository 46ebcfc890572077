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
//   - mediumFuseMin: ForwardBackward fuses the gradient with the losses (ceGradMedium) from it on;
//     below, the separate gradient pass is faster (its rows predicted dropped cost nothing, where the
//     fused pass writes them and the driver zeroes them again: at C = 48 1.61 against 1.17 Gelem/s
//     on AVX-512, 1.09 against 0.91 on AVX2), the two are even at 64 and 81, and from 100 on the
//     fused pass, which saves reading the logits from memory a second time, is ahead (at C = 100
//     to 150 by 5–20%);
//   - tiledMax: up to it the tiled kernels: along the rows a group costs per row two walks over its
//     vectors, with a partial last one (C = 25 fills 25 of 32 lanes on AVX-512), where the tiles
//     fill every lane of the exp pass and have no per-row work. On AVX-512 they ran 15–50% faster
//     at C = 16..48 and were even at 64 (CrossEntropy; log-sum-exp +9%), slower from 81 on; on
//     AVX2, FMA-bound, up to 25% faster at C = 25..37, even at 16, 24, 32 and 48.
const (
	mediumMin       = 3
	mediumMaxAVX2   = 384
	mediumMaxAVX512 = 512
	mediumFuseMin   = 100
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
	mediumScratch = 3136
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

// mediumFuseBlock is how many rows ceGradMedium computes the losses of before it writes their
// gradient: they are then still in L2 (128 rows of 512 classes are 256 KB).
const mediumFuseBlock = 128

// ceGradMedium is ceGradRows for the C of the medium kernels: a block of rows at a time, their
// losses and statistics by ceMedium (so that the losses are ceRows's to the bit), then their
// gradient for the scale s0 by the tier's gradient kernel while the block is in cache, rather than
// in a second pass over the logits from memory. Without smoothing and with keep < 1, a row whose
// loss lies below the quantile of the losses of the blocks before that dropLimit picks is
// predicted dropped, as ceRowsLarge does: its gradient is zeros, and dropped says so.
func ceGradMedium(z bool, loss []float32, st stats, g, x []float32, t []int32, dropped []bool, c int, eps, fill, s0 float32, keep float64) {
	var (
		scratch [mediumScratch]float32
		scale   [mediumFuseBlock]float32
	)
	predict := eps == 0 && keep < 1
	tau := float32(math.Inf(-1)) // rows with a loss below it are predicted dropped
	next := mediumFuseBlock
	q := eps / float32(c)
	tl := tiled(z, c)
	for lo := 0; lo < len(t); lo += mediumFuseBlock {
		if predict && lo >= next {
			tau, next = float32(math.Log(float64(dropLimit(loss[:lo], keep)))), 2*lo
		}
		hi := min(lo+mediumFuseBlock, len(t))
		ceMediumScratch(z, tl, loss[lo:hi], st.slice(lo, hi), x[lo*c:hi*c], t[lo:hi], scratch[:], c, eps, fill)
		for i, ti := range t[lo:hi] {
			drop := ti >= 0 && loss[lo+i] < tau
			dropped[lo+i] = drop
			scale[i] = s0
			if ti < 0 || drop {
				scale[i] = 0
			}
		}
		gb, xb, sb := g[lo*c:hi*c], x[lo*c:hi*c], scale[:hi-lo]
		if z {
			gradRowsAVX512(gb, xb, t[lo:hi], st.m[lo:hi], st.ls[lo:hi], st.pt[lo:hi], sb, c, q, eps-q)
		} else {
			gradRowsAVX2(gb, xb, t[lo:hi], st.m[lo:hi], st.ls[lo:hi], st.pt[lo:hi], sb, c, q, eps-q)
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
