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
// Go finishes every row alike on either side of the limits (finishRow).
const (
	tiledMinNEON = 3
	tiledMaxNEON = 40
)
