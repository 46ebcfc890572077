//go:build !purego

package ohem

import "math"

// ceNEON installs the NEON row-major kernels: they reduce each row (ohem_arm64.s), and Go
// finishes it with one log (finishCE, the generic code's own finish).
func ceNEON(ks *kernelSet) {
	ks.ceRows = ceRowsNEON
	ks.lseRows = lseRowsNEON
}

// smallMaxNEON is the largest C that goes across rows lane by lane (ceSmallNEON); larger C go
// through the tiles (tiledNEON, up to tiledMaxNEON) and along each row above.
const smallMaxNEON = tiledMinNEON - 1

// ceRowsNEON reduces blocks of rows, along each row (C > tiledMaxNEON), across rows through 4×4
// tiles (tiledNEON, for tiledMinNEON <= C <= tiledMaxNEON) or across rows lane by lane
// (ceSmallNEON: whole vectors of rows, the last 1–3 rows through a padded copy whose extra rows
// are ignored), and finishes each row in Go.
func ceRowsNEON(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	var (
		s, zt, neg, mx [rowBlock]float32
		xb             [4 * smallMaxNEON]float32
		tb             [4]int32
	)
	for lo := 0; lo < len(t); lo += rowBlock {
		hi := min(lo+rowBlock, len(t))
		switch n := (hi - lo) &^ 3; {
		case c >= tiledMinNEON && c <= tiledMaxNEON:
			tiledNEON(s[:], zt[:], neg[:], mx[:], x, t, len(t), lo, hi, c, 1)
		case c <= smallMaxNEON:
			ceSmallNEON(s[:n], zt[:n], neg[:n], mx[:n], x[lo*c:(lo+n)*c], t[lo:lo+n], c, 1)
			if r := hi - lo - n; r > 0 {
				copy(xb[:], x[(lo+n)*c:hi*c])
				copy(tb[:], t[lo+n:hi])
				for i := r; i < 4; i++ {
					tb[i] = -1
				}
				ceSmallNEON(s[n:n+4], zt[n:n+4], neg[n:n+4], mx[n:n+4], xb[:4*c], tb[:], c, 1)
			}
		case eps == 0:
			ceRowsLargeNEON(s[:], zt[:], neg[:], mx[:], x[lo*c:hi*c], t[lo:hi], c, 1)
		default:
			ceRowsLargeSpreadNEON(s[:], zt[:], neg[:], mx[:], x[lo*c:hi*c], t[lo:hi], c, 1)
		}
		for r, ti := range t[lo:hi] {
			i := lo + r
			if !finishNEON(loss, st, i, ti, mx[r], s[r], zt[r], neg[r], c, eps, fill) {
				ceRowsGeneric(loss[i:i+1], st.slice(i, i+1), x[i*c:(i+1)*c], t[i:i+1], c, eps, fill)
			}
		}
	}
}

// finishNEON turns sample i's reductions into its loss and statistics: ti its target, m the
// maximum, s the sum of e^{z_j−m} over j ≠ t, zt the target logit, sum = Σ_{j≠t} (z_j − m) (read
// only when eps != 0). An ignored sample (ti < 0) gets fill and zero statistics; a sample whose
// maximum is not finite (a NaN, +Inf, or all −Inf) a NaN loss. It returns false when sum
// overflowed (the logits span more than float32 can subtract), for the caller to recompute the
// sample in float64.
func finishNEON(loss []float32, st stats, i int, ti int32, m, s, zt, sum float32, c int, eps, fill float32) bool {
	if ti < 0 {
		loss[i] = fill
		st.set(i, 0, 0, 0)
		return true
	}
	if m-m != 0 {
		loss[i] = nan32
		return true
	}
	var spread float64
	if eps != 0 {
		if math.IsInf(float64(sum), 0) {
			return false
		}
		spread = -float64(sum) + (float64(m) - float64(zt)) // Σ_j (m − z_j), the target's term too
	}
	l, ls, pt := finishCE(float64(s), m, zt, spread, c, eps)
	loss[i] = l
	st.set(i, m, ls, pt)
	return true
}

// lseRowsNEON reduces each row with lseRowsLargeNEON, or for small C with tiledNEON or ceSmallNEON
// and no target (t = −1 matches no class, so s sums every class), and finishes it in Go.
func lseRowsNEON(dst, x []float32, c int) {
	var (
		sum, mx, zt, neg [rowBlock]float32
		none             [rowBlock]int32
		xb               [4 * smallMaxNEON]float32
	)
	if c <= smallMaxNEON {
		for i := range none {
			none[i] = -1
		}
	}
	for lo := 0; lo < len(dst); lo += rowBlock {
		hi := min(lo+rowBlock, len(dst))
		if c >= tiledMinNEON && c <= tiledMaxNEON {
			tiledNEON(sum[:], zt[:], neg[:], mx[:], x, nil, len(dst), lo, hi, c, 0)
		} else if c > smallMaxNEON {
			lseRowsLargeNEON(sum[:hi-lo], mx[:hi-lo], x[lo*c:hi*c], c)
		} else {
			n := (hi - lo) &^ 3
			ceSmallNEON(sum[:n], zt[:n], neg[:n], mx[:n], x[lo*c:(lo+n)*c], none[:n], c, 0)
			if hi-lo > n {
				copy(xb[:], x[(lo+n)*c:hi*c])
				ceSmallNEON(sum[n:n+4], zt[n:n+4], neg[n:n+4], mx[n:n+4], xb[:4*c], none[:4], c, 0)
			}
		}
		for r := range hi - lo {
			m, s := mx[r], sum[r]
			if m-m != 0 {
				s = nan32
			}
			dst[lo+r] = float32(float64(m) + math.Log(float64(s)))
		}
	}
}
