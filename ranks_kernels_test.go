package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refRanks is NegPosRatio's ranking written plainly, with branches: the reference the kernels
// (negPosRanks of every set) are checked against.
func refRanks(loss []float32, t []int32, bg int32) (rank []float32, pos int) {
	rank = make([]float32, len(loss))
	for i, v := range loss {
		if t[i] >= 0 && t[i] != bg {
			rank[i] = float32(math.NaN())
			pos++
		} else {
			rank[i] = v
		}
	}
	return rank, pos
}

// TestNegPosRanksKernels runs every set's negPosRanks on every length 0..70 and larger ones, with
// rank, loss and t each ending or starting at an unmapped page or at each offset from a 64-byte
// boundary; targets of every kind (background, positives, ignored: −1, −100, MinInt32; large
// class indices), losses of every kind (−Inf for the ignored, ±0, tiny, huge, +Inf). A positive's
// rank must be exactly the quiet NaN; every other rank the loss's bits; nothing past len(loss)
// written; the count exact.
func TestNegPosRanksKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 3))
	lens := kernelLens()
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-30, 1e-45, 3e38, float32(math.Inf(1)), 0.5, 7}
	for _, ks := range usable {
		for _, n := range lens {
			for _, bg := range []int32{0, 2, 80} {
				loss, tg := make([]float32, n), make([]int32, n)
				for i := range n {
					switch k := r.IntN(10); {
					case k < 3:
						tg[i] = bg
					case k < 4:
						tg[i] = []int32{-1, -100, math.MinInt32}[r.IntN(3)]
					default:
						tg[i] = int32(r.IntN(81))
					}
					loss[i] = float32(r.ExpFloat64())
					if r.IntN(5) == 0 {
						loss[i] = specials[r.IntN(len(specials))]
					}
					if tg[i] < 0 {
						loss[i] = float32(math.Inf(-1))
					}
				}
				want, wantPos := refRanks(loss, tg, bg)
				for place := range 3 {
					a := (n*7 + place) % 16
					lp, freeL := sigPlace(loss, place, a)
					tp, freeT := sigPlace(tg, place, (a+5)%16)
					rank := make([]float32, n)
					rp, freeR := sigPlace(rank, place, (a+11)%16)
					what := fmt.Sprintf("%s n=%d bg=%d place=%d", ks.name, n, bg, place)
					pos := ks.negPosRanks(rp, lp, tp, bg)
					if pos != wantPos {
						t.Errorf("%s: %d positives, want %d", what, pos, wantPos)
					}
					for i := range n {
						if math.Float32bits(rp[i]) != math.Float32bits(want[i]) {
							t.Errorf("%s: rank[%d] = %#x, want %#x (t=%d, loss %g)", what, i, math.Float32bits(rp[i]), math.Float32bits(want[i]), tg[i], loss[i])
							break
						}
					}
					freeL()
					freeT()
					freeR()
				}
				// A rank longer than loss: nothing past len(loss) is written.
				long := make([]float32, n+20)
				for i := range long {
					long[i] = 42
				}
				ks.negPosRanks(long, loss, tg, bg)
				for i := n; i < len(long); i++ {
					if long[i] != 42 {
						t.Fatalf("%s n=%d: rank[%d] written past len(loss)", ks.name, n, i)
					}
				}
			}
		}
	}
}

// kernelLens are the lengths the kernel tests run: every length 0..70 and larger ones.
func kernelLens() []int {
	lens := make([]int, 0, 76)
	for n := range 71 {
		lens = append(lens, n)
	}
	return append(lens, 127, 128, 129, 1000, 4099)
}

