//go:build !purego

package ohem

import "math"

// The medium-C row-major kernels (asm/ce_medium.go): a group of lanes rows at a time, along each
// row with vertical operations, the group's horizontal reductions done together by a transpose.

// The C that ceRowsAsm, lseRowsAsm and ceGradRows give the medium kernels (which take every C
// from the lanes to mediumMaxC), measured on an AMD EPYC (family 26, Zen 5), one thread, 4M logits
// per call (BenchmarkCrossover, BenchmarkClasses):
//   - mediumMin: from C = 16, the AVX-512 kernel's least, they run 3–4× the small-C kernel's rate
//     (2.5–3 Gelem/s against 0.6–0.8 on AVX-512 at C = 16 to 24, 1.7–2 against 0.5–0.7 on AVX2);
//   - mediumMax: above it the row-at-a-time kernel: on AVX-512 the medium kernels stay ahead up to
//     their 512 (CrossEntropy 5.3 against 4.1 Gelem/s at C = 512, ForwardBackward 2.7 against 1.7);
//     on AVX2, bound by its two FMA pipes, they are even at C = 512 and the fused ForwardBackward
//     of the row-at-a-time kernel is ahead there, so AVX2 stops at 384;
//   - mediumFuseMin: ForwardBackward fuses the gradient with the losses (ceGradMedium) from it on;
//     below, the separate gradient pass is faster (its rows predicted dropped cost nothing, where the
//     fused pass writes them and the driver zeroes them again), above the fused pass saves reading
//     the logits from memory a second time.
const (
	mediumMin       = 16
	mediumMaxAVX2   = 384
	mediumMaxAVX512 = 512
	mediumFuseMin   = 200
)

// medium reports whether the medium kernels of the tier (z: AVX-512) take C classes.
func medium(z bool, c int) bool {
	if z {
		return c >= mediumMin && c <= mediumMaxAVX512
	}
	return c >= mediumMin && c <= mediumMaxAVX2
}

// mediumMaxC is the largest C the kernels take.
const mediumMaxC = 512

// mediumScratch is the scratch the kernels need, in float32s; mediumBlock the most rows one call
// takes (their reductions wait in the scratch for the call's finish loop).
const (
	mediumScratch = 2112
	mediumBlock   = 256
)

// ceMedium runs the medium-C kernel on whole groups of rows, and the last rows as a group of
// their own, its targets padded with −1 (the kernel does not read the rows past n).
func ceMedium(z bool, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	var scratch [mediumScratch]float32
	ceMediumScratch(z, loss, st, x, t, scratch[:], c, eps, fill)
}

// ceMediumScratch is ceMedium with the kernels' scratch given.
func ceMediumScratch(z bool, loss []float32, st stats, x []float32, t []int32, scratch []float32, c int, eps, fill float32) {
	lanes := 8
	if z {
		lanes = 16
	}
	n := len(t) / lanes * lanes
	for lo := 0; lo < n; lo += mediumBlock {
		hi := min(lo+mediumBlock, n)
		ceMediumBlock(z, loss[lo:hi], st.slice(lo, hi), x[lo*c:hi*c], t[lo:hi], scratch, hi-lo, c, eps, fill)
	}
	if n == len(t) {
		return
	}
	var (
		tb              [16]int32
		lb, mb, lb2, pb [16]float32
	)
	r := copy(tb[:], t[n:])
	for i := r; i < lanes; i++ {
		tb[i] = -1
	}
	sb := stats{}
	if st.on() {
		sb = stats{mb[:lanes], lb2[:lanes], pb[:lanes]}
	}
	ceMediumBlock(z, lb[:lanes], sb, x[n*c:len(t)*c], tb[:lanes], scratch, r, c, eps, fill)
	copy(loss[n:], lb[:r])
	if st.on() {
		copy(st.m[n:], mb[:r])
		copy(st.ls[n:], lb2[:r])
		copy(st.pt[n:], pb[:r])
	}
}

func ceMediumBlock(z bool, loss []float32, st stats, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32) {
	if z {
		ceMediumAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, n, c, eps, fill)
	} else {
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
	for lo := 0; lo < len(t); lo += mediumFuseBlock {
		if predict && lo >= next {
			tau, next = float32(math.Log(float64(dropLimit(loss[:lo], keep)))), 2*lo
		}
		hi := min(lo+mediumFuseBlock, len(t))
		ceMediumScratch(z, loss[lo:hi], st.slice(lo, hi), x[lo*c:hi*c], t[lo:hi], scratch[:], c, eps, fill)
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
func lseMedium(z bool, dst, x []float32, c int) {
	lanes := 8
	if z {
		lanes = 16
	}
	var scratch [mediumScratch]float32
	n := len(dst) / lanes * lanes
	for lo := 0; lo < n; lo += mediumBlock {
		hi := min(lo+mediumBlock, n)
		lseMediumBlock(z, dst[lo:hi], x[lo*c:hi*c], scratch[:], hi-lo, c)
	}
	if n == len(dst) {
		return
	}
	var db [16]float32
	lseMediumBlock(z, db[:lanes], x[n*c:len(dst)*c], scratch[:], len(dst)-n, c)
	copy(dst[n:], db[:])
}

func lseMediumBlock(z bool, dst, x, scratch []float32, n, c int) {
	if z {
		lseMediumAVX512(dst, x, scratch, n, c)
	} else {
		lseMediumAVX2(dst, x, scratch, n, c)
	}
}
