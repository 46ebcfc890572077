//go:build !purego

package ohem

// The medium-C row-major kernels (asm/ce_medium.go): a group of lanes rows at a time, along each
// row with vertical operations, the group's horizontal reductions done together by a transpose.

// mediumMin and mediumMax bound the C that ceRowsAsm and lseRowsAsm give the medium kernels
// (the kernels take every C from the lanes to 512). Measured on an AMD EPYC (family 26, Zen 5),
// one thread, 4M logits per call: see BenchmarkClasses and the commit that set them.
const (
	mediumMin = smallMax + 1
	mediumMax = 256
)

// mediumMaxC is the largest C the kernels take.
const mediumMaxC = 512

// mediumScratch is the scratch the kernels need, in float32s; mediumBlock the most rows one call
// takes (their reductions wait in the scratch for the call's finish loop).
const (
	mediumScratch = 2112
	mediumBlock   = 256
)

// mediumLast returns the last len(t) mod lanes rows of x (and their targets) padded to a whole
// group with rows of zeros (and targets −1): the kernels read every row of a group.
func mediumLast(xb []float32, tb []int32, x []float32, t []int32, n, c, lanes int) ([]float32, []int32) {
	r := copy(xb, x[n*c:])
	clear(xb[r : lanes*c])
	if t == nil {
		return xb[:lanes*c], nil
	}
	k := copy(tb, t[n:])
	for i := k; i < lanes; i++ {
		tb[i] = -1
	}
	return xb[:lanes*c], tb[:lanes]
}

// ceMedium runs the medium-C kernel on whole groups of rows, and the last rows through a padded
// copy whose extra rows are ignored.
func ceMedium(z bool, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	lanes := 8
	if z {
		lanes = 16
	}
	var scratch [mediumScratch]float32
	n := len(t) / lanes * lanes
	for lo := 0; lo < n; lo += mediumBlock {
		hi := min(lo+mediumBlock, n)
		ceMediumBlock(z, loss[lo:hi], st.slice(lo, hi), x[lo*c:hi*c], t[lo:hi], scratch[:], c, eps, fill)
	}
	if n == len(t) {
		return
	}
	var (
		xb              [16 * mediumMaxC]float32
		tb              [16]int32
		lb, mb, lb2, pb [16]float32
	)
	xl, tl := mediumLast(xb[:], tb[:], x, t, n, c, lanes)
	sb := stats{}
	if st.on() {
		sb = stats{mb[:lanes], lb2[:lanes], pb[:lanes]}
	}
	ceMediumBlock(z, lb[:lanes], sb, xl, tl, scratch[:], c, eps, fill)
	r := len(t) - n
	copy(loss[n:], lb[:r])
	if st.on() {
		copy(st.m[n:], mb[:r])
		copy(st.ls[n:], lb2[:r])
		copy(st.pt[n:], pb[:r])
	}
}

func ceMediumBlock(z bool, loss []float32, st stats, x []float32, t []int32, scratch []float32, c int, eps, fill float32) {
	if z {
		ceMediumAVX512(loss, st.m, st.ls, st.pt, x, t, scratch, c, eps, fill)
	} else {
		ceMediumAVX2(loss, st.m, st.ls, st.pt, x, t, scratch, c, eps, fill)
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
		lseMediumBlock(z, dst[lo:hi], x[lo*c:hi*c], scratch[:], c)
	}
	if n == len(dst) {
		return
	}
	var (
		xb [16 * mediumMaxC]float32
		db [16]float32
	)
	xl, _ := mediumLast(xb[:], nil, x[:len(dst)*c], nil, n, c, lanes)
	lseMediumBlock(z, db[:lanes], xl, scratch[:], c)
	copy(dst[n:], db[:])
}

func lseMediumBlock(z bool, dst, x, scratch []float32, c int) {
	if z {
		lseMediumAVX512(dst, x, scratch, c)
	} else {
		lseMediumAVX2(dst, x, scratch, c)
	}
}
