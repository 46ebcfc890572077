package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/ohem-go/ohem/internal/guard"
	"github.com/ohem-go/ohem/internal/ref"
)

// The Sigmoid kernels (sigLoss, sigLSE, sigGrad, sigLossGrad) of every set against the float64
// reference and the generic set: every length 0..70 and larger ones, with every buffer ending or
// starting at an unmapped page or at each offset from a 64-byte boundary, in place, with NaN, ±Inf
// and huge logits, ignored samples with garbage, zero and −0 scales.

// sigValues are logits whose losses span exactly 0 to above float32 (tiny losses of 1e-7, 1e-20,
// 1e-30, around and below the exp's underflow point, huge ones).
var sigValues = []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-7, 0.5, -0.5, 1, -1, 2.5, -17,
	16.118095, -16.118095, 46.0517, -46.0517, 69.0776, -69.0776, 80, -80, 87.3, -87.3, 87.34, -87.34, 87.35, -87.35,
	88.7, -88.7, 95, -103.3, 100, -100, 200, 1e4, -1e4, 1e30, -1e30, 3e38, -3e38, math.MaxFloat32, -math.MaxFloat32,
	math.SmallestNonzeroFloat32, -0x1p-126}

// sigCase draws n samples: logits, targets and scales. bad allows NaN and ±Inf logits in valid samples.
func sigCase(r *rand.Rand, n int, bad bool) (x []float32, t []int32, sc []float32) {
	x, t, sc = make([]float32, n), make([]int32, n), make([]float32, n)
	scale := []float64{1, 5, 30, 1e4, 1e30}[r.IntN(5)]
	for i := range n {
		switch k := r.IntN(10); {
		case k < 3:
			x[i] = sigValues[r.IntN(len(sigValues))]
		default:
			x[i] = float32(r.NormFloat64() * scale)
		}
		t[i] = int32(r.IntN(2))
		switch k := r.IntN(12); {
		case k == 0:
			t[i] = []int32{-1, -100, math.MinInt32, -2}[r.IntN(4)]
			x[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3}[r.IntN(4)]
		case k == 1 && bad:
			x[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[r.IntN(3)]
		}
		switch k := r.IntN(10); {
		case k == 0:
			sc[i] = 0
		case k == 1:
			sc[i] = float32(math.Copysign(0, -1))
		default:
			sc[i] = float32(r.Float64() + 0.01)
		}
	}
	return x, t, sc
}

// sigPlace copies x into a buffer of the given placement: 0 ending at a guard page, 1 starting
// after one, 2 ordinary memory a elements past a 64-byte boundary.
func sigPlace[T float32 | int32](x []T, place, a int) ([]T, func()) {
	var buf []T
	free := func() {}
	switch place {
	case 0:
		buf, free = guard.Make[T](len(x))
	case 1:
		buf, free = guard.MakeFront[T](len(x))
	default:
		b := make([]T, len(x)+32)
		off := ((4*a-int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64))%64 + 64) % 64 / 4
		buf = b[off : off+len(x) : off+len(x)]
	}
	copy(buf, x)
	return buf, free
}

func finite32(v float32) bool { return v-v == 0 }

func TestSigmoidKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	sets := archSets()
	lengths := counts(70, []int{127, 128, 129, 1000, 4099, 65537})
	if testing.Short() {
		lengths = counts(70, []int{129, 4099})
	}
	for _, n := range lengths {
		for _, eps := range []float32{0, 0.1, 0.9, math.SmallestNonzeroFloat32} {
			x, tg, sc := sigCase(r, n, r.IntN(3) == 0)
			const fill = -7.5
			// The reference and the generic set.
			wantL := make([]float32, n)
			genericSet.sigLoss(wantL, x, tg, eps, fill)
			wantS := make([]float32, n)
			genericSet.sigLSE(wantS, x)
			wantG := make([]float32, n)
			genericSet.sigGrad(wantG, x, tg, sc, eps)
			peak := 0.0
			refG := make([]float64, n)
			for i := range n {
				if tg[i] >= 0 && sc[i] != 0 && finite32(x[i]) {
					refG[i] = float64(sc[i]) * ref.SigmoidGrad(x[i], tg[i], float64(eps))
					peak = max(peak, math.Abs(refG[i]))
				}
			}
			checkL := func(what string, got, gen []float32) {
				t.Helper()
				for i := range n {
					switch {
					case tg[i] < 0:
						if got[i] != fill {
							t.Fatalf("%s: ignored sample %d: loss %v, want the fill %v", what, i, got[i], float32(fill))
						}
					case !finite32(x[i]):
						if got[i] == got[i] {
							t.Fatalf("%s: sample %d (z %v): loss %v, want NaN", what, i, x[i], got[i])
						}
					default:
						want := ref.SigmoidCE(x[i], tg[i], float64(eps))
						if !ref.CEWithin(got[i], want) || gen != nil && !ref.BothWithin(got[i], gen[i], ref.CETol(want)) || (got[i] == 0) != (wantL[i] == 0) {
							t.Fatalf("%s: sample %d (z %v, y %d): loss %v, want %v, generic %v", what, i, x[i], tg[i], got[i], want, wantL[i])
						}
					}
				}
			}
			checkG := func(what string, got []float32) {
				t.Helper()
				for i := range n {
					if !(tg[i] >= 0 && sc[i] != 0 && finite32(x[i])) {
						if got[i] != 0 && finite32(x[i]) || got[i] != 0 && tg[i] < 0 {
							t.Fatalf("%s: dropped sample %d: grad %v, want 0", what, i, got[i])
						}
						continue
					}
					tol := 1e-5*peak + 1e-6*math.Abs(refG[i]) + 1e-30*float64(sc[i])
					if eps != 0 {
						tol += 0x1p-22 * float64(sc[i])
					}
					if !(math.Abs(float64(got[i])-refG[i]) <= tol) {
						t.Fatalf("%s: sample %d (z %v, y %d, scale %v): grad %v, want %v", what, i, x[i], tg[i], sc[i], got[i], refG[i])
					}
				}
			}
			checkL(fmt.Sprintf("generic n=%d eps=%v", n, eps), wantL, nil)
			checkG(fmt.Sprintf("generic n=%d eps=%v", n, eps), wantG)
			for i, z := range x {
				want := ref.Softplus(float64(z))
				if finite32(z) && !(ref.LSEWithin(wantS[i], want, max(0, float64(z))) && ref.CEWithin(wantS[i], want)) || !finite32(z) && wantS[i] == wantS[i] {
					t.Fatalf("generic: softplus(%v) = %v, want %v", z, wantS[i], want)
				}
			}
			places := []int{0, 1, 2}
			if testing.Short() {
				places = []int{n % 3}
			}
			for _, ks := range sets {
				for _, p := range places {
					a := (n + int(eps*10)) % 16
					what := fmt.Sprintf("%s n=%d eps=%v place=%d@%d", ks.name, n, eps, p, a)
					xb, f1 := sigPlace(x, p, a)
					tb, f2 := sigPlace(tg, p, (a+3)%16)
					sb, f3 := sigPlace(sc, p, (a+5)%16)
					lb, f4 := sigPlace(make([]float32, n), p, (a+7)%16)
					gb, f5 := sigPlace(make([]float32, n), p, (a+9)%16)
					for i := range gb {
						gb[i] = float32(math.NaN())
					}
					ks.sigLoss(lb, xb, tb, eps, fill)
					checkL(what+" sigLoss", lb, wantL)
					loss := append([]float32(nil), lb...)
					ks.sigGrad(gb, xb, tb, sb, eps)
					checkG(what+" sigGrad", gb)
					grad := append([]float32(nil), gb...)
					ks.sigLSE(gb, xb)
					for i, z := range x {
						want := ref.Softplus(float64(z))
						if finite32(z) && !(ref.LSEWithin(gb[i], want, max(0, float64(z))) && ref.CEWithin(gb[i], want) && ref.BothWithin(gb[i], wantS[i], ref.CETol(want))) || !finite32(z) && gb[i] == gb[i] {
							t.Fatalf("%s sigLSE: softplus(%v) = %v, want %v, generic %v", what, z, gb[i], want, wantS[i])
						}
					}
					// In place: the same bits as into a separate buffer.
					ks.sigGrad(xb, xb, tb, sb, eps)
					if !slicesBitsEqual(xb, grad) {
						t.Fatalf("%s: sigGrad in place differs from sigGrad into a separate buffer", what)
					}
					if ks.sigLossGrad != nil {
						// The fused kernel: the losses of sigLoss and the gradient of sigGrad with
						// every scale s0, bit for bit; in place too.
						const s0 = 0.375
						copy(xb, x)
						full := make([]float32, n)
						for i := range full {
							full[i] = s0
						}
						fb, f6 := sigPlace(full, p, a)
						ks.sigGrad(gb, xb, tb, fb, eps)
						want := append([]float32(nil), gb...)
						for i := range gb {
							gb[i], lb[i] = float32(math.NaN()), float32(math.NaN())
						}
						ks.sigLossGrad(lb, gb, xb, tb, eps, fill, s0)
						if !slicesBitsEqual(lb, loss) || !slicesBitsEqual(gb, want) {
							t.Fatalf("%s: sigLossGrad differs from sigLoss and sigGrad", what)
						}
						ks.sigLossGrad(lb, xb, xb, tb, eps, fill, s0)
						if !slicesBitsEqual(lb, loss) || !slicesBitsEqual(xb, want) {
							t.Fatalf("%s: sigLossGrad in place differs", what)
						}
						f6()
					}
					for _, f := range []func(){f1, f2, f3, f4, f5} {
						f()
					}
				}
			}
		}
	}
}

func slicesBitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestSigmoidKernelChecks: every set's Sigmoid loss kernels report what the caller would
// otherwise find with a pass over the targets and one over the output: bad exactly when some
// target is above 1 (put at every position of the short lengths, so every tail lane), nan
// whenever a NaN is written (a valid sample's NaN or ±Inf logit, or a NaN fill), and never for
// the generic set when none is; on every set, nan is false for finite logits and a finite fill
// (ignored samples' garbage logits included), where the amd64 kernels' sum of the losses stays
// finite.
func TestSigmoidKernelChecks(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 7))
	lengths := counts(40, []int{70, 129, 4099})
	type call struct {
		name string
		run  func(ks *kernelSet, out []float32, x []float32, tg []int32, fill float32) check
	}
	calls := []call{
		{"sigLoss", func(ks *kernelSet, out, x []float32, tg []int32, fill float32) check {
			return ks.sigLoss(out, x, tg, 0.1, fill)
		}},
		{"sigLossGrad", func(ks *kernelSet, out, x []float32, tg []int32, fill float32) check {
			if ks.sigLossGrad == nil {
				return ks.sigLoss(out, x, tg, 0.1, fill)
			}
			return ks.sigLossGrad(out, make([]float32, len(tg)), x, tg, 0, fill, 0.5)
		}},
		{"sigLossRank", func(ks *kernelSet, out, x []float32, tg []int32, fill float32) check {
			if ks.sigLossRank == nil {
				return ks.sigLoss(out, x, tg, 0, fill)
			}
			return ks.sigLossRank(out, make([]float32, len(tg)), x, tg, 0, fill)
		}},
		{"sigLossGradRank", func(ks *kernelSet, out, x []float32, tg []int32, fill float32) check {
			if ks.sigLossGradRank == nil {
				return ks.sigLoss(out, x, tg, 0, fill)
			}
			return ks.sigLossGradRank(out, make([]float32, len(tg)), make([]float32, len(tg)), x, tg, 0.1, fill, 2)
		}},
		{"sigLSE", func(ks *kernelSet, out, x []float32, tg []int32, fill float32) check {
			return ks.sigLSE(out, x)
		}},
	}
	hasNaN := func(v []float32) bool {
		for _, f := range v {
			if f != f {
				return true
			}
		}
		return false
	}
	for _, ks := range usable {
		for _, c := range calls {
			for _, n := range lengths {
				what := fmt.Sprintf("%s %s n=%d", ks.name, c.name, n)
				x, tg := make([]float32, n), make([]int32, n)
				clean := func() {
					for i := range n {
						x[i] = float32(r.NormFloat64() * 20)
						tg[i] = int32(r.IntN(3)) - 1 // -1, 0 or 1
						if tg[i] < 0 && r.IntN(2) == 0 {
							x[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[r.IntN(3)]
						}
					}
				}
				run := func(how string, fill float32, wantBad bool, wantNaN int) {
					t.Helper()
					xb, f1 := sigPlace(x, 0, 0)
					tb, f2 := sigPlace(tg, 1, 0)
					out, f3 := sigPlace(make([]float32, n), 0, 0)
					ch := c.run(ks, out, xb, tb, fill)
					bad, nan := ch&checkBad != 0, ch&checkNaN != 0
					written := hasNaN(out)
					switch {
					case c.name != "sigLSE" && bad != wantBad:
						t.Fatalf("%s %s: bad = %v, want %v", what, how, bad, wantBad)
					case written && !nan:
						t.Fatalf("%s %s: a NaN was written and nan = false", what, how)
					case wantNaN == 0 && nan:
						t.Fatalf("%s %s: nan = true with no NaN written", what, how)
					case wantNaN == 1 && !nan:
						t.Fatalf("%s %s: nan = false, want true", what, how)
					}
					f1()
					f2()
					f3()
				}
				clean()
				if c.name == "sigLSE" { // no targets: the ignored samples' garbage is read
					for i := range x {
						if x[i]-x[i] != 0 {
							x[i] = 1
						}
					}
				}
				run("clean", -7.5, false, 0)
				run("fill -Inf", float32(math.Inf(-1)), false, 0)
				positions := []int{}
				for p := range n {
					if n <= 40 || p%97 == 0 || p >= n-17 {
						positions = append(positions, p)
					}
				}
				for _, p := range positions {
					if c.name != "sigLSE" {
						old := tg[p]
						tg[p] = []int32{2, 3, 1 << 30, math.MaxInt32}[p%4]
						run(fmt.Sprintf("target %d at %d", tg[p], p), -7.5, true, -1)
						tg[p] = old
					}
					old, oldT := x[p], tg[p]
					x[p] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[p%3]
					if tg[p] < 0 {
						tg[p] = int32(p % 2)
					}
					run(fmt.Sprintf("logit %v at %d", x[p], p), -7.5, false, 1)
					x[p], tg[p] = old, oldT
					if c.name != "sigLSE" {
						tg[p] = -1
						run(fmt.Sprintf("NaN fill at %d", p), float32(math.NaN()), false, 1)
						tg[p] = oldT
					}
				}
			}
		}
	}
}
