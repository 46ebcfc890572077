//go:build !purego

package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The medium-C kernels of both amd64 tiers, along the rows (ceMedium, lseMedium) and tiled
// (ceTiled, lseTiled), called through their Go wrappers for every C each takes, and the dispatch
// (ceRows, lseRows) on both sides of every limit, with the checks of rows_by_class_test.go: every
// row count 0..70 and several groups and blocks for many C, a dense sweep of C for a few.

// mediumTiers returns the tiers (false: AVX2, true: AVX-512) this CPU runs.
func mediumTiers(t *testing.T) []bool {
	var zs []bool
	for _, ks := range archSets() {
		switch ks.name {
		case "avx2":
			zs = append(zs, false)
		case "avx512":
			zs = append(zs, true)
		}
	}
	if len(zs) == 0 {
		t.Skip("no AVX2 on this CPU")
	}
	return zs
}

func tierName(z bool) string {
	if z {
		return "avx512"
	}
	return "avx2"
}

func TestMediumKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	step := 1
	if testing.Short() {
		step = 7
	}
	for _, z := range mediumTiers(t) {
		lanes := 8
		if z {
			lanes = 16
		}
		var cs []int
		for c := lanes; c <= 260; c += step {
			cs = append(cs, c)
		}
		cs = append(cs, 300, 384, 511, 512)
		checkMediumKernel(t, r, z, false, cs)
		cs = cs[:0]
		for c := 1; c <= tiledMaxC; c += (step + 1) / 2 {
			cs = append(cs, c)
		}
		checkMediumKernel(t, r, z, true, append(cs, tiledMaxC))
	}
}

// checkMediumKernel checks the tier's medium kernels (tl: the tiled ones) for every C of cs.
func checkMediumKernel(t *testing.T, r *rand.Rand, z, tl bool, cs []int) {
	scales := []float64{1, 5, 30, 1e4, 1e30}
	lanes := 8
	if z {
		lanes = 16
	}
	kernel := tierName(z)
	if tl {
		kernel += " tiled"
	}
	var scratch [mediumScratch]float32
	ce := func(loss []float32, st stats, x []float32, tg []int32, c int, eps, fill float32) {
		rowTierOf(z).ceGroups(mediumKind(tl), loss, st, x, tg, scratch[:], c, eps, fill)
	}
	lse := func(dst, x []float32, c int) { rowTierOf(z).lseGroups(mediumKind(tl), dst, x, scratch[:], c) }
	for _, c := range cs {
		ns := []int{1 + r.IntN(lanes), lanes + r.IntN(3*lanes), 70}
		for _, full := range mediumFullN {
			if c == full {
				ns = ns[:0]
				for n := range 71 {
					ns = append(ns, n)
				}
				if !testing.Short() || c == 81 || c == 25 {
					ns = append(ns, 1000, 4099)
				}
			}
		}
		for _, n := range ns {
			scale := scales[r.IntN(len(scales))]
			x, tg, bad := medBatch(r, n, c, scale)
			where, a := (n+c)%3, (n*3+c)%16
			for _, eps := range []float32{0, 0.1} {
				what := fmt.Sprintf("%s C=%d N=%d eps=%v scale=%g place=%d@%d", kernel, c, n, eps, scale, where, a)
				checkMediumCE(t, what, ce, x, tg, bad, c, eps, where, a)
			}
			checkMediumLSE(t, fmt.Sprintf("%s lse C=%d N=%d scale=%g", kernel, c, n, scale), lse, x, n, c, (where+1)%3, a)
		}
	}
}

