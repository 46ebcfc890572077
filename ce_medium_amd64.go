//go:build !purego

package ohem

// The medium-C row-major kernels (asm/ce_medium.go): a group of lanes rows at a time, along each
// row with vertical operations, the group's horizontal reductions done together by a transpose.

// mediumMin and mediumMax bound the C that ceRowsAsm and lseRowsAsm give the medium kernels
// (every C from the lanes to 512 works). Measured on an AMD EPYC (family 26, Zen 5), one thread,
// 4M logits per call: see BenchmarkClasses and the commit that set them.
const (
	mediumMin = smallMax + 1
	mediumMax = 256
)

// mediumScratch is the scratch the kernels need, in float32s: 22 + 2·16 vectors of 16.
const mediumScratch = (22 + 2*16) * 16

// ceMedium runs the medium-C kernel on whole vectors of rows, and the last rows with targets
// padded by −1: the kernel never reads the logits of such a row.
func ceMedium(z bool, loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	lanes := 8
	if z {
		lanes = 16
	}
	var scratch [mediumScratch]float32
	n := len(t) / lanes * lanes
	if n > 0 {
		ceMediumBlock(z, loss[:n], st.slice(0, n), x[:n*c], t[:n], scratch[:], c, eps, fill)
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
	ceMediumBlock(z, lb[:lanes], sb, x[n*c:], tb[:lanes], scratch[:], c, eps, fill)
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

// lseMedium is lseRows for medium C: whole vectors of rows straight into dst, the last rows into
// a buffer of one vector (the kernel reads only the rows it is given).
func lseMedium(z bool, dst, x []float32, c int) {
	lanes := 8
	if z {
		lanes = 16
	}
	var scratch [mediumScratch]float32
	n := len(dst) / lanes * lanes
	if n > 0 {
		lseMediumBlock(z, dst[:n], x[:n*c], scratch[:], n, c)
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
