//go:build !purego

package ohem

// gradNEON installs the NEON gradient kernels (asm/neon_grad.go explains each).
func gradNEON(ks *kernelSet) {
	ks.gradRows = gradRowsNEON
	ks.gradPlanar = gradPlanarNEON
}

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

// gradDenseRows reports whether at least 3/4 of the rows are kept (t >= 0, scale != ±0). It
// stops at the first dropped row over the quarter, so a sparse selection costs a few rows.
func gradDenseRows(t []int32, scale []float32) bool {
	left := len(t) / 4 // dropped rows allowed
	for i, s := range scale[:len(t)] {
		if s == 0 || t[i] < 0 {
			if left == 0 {
				return false
			}
			left--
		}
	}
	return true
}

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

func gradRowsNEON(g, x []float32, t []int32, st stats, scale []float32, c int, eps float32) {
	n := len(t)
	if n == 0 {
		return
	}
	q := eps / float32(c)
	tq := eps - q
	if c > gradSmallMaxNEON || c > 4 && !gradDenseRows(t, scale) {
		gradRowsLargeNEON(g[:n*c], x[:n*c], t, st.m[:n], st.ls[:n], st.pt[:n], scale[:n], c, q, tq)
		return
	}
	tab := gradTabsNEON[c] // nil for C <= 4
	whole := n &^ 3
	if whole > 0 {
		gradRowsSmallNEON(g[:whole*c], x[:whole*c], t[:whole], st.m[:whole], st.ls[:whole], st.pt[:whole], scale[:whole], tab, c, q, tq)
	}
	if whole == n {
		return
	}
	// The last 1–3 rows through a block of 4 on the stack, the missing rows dropped (t = −1).
	var gb, xb [4 * gradSmallMaxNEON]float32
	var mb, lb, pb, sb [4]float32
	tb := [4]int32{-1, -1, -1, -1}
	r := n - whole
	copy(xb[:r*c], x[whole*c:n*c])
	copy(tb[:r], t[whole:])
	copy(mb[:r], st.m[whole:n])
	copy(lb[:r], st.ls[whole:n])
	copy(pb[:r], st.pt[whole:n])
	copy(sb[:r], scale[whole:n])
	gradRowsSmallNEON(gb[:4*c], xb[:4*c], tb[:], mb[:], lb[:], pb[:], sb[:], tab, c, q, tq)
	copy(g[whole*c:n*c], gb[:r*c])
}

// gradPlanarBlock is how many positions one gradPlanarBlockNEON call covers: their statistics
// (and the kernel's per-position drop masks and target gradients, 8 KB on the stack) stay in L1
// while every class plane streams past.
const gradPlanarBlock = 1024

func gradPlanarNEON(g, x []float32, t []int32, st stats, scale []float32, c, stride int, eps float32) {
	n := len(t)
	if n < 4 {
		// The kernel's last vector ends at the block's end, so it needs 4 positions.
		gradPlanarGeneric(g, x, t, st, scale, c, stride, eps)
		return
	}
	// every plane's n positions lie in g and x (the kernel cannot check)
	_, _ = g[(c-1)*stride+n-1], x[(c-1)*stride+n-1]
	q := eps / float32(c)
	if n <= 256 {
		// a small image (or the end of one): a smaller buffer to clear
		var buf [2 * 256]float32
		gradPlanarBlockNEON(g, x, t, st.m[:n], st.ls[:n], st.pt[:n], scale[:n], buf[:2*n], c, stride, q, eps-q)
		return
	}
	var buf [2 * gradPlanarBlock]float32
	for p0 := 0; p0 < n; {
		nb := min(gradPlanarBlock, n-p0)
		if rest := n - p0 - nb; rest > 0 && rest < 4 {
			nb -= 4 // leave the last block 4..7 positions
		}
		p1 := p0 + nb
		gradPlanarBlockNEON(g[p0:], x[p0:], t[p0:p1], st.m[p0:p1], st.ls[p0:p1], st.pt[p0:p1], scale[p0:p1], buf[:2*nb], c, stride, q, eps-q)
		p0 = p1
	}
}
