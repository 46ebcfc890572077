//go:build !purego

package ohem

// The tiled NEON reductions (asm/neon_medium.go): 4 rows at a time through 4×4 tiles, for the C
// from tiledMinNEON to tiledMaxNEON; below, ceSmallNEON, above, the row-at-a-time kernels. NEON
// cannot be timed here (qemu-user), so the limits come from llvm-mca's estimates (LLVM 14) of the
// kernels' loops, in cycles per element, for a Cortex-A57 and for apple-latest (an M1-class core):
//   - ceSmallNEON, which loads each class of the 4 rows lane by lane: 13.0 and 6.2 (its max pass
//     alone 2.0 and 1.8); the tiles: 0.8 and 0.4 for the transposes, 6.2 and 2.5 for the exp pass,
//     7.0 and 2.9 in all, whatever C, so from C = 3 on (C = 1 and 2 stay with ceSmallNEON);
//   - the row-at-a-time kernel, whose cost per row is its segments around the target, their
//     tails and the row's reductions (t in the middle of the row): at C = 16, 24, 25, 37, 48 and
//     64, 9.1, 8.0, 7.3, 7.4, 6.3, 6.0 on the A57 and 4.4, 3.8, 3.5, 3.3, 2.8, 2.6 on the Apple
//     core; even with the tiles at C ≈ 40 on the one and ≈ 48 on the other, hence 40.
//
// Go finishes every row alike on either side of the limits (finishNEON).
const (
	tiledMinNEON = 3
	tiledMaxNEON = 40
)

// tiledNEON reduces rows [lo, hi) of the rows rows of x (c classes each, targets t, nil for none,
// k the spread's weight) into s, zt, neg and mx (indexed from lo; hi − lo <= rowBlock). The kernel
// reads up to 3 floats past a group's last row: the group that ends x goes through a padded copy,
// as do the last 1–3 rows (their targets −1).
func tiledNEON(s, zt, neg, mx, x []float32, t []int32, rows, lo, hi, c int, k float32) {
	var (
		col  [4 * (tiledMaxNEON + 3)]float32
		xb   [4*tiledMaxNEON + 4]float32
		tb   [4]int32
		none [rowBlock]int32
	)
	tg := func(a, b int) []int32 {
		if t != nil {
			return t[a:b]
		}
		for i := range none[:b-a] {
			none[i] = -1
		}
		return none[:b-a]
	}
	n := (hi - lo) &^ 3
	if n > 0 && lo+n == rows && c%4 != 0 {
		n -= 4 // the group that ends x
	}
	if n > 0 {
		ceTiledNEON(s[:n], zt[:n], neg[:n], mx[:n], x[lo*c:], tg(lo, lo+n), col[:], c, k)
	}
	for g := lo + n; g < hi; g += 4 {
		r := min(4, hi-g)
		copy(xb[:], x[g*c:(g+r)*c])
		clear(xb[r*c : 4*c+4])
		copy(tb[:], tg(g, g+r))
		for i := r; i < 4; i++ {
			tb[i] = -1
		}
		o := g - lo
		ceTiledNEON(s[o:o+4], zt[o:o+4], neg[o:o+4], mx[o:o+4], xb[:4*c+4], tb[:], col[:], c, k)
	}
}