// TestMediumDispatch runs the sets' ceRows and lseRows (which choose the medium kernels by C) on
// both sides of the medium range's limits.
func TestMediumDispatch(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, ks := range archSets() {
		hi := mediumMaxAVX2
		if ks.name == "avx512" {
			hi = mediumMaxAVX512
		}
		tm := tiledMaxAVX2
		if ks.name == "avx512" {
			tm = tiledMaxAVX512
		}
		for _, c := range []int{1, mediumMin - 1, mediumMin, mediumMin + 1, 15, 16, smallMax, smallMax + 1, tm, tm + 1, fuseMinAVX2 - 1, fuseMinAVX2, fuseMinAVX512 - 1, fuseMinAVX512, hi - 1, hi, hi + 1} {
			for _, n := range []int{0, 1, 17, 67, 200} {
				x, tg, bad := medBatch(r, n, c, 5)
				for _, eps := range []float32{0, 0.05} {
					checkMediumCE(t, fmt.Sprintf("%s ceRows C=%d N=%d eps=%v", ks.name, c, n, eps), unchecked(ks.ceRows), x, tg, bad, c, eps, n%3, c%16)
				}
				checkMediumLSE(t, fmt.Sprintf("%s lseRows C=%d N=%d", ks.name, c, n), ks.lseRows, x, n, c, (n+1)%3, c%16)
			}
		}
	}
}

// mediumKind is the kind of the tiled (tl) or the other medium kernels.
func mediumKind(tl bool) rowKind {
	if tl {
		return kindTiled
	}
	return kindMedium
}

// TestNarrowKernels runs the narrow kernels (C = 3 and 4 without smoothing, in registers) of
// both tiers through their Go wrappers with the checks of rows_by_class_test.go (the float64
// reference, bad rows, ignored rows, guard pages), and against the tiled kernels on the same rows:
// losses and statistics equal to the bit but in bad rows (NaN losses in both), which
// asm/ce_narrow.go promises (both follow the same steps), and the same checks.
func TestNarrowKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, z := range mediumTiers(t) {
		d := rowTierOf(z)
		for c := d.narrowMin; c <= d.narrowMax; c++ {
			if d.ceKind(c, 0) != kindNarrow || d.ceKind(c, 0.1) == kindNarrow {
				t.Fatalf("%s: ceKind(%d) does not pick the narrow kernel without smoothing alone", tierName(z), c)
			}
			var scratch [mediumScratch]float32
			narrow := func(loss []float32, st stats, x []float32, tg []int32, c int, eps, fill float32) {
				d.ceGroups(kindNarrow, loss, st, x, tg, nil, c, eps, fill)
			}
			ns := make([]int, 0, 76)
			for n := range 71 {
				ns = append(ns, n)
			}
			for _, n := range append(ns, 1000, 4099) {
				scale := []float64{1, 5, 30, 1e4, 1e30}[n%5]
				x, tg, bad := medBatch(r, n, c, scale)
				what := fmt.Sprintf("%s narrow C=%d N=%d scale=%g", tierName(z), c, n, scale)
				checkMediumCE(t, what, narrow, x, tg, bad, c, 0, n%3, (n*3+c)%16)
				// the tiled kernels' losses and statistics, bit for bit
				var st [2]stats
				var loss [2][]float32
				var ch [2]check
				for k, kind := range []rowKind{kindNarrow, kindTiled} {
					st[k] = stats{make([]float32, n), make([]float32, n), make([]float32, n)}
					loss[k] = make([]float32, n)
					ch[k] = d.ceGroups(kind, loss[k], st[k], x, tg, scratch[:], c, 0, -7)
				}
				if ch[0] != ch[1] {
					t.Errorf("%s: checks %v, the tiled kernel's %v", what, ch[0], ch[1])
				}
				for i := range n {
					for k, pair := range [][2][]float32{{loss[0], loss[1]}, {st[0].m, st[1].m}, {st[0].ls, st[1].ls}, {st[0].pt, st[1].pt}} {
						// a bad row's loss is NaN in both (checkMediumCE), its statistics unused
						if !bad[i] && math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
							t.Fatalf("%s: row %d: %s %g, the tiled kernel's %g (target %d)", what, i, []string{"loss", "m", "ls", "pt"}[k], pair[0][i], pair[1][i], tg[i])
						}
					}
				}
			}
		}
	}
}