// TestSigLossRankKernels runs every set's sigLossRank and sigLossGradRank (where it has them)
// against the same set's sigLoss and sigLossGrad and the plain ranking of refRanks, with
// background 0: losses and gradients to the bit, the ranks NaN exactly for the targets 1; every
// length, every placement, in place (g = x), smoothing on and off, NaN and ±Inf logits.
func TestSigLossRankKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	fill := float32(math.Inf(-1))
	tested := 0
	for _, ks := range usable {
		if ks.sigLossRank == nil || ks.sigLossGradRank == nil {
			continue
		}
		tested++
		for _, n := range kernelLens() {
			for _, eps := range []float32{0, 0.1} {
				x, tg, _ := sigCase(r, n, true)
				s0 := float32(r.Float64() + 0.01)
				want, wantG := make([]float32, n), make([]float32, n)
				ks.sigLossGrad(want, wantG, x, tg, eps, fill, s0)
				wantRank, _ := refRanks(want, tg, 0)
				for place := range 4 {
					a := (n*5 + place) % 16
					xp, freeX := sigPlace(x, place%3, a)
					tp, freeT := sigPlace(tg, place%3, (a+3)%16)
					lp, freeL := sigPlace(make([]float32, n), place%3, (a+7)%16)
					rp, freeR := sigPlace(make([]float32, n), place%3, (a+9)%16)
					what := fmt.Sprintf("%s n=%d eps=%g place=%d", ks.name, n, eps, place)
					ks.sigLossRank(lp, rp, xp, tp, eps, fill)
					checkRanked(t, what+" sigLossRank", lp, rp, nil, want, wantRank, nil, tg)
					gp, freeG := sigPlace(make([]float32, n), place%3, (a+13)%16)
					if place == 3 {
						gp = xp // in place, last: x is overwritten
					}
					ks.sigLossGradRank(lp, rp, gp, xp, tp, eps, fill, s0)
					checkRanked(t, what+" sigLossGradRank", lp, rp, gp, want, wantRank, wantG, tg)
					freeX()
					freeT()
					freeL()
					freeR()
					freeG()
				}
			}
		}
	}
	if len(archSets()) > 0 && archSets()[0].name != "neon" && tested == 0 {
		t.Error("no amd64 set has sigLossRank and sigLossGradRank")
	}
}

// checkRanked compares losses, ranks and (when want g is not nil) gradients bit for bit.
func checkRanked(t *testing.T, what string, loss, rank, g, wantLoss, wantRank, wantG []float32, tg []int32) {
	t.Helper()
	for i := range wantLoss {
		if math.Float32bits(loss[i]) != math.Float32bits(wantLoss[i]) {
			t.Errorf("%s: loss[%d] = %g, want %g", what, i, loss[i], wantLoss[i])
			return
		}
		if math.Float32bits(rank[i]) != math.Float32bits(wantRank[i]) {
			t.Errorf("%s: rank[%d] = %#x, want %#x (t=%d)", what, i, math.Float32bits(rank[i]), math.Float32bits(wantRank[i]), tg[i])
			return
		}
		if wantG != nil && math.Float32bits(g[i]) != math.Float32bits(wantG[i]) {
			t.Errorf("%s: g[%d] = %g, want %g", what, i, g[i], wantG[i])
			return
		}
	}
}

