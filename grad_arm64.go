//go:build !purego

package ohem

// The NEON gradient tier for the driver (grad_asm.go) and its adapters (asm/neon_grad.go explains
// each kernel).

var gradTierNEON = &gradTier{id: tierNEON, acrossMax: gradSmallMaxNEON, denseFrom: 5, groups: 4, planarMin: 4}

// gradNEON installs the NEON gradient kernels.
func gradNEON(ks *kernelSet) {
	ks.gradRows = gradTierNEON.gradRows
	ks.gradPlanar = gradTierNEON.gradPlanar
}

// gradTailFloats is the padded copy of the last 1–3 rows across rows; gradPlanarBuf the planar
// kernel's buffer per position (its drop mask and target gradient).
const (
	gradTailFloats = 4 * gradSmallMaxNEON
	gradPlanarBuf  = 2
)

// gradSmallMaxNEON is the largest C that may go across rows (gradRowsSmallNEON); larger C go
// along each row (gradRowsLargeNEON). Instruction counts per element, from the loop notes of
// ohem_arm64.s plus the per-row and per-block work, every row kept: C = 3, 4 across rows by
// structure loads 7.8 and 7.4 (along rows: impossible below 4, 14.8 at 4); C = 5..10 across rows
// by the tables 9.9 to 9.5 (along rows 17.4 at C = 5 and 6, 12.4 at 7, 10.6 at 8, 12.6 at 9, 11.3
// at 10); from C = 11 on along rows is within ±15% of the tables (9.3 at 12, 7.8 at 16) and better
// for longer rows.
//
// Along rows, a dropped row costs 9 instructions and its share of a zero fill, while across rows a
// block with a kept row computes all 4; OHEM keeps few rows, and from C = 5 on gradRowsLargeNEON is
// already the faster kernel once about a quarter of the rows are dropped (at C = 8: 3.8 against 6.8
// per element with a quarter of the rows kept). So C = 5..10 go across rows only when at least 3/4
// of the rows are kept (gradDenseRows); C <= 4 always do (at C = 4 the two are even with a quarter
// of the rows kept, and across rows wins below).
const gradSmallMaxNEON = 10

// gradTabsNEON holds gradRowsSmallNEON's tables for C = 5..gradSmallMaxNEON: for each vector k < C
// of a block of 4 rows (element e = 4k + l in lane l), the TBL byte indices 4r..4r+3 of the lane's
// row r = e/C, then the lane's column e mod C as a little-endian int32. 2.4 KB in all.
var gradTabsNEON = func() (tabs [gradSmallMaxNEON + 1][]byte) {
	for c := 5; c <= gradSmallMaxNEON; c++ {
		tab := make([]byte, 32*c)
		for k := range c {
			for l := range 4 {
				e := 4*k + l
				r, j := e/c, e%c
				for b := range 4 {
					tab[32*k+4*l+b] = byte(4*r + b)
				}
				tab[32*k+16+4*l] = byte(j) // j < 256; the upper bytes stay 0
			}
		}
		tabs[c] = tab
	}
	return tabs
}()

// hasTable reports whether C goes across rows: without a table up to 4, with one from 5 on.
func (d *gradTier) hasTable(c int) bool {
	return c <= 4 || c < len(gradTabsNEON) && gradTabsNEON[c] != nil
}

// gradAcross runs gradRowsSmallNEON on whole blocks of 4 rows (the table of C; nil for C <= 4).
func (d *gradTier) gradAcross(g, x []float32, t []int32, st stats, scale []float32, c int, q, tq float32) {
	var tab []byte
	if c < len(gradTabsNEON) {
		tab = gradTabsNEON[c]
	}
	n := len(t)
	gradRowsSmallNEON(g[:n*c], x[:n*c], t, st.m[:n], st.ls[:n], st.pt[:n], scale[:n], tab, c, q, tq)
}

// gradAlong runs gradRowsLargeNEON, along each row.
func (d *gradTier) gradAlong(g, x []float32, t []int32, st stats, scale []float32, c int, q, tq float32) {
	n := len(t)
	gradRowsLargeNEON(g[:n*c], x[:n*c], t, st.m[:n], st.ls[:n], st.pt[:n], scale[:n], c, q, tq)
}

// gradPlanarKernel runs gradPlanarBlockNEON on the len(t) positions of g and x (buf: 2 floats a
// position).
func (d *gradTier) gradPlanarKernel(g, x []float32, t []int32, st stats, scale, buf []float32, c, stride int, q, tq float32) {
	gradPlanarBlockNEON(g, x, t, st.m, st.ls, st.pt, scale, buf, c, stride, q, tq)
}

// gradPairs: NEON has no C = 2 kernel (gradTier.pairs); the driver never calls it.
func (d *gradTier) gradPairs(g []float32, t []int32, pt, scale []float32, q float32) {
	panic("ohem: no C = 2 gradient kernel on arm64")
}
