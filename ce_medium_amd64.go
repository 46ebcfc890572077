//go:build !purego

package ohem

// The medium-C row-major kernels (asm/ce_medium.go): a group of lanes rows at a time, with
// vertical operations only, either along each row (the group's horizontal reductions done
// together by a transpose) or, for the smaller C, through the group's columns (lanes×lanes tiles
// transposed into a column buffer).

// The C that the driver (rows_asm.go: ceRows, lseRows, ceGradRows) gives the medium kernels (the tiled ones take
// every C from 1 to tiledMaxC, the others from the lanes to mediumMaxC), measured on an AMD EPYC (family 26, Zen 5), one thread, 4M logits
// per call (BenchmarkCrossover, BenchmarkClasses):
//   - mediumMin: the tiled kernels take any C; from C = 3 on they run 1.7–4.5× the rate of the
//     small-C kernel (which gathers each class of 8 or 16 rows): on AVX-512 1.2, 1.8, 2.6, 3.3 and
//     3.7 Gelem/s at C = 3, 5, 8, 12 and 16 against 0.7–0.8 (1.4, 2.3 and 3.1 at C = 3, 5 and 8
//     since the half tile), on AVX2 0.8, 1.1, 1.3–1.7, 1.6–1.8
//     against 0.5–0.6; the small-C kernel keeps C = 1 and C = 2 with label smoothing (C = 2
//     without has a kernel of its own), lseRows C = 1;
//   - mediumMax: above it the row-at-a-time kernel: on AVX-512 the medium kernels stay ahead up to
//     their 512 (CrossEntropy 5.3 against 4.1 Gelem/s at C = 512, ForwardBackward 2.7 against 1.7);
//     on AVX2, bound by its two FMA pipes, they are even at C = 512 and the fused ForwardBackward
//     of the row-at-a-time kernel is ahead there, so AVX2 stops at 384;
//   - fuseMinAVX2, fuseMinAVX512: ForwardBackward fuses the gradient with the losses from them on
//     (ceGradGroups: one exp per logit, the gradient written while the block is in L2); below, the
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

// The kernels' largest C (mediumMaxC, tiledMaxC), their scratch (mediumScratch) and the most rows
// one call takes (mediumBlock) are generated: ohem_sizes_amd64.go.
