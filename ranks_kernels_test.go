package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
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
	lens := make([]int, 0, 80)
	for n := range 71 {
		lens = append(lens, n)
	}
	lens = append(lens, 127, 128, 129, 1000, 4099)
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

// TestSigLossRankKernels runs every set's sigLossRank (where it has one) against the same set's
// sigLoss and the plain ranking of refRanks, with background 0: the losses to the bit, the ranks
// NaN exactly for the targets 1; every length 0..70 and larger, every placement, smoothing on and
// off, NaN and ±Inf logits.
func TestSigLossRankKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	lens := make([]int, 0, 80)
	for n := range 71 {
		lens = append(lens, n)
	}
	lens = append(lens, 127, 1000, 4099)
	tested := 0
	for _, ks := range usable {
		if ks.sigLossRank == nil {
			continue
		}
		tested++
		for _, n := range lens {
			for _, eps := range []float32{0, 0.1} {
				x, tg, _ := sigCase(r, n, true)
				want := make([]float32, n)
				ks.sigLoss(want, x, tg, eps, float32(math.Inf(-1)))
				wantRank, _ := refRanks(want, tg, 0)
				for place := range 3 {
					a := (n*3 + place) % 16
					xp, freeX := sigPlace(x, place, a)
					tp, freeT := sigPlace(tg, place, (a+3)%16)
					lp, freeL := sigPlace(make([]float32, n), place, (a+7)%16)
					rp, freeR := sigPlace(make([]float32, n), place, (a+9)%16)
					ks.sigLossRank(lp, rp, xp, tp, eps, float32(math.Inf(-1)))
					what := fmt.Sprintf("%s n=%d eps=%g place=%d", ks.name, n, eps, place)
					for i := range n {
						if math.Float32bits(lp[i]) != math.Float32bits(want[i]) {
							t.Errorf("%s: loss[%d] = %g, sigLoss gives %g", what, i, lp[i], want[i])
							break
						}
						if math.Float32bits(rp[i]) != math.Float32bits(wantRank[i]) {
							t.Errorf("%s: rank[%d] = %#x, want %#x (t=%d)", what, i, math.Float32bits(rp[i]), math.Float32bits(wantRank[i]), tg[i])
							break
						}
					}
					freeX()
					freeT()
					freeL()
					freeR()
				}
			}
		}
	}
	if len(archSets()) > 0 && tested == 0 && archSets()[0].name != "neon" {
		t.Error("no amd64 set has sigLossRank")
	}
}