// TestIndicesZeroBelowKernels runs every set's zeroedIndices (its indicesZeroBelow kernel, or
// indicesAtLeast then zeroBelow) against plain loops: the indices plus base of the x[i] >= v (NaN
// included) ascending, their count, g[i] zeroed exactly where x[i] < v and kept bit for bit
// elsewhere; every length 0..70 and larger, x and g at a guard page's end or start or unaligned,
// dst with room for exactly len(x) at a guard page's end, nothing written past len(x) in g.
func TestIndicesZeroBelowKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 9))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1.5}
	for _, ks := range usable {
		for _, n := range kernelLens() {
			x, g := make([]float32, n), make([]float32, n+8)
			for i := range n {
				x[i] = float32(r.IntN(7)) * 0.5
				if r.IntN(5) == 0 {
					x[i] = specials[r.IntN(len(specials))]
				}
			}
			for i := range g {
				g[i] = -float32(i) - 0.25
			}
			for _, v := range []float32{1.5, 0, float32(math.Inf(-1)), -math.MaxFloat32, float32(math.Inf(1)), 3.5} {
				wantG := slices.Clone(g)
				var wantIdx []int32
				base := int32(n * 3)
				for i, xi := range x {
					if xi < v {
						wantG[i] = 0
					} else {
						wantIdx = append(wantIdx, base+int32(i))
					}
				}
				for place := range 3 {
					what := fmt.Sprintf("%s n=%d v=%g place=%d", ks.name, n, v, place)
					a := (n + 2*place) % 16
					xp, freeX := sigPlace(x, place, a)
					gp, freeG := sigPlace(g[:n], place, (a+5)%16)
					dst, freeD := sigPlace(make([]int32, n), 0, 0)
					c := ks.zeroedIndices(dst, gp, xp, v, base)
					if c != len(wantIdx) || !slices.Equal(dst[:c], wantIdx) {
						t.Errorf("%s: %d indices %v, want %d %v", what, c, dst[:min(c, 20)], len(wantIdx), wantIdx[:min(len(wantIdx), 20)])
					}
					for i := range n {
						if math.Float32bits(gp[i]) != math.Float32bits(wantG[i]) {
							t.Errorf("%s: g[%d] = %g, want %g (x %g)", what, i, gp[i], wantG[i], x[i])
							break
						}
					}
					freeX()
					freeG()
					freeD()
				}
				gl := slices.Clone(g)
				ks.zeroedIndices(make([]int32, n), gl, x, v, base)
				if !slices.Equal(gl[:n], wantG[:n]) || !slices.Equal(gl[n:], g[n:]) {
					t.Errorf("%s n=%d v=%g: zeroedIndices wrong in g or wrote past len(x)", ks.name, n, v)
				}
			}
		}
	}
}

// TestZeroBelowAndCountTargetsKernels runs every set's zeroBelow and countTargets against plain
// loops: every length 0..70 and larger, every placement; x with NaN, ±Inf, ±0 and ties at the
// threshold; nothing written past len(x); targets of every kind.
func TestZeroBelowAndCountTargetsKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 7))
	lens := kernelLens()
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1.5}
	for _, ks := range usable {
		for _, n := range lens {
			x, g, tg := make([]float32, n), make([]float32, n+8), make([]int32, n)
			for i := range n {
				x[i] = float32(r.IntN(7)) * 0.5
				if r.IntN(5) == 0 {
					x[i] = specials[r.IntN(len(specials))]
				}
				tg[i] = []int32{-1, 0, 1, 2, 80, -100, math.MinInt32}[r.IntN(7)]
			}
			for i := range g {
				g[i] = float32(i) + 1
			}
			for _, v := range []float32{1.5, 0, float32(math.Inf(-1)), -math.MaxFloat32, float32(math.Inf(1))} {
				want := slices.Clone(g)
				for i, xi := range x {
					if xi < v {
						want[i] = 0
					}
				}
				for place := range 3 {
					a := (n + place) % 16
					xp, freeX := sigPlace(x, place, a)
					gp, freeG := sigPlace(g[:n], place, (a+6)%16)
					ks.zeroBelow(gp, xp, v)
					for i := range n {
						if math.Float32bits(gp[i]) != math.Float32bits(want[i]) {
							t.Errorf("%s n=%d v=%g place=%d: g[%d] = %g, want %g (x %g)", ks.name, n, v, place, i, gp[i], want[i], x[i])
							break
						}
					}
					freeX()
					freeG()
				}
				gl := slices.Clone(g)
				ks.zeroBelow(gl, x, v)
				if !slices.Equal(gl[n:], g[n:]) {
					t.Errorf("%s n=%d: zeroBelow wrote past len(x)", ks.name, n)
				}
			}
			for _, bg := range []int32{0, 2} {
				wv, wp := 0, 0
				for _, ti := range tg {
					if ti >= 0 {
						wv++
						if ti != bg {
							wp++
						}
					}
				}
				for place := range 3 {
					tp, free := sigPlace(tg, place, (n+place)%16)
					if v, p := ks.countTargets(tp, bg); v != wv || p != wp {
						t.Errorf("%s n=%d bg=%d place=%d: countTargets = %d, %d, want %d, %d", ks.name, n, bg, place, v, p, wv, wp)
					}
					free()
				}
			}
		}
	}
}
