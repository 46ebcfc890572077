package ref

import (
	"math"
	"math/rand/v2"
	"testing"
)

func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(1, uint64(len(t.Name()))))
}

// softplus(d) = log(1 + e^d), evaluated without overflow.
func softplus(d float64) float64 { return math.Max(d, 0) + math.Log1p(math.Exp(-math.Abs(d))) }

func relClose(got, want, rel float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

var twoClassValues = []float32{0, 1e-30, -1e-7, 1, -1, 2.5, -17, 30, -88, 100, 1e4, -1e4, 3e38, -3e38}

// With two classes, lse − z_0 = softplus(z_1 − z_0) and lse = max + log1p(e^−|d|).
func TestTwoClassClosedForm(t *testing.T) {
	for _, a := range twoClassValues {
		for _, b := range twoClassValues {
			logits := []float32{a, b}
			d := float64(b) - float64(a)
			lse := math.Max(float64(a), float64(b)) + math.Log1p(math.Exp(-math.Abs(d)))
			if got := LogSumExp(logits, 2, 0, 0); !relClose(got, lse, 1e-15) {
				t.Errorf("LogSumExp(%v, %v) = %v, want %v", a, b, got, lse)
			}
			for _, eps := range []float64{0, 0.1, 0.5, float64(float32(0.3))} {
				sp := [2]float64{softplus(d), softplus(-d)}
				for tgt := range 2 {
					want := (1-eps)*sp[tgt] + eps*(sp[0]+sp[1])/2
					got := CrossEntropy(logits, 2, 0, 0, int32(tgt), eps)
					if !relClose(got, want, 1e-14) {
						t.Errorf("CrossEntropy(%v, %v; t=%d, eps=%v) = %v, want %v", a, b, tgt, eps, got, want)
					}
				}
			}
		}
	}
}

// A confident, correct sample's loss log1p(e^−d) must keep its relative accuracy.
func TestTinyLoss(t *testing.T) {
	for _, gap := range []float64{20, 40, 80, 100} {
		logits := []float32{3, float32(3 - gap)}
		d := float64(logits[1]) - float64(logits[0])
		got := CrossEntropy(logits, 2, 0, 0, 0, 0)
		// log1p(s) = s − s²/2 + s³/3 − ..., s = e^d ≤ e^−20: the s⁴ term is below s's last bit.
		s := math.Exp(d)
		if want := s - s*s/2 + s*s*s/3; !relClose(got, want, 1e-15) || got == 0 {
			t.Errorf("gap %v: loss %v, want %v", gap, got, want)
		}
		g := Grad(logits, 2, 0, 0, 0, 0)
		// d loss/d z_0 = p_0 − 1 = −p_1 = −e^d/(1+e^d).
		if want := -math.Exp(d) / (1 + math.Exp(d)); !relClose(g[0], want, 1e-14) {
			t.Errorf("gap %v: grad %v, want %v", gap, g[0], want)
		}
	}
	// Many classes, the target far above them all: loss ≈ Σ_{j≠t} e^{z_j − z_t}.
	logits := []float32{-50, -45, 0, -60, -47.5}
	s := 0.0
	for j, v := range logits {
		if j != 2 {
			s += math.Exp(float64(v))
		}
	}
	if got := CrossEntropy(logits, 5, 0, 0, 2, 0); !relClose(got, s, 1e-14) {
		t.Errorf("loss %v, want %v", got, s)
	}
	g := Grad(logits, 5, 0, 0, 2, 0)
	if !relClose(g[2], -s, 1e-14) {
		t.Errorf("target grad %v, want %v", g[2], -s)
	}
}

// Equal logits: lse = v + log C, loss = log C (smoothed too), softmax = 1/C.
func TestUniformLogits(t *testing.T) {
	r := newRand(t)
	for _, C := range []int{1, 2, 3, 10, 1000, 65536} {
		for _, v := range []float32{0, -7.5, 3, 1e30, -1e30, 3e38} {
			logits := make([]float32, C)
			for j := range logits {
				logits[j] = v
			}
			logC := math.Log(float64(C))
			if got, want := LogSumExp(logits, C, 0, 0), float64(v)+logC; !relClose(got, want, 1e-15) {
				t.Errorf("C=%d v=%v: lse %v, want %v", C, v, got, want)
			}
			tgt := int32(r.IntN(C))
			for _, eps := range []float64{0, 0.2} {
				got := CrossEntropy(logits, C, 0, 0, tgt, eps)
				if !relClose(got, logC, 1e-14) {
					t.Errorf("C=%d v=%v eps=%v: loss %v, want log C = %v", C, v, eps, got, logC)
				}
				g := Grad(logits, C, 0, 0, tgt, eps)
				p := 1 / float64(C)
				for j, gj := range g {
					want := p - eps/float64(C)
					if j == int(tgt) {
						want = p - (1 - eps) - eps/float64(C)
					}
					if math.Abs(gj-want) > 1e-15 {
						t.Fatalf("C=%d v=%v eps=%v: grad[%d] = %v, want %v", C, v, eps, j, gj, want)
					}
				}
			}
		}
	}
}

// Away from tiny losses the textbook formula log Σ exp(z_j − m) + m − z_t is accurate.
func TestMatchesTextbook(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 2000; trial++ {
		C := 1 + r.IntN(300)
		logits := make([]float32, C)
		scale := math.Pow(10, float64(r.IntN(4)))
		for j := range logits {
			logits[j] = float32(r.NormFloat64() * scale)
		}
		tgt := r.IntN(C)
		m := math.Inf(-1)
		for _, v := range logits {
			m = math.Max(m, float64(v))
		}
		s := 0.0
		for _, v := range logits {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		want := lse - float64(logits[tgt])
		got := CrossEntropy(logits, C, 0, 0, int32(tgt), 0)
		if want > 0.5 && !relClose(got, want, 1e-13) {
			t.Fatalf("C=%d: loss %v, textbook %v", C, got, want)
		}
		if lg := LogSumExp(logits, C, 0, 0); math.Abs(lg-lse) > 1e-14*(1+math.Abs(m)+math.Abs(lse)) {
			t.Fatalf("C=%d: lse %v, textbook %v", C, lg, lse)
		}
	}
}

// −Inf logits are masked classes: with eps = 0 they are the same as absent; with eps > 0
// the loss is +Inf; a −Inf target logit always gives +Inf.
func TestMaskedClasses(t *testing.T) {
	r := newRand(t)
	inf := float32(math.Inf(-1))
	for trial := 0; trial < 500; trial++ {
		C := 2 + r.IntN(20)
		logits := make([]float32, C)
		tgt := r.IntN(C)
		var kept []float32
		newTgt := 0
		for j := range logits {
			if j != tgt && r.IntN(3) == 0 {
				logits[j] = inf
				continue
			}
			logits[j] = float32(r.NormFloat64() * 5)
			if j == tgt {
				newTgt = len(kept)
			}
			kept = append(kept, logits[j])
		}
		got := CrossEntropy(logits, C, 0, 0, int32(tgt), 0)
		want := CrossEntropy(kept, len(kept), 0, 0, int32(newTgt), 0)
		if !relClose(got, want, 1e-14) {
			t.Fatalf("masked loss %v, want %v", got, want)
		}
		if got, want := LogSumExp(logits, C, 0, 0), LogSumExp(kept, len(kept), 0, 0); !relClose(got, want, 1e-15) {
			t.Fatalf("masked lse %v, want %v", got, want)
		}
		g := Grad(logits, C, 0, 0, int32(tgt), 0)
		gk := Grad(kept, len(kept), 0, 0, int32(newTgt), 0)
		k := 0
		for j, v := range logits {
			if v == inf {
				if g[j] != 0 {
					t.Fatalf("grad of a masked class %v", g[j])
				}
				continue
			}
			if math.Abs(g[j]-gk[k]) > 1e-15 {
				t.Fatalf("masked grad %v, want %v", g[j], gk[k])
			}
			k++
		}
		if len(kept) < C && !math.IsInf(CrossEntropy(logits, C, 0, 0, int32(tgt), 0.1), 1) {
			t.Fatalf("eps > 0 with a -Inf logit: want +Inf")
		}
		if len(kept) == 1 {
			continue // a -Inf target would leave every logit -Inf: an error in the API
		}
		logits[tgt] = inf
		for _, eps := range []float64{0, 0.1} {
			if l := CrossEntropy(logits, C, 0, 0, int32(tgt), eps); !math.IsInf(l, 1) {
				t.Fatalf("-Inf target logit, eps %v: loss %v, want +Inf", eps, l)
			}
		}
	}
	all := []float32{inf, inf, inf}
	if l := LogSumExp(all, 3, 0, 0); !math.IsInf(l, -1) {
		t.Errorf("all -Inf: lse %v, want -Inf", l)
	}
}

// The gradient against central finite differences of the float64 row loss.
func TestGradFiniteDifferences(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 300; trial++ {
		C := []int{1, 2, 3, 5, 17, 64}[r.IntN(6)]
		eps := []float64{0, 0.1, 0.45}[r.IntN(3)]
		z := make([]float64, C)
		for j := range z {
			z[j] = r.NormFloat64() * 3
		}
		tgt := r.IntN(C)
		g := grad64(z, tgt, eps)
		sum := 0.0
		for j := range z {
			const h = 1e-5
			zp, zm := append([]float64(nil), z...), append([]float64(nil), z...)
			zp[j] += h
			zm[j] -= h
			fd := (ce64(zp, tgt, eps) - ce64(zm, tgt, eps)) / (zp[j] - zm[j])
			if math.Abs(fd-g[j]) > 1e-8 {
				t.Fatalf("C=%d eps=%v: grad[%d] = %v, finite difference %v", C, eps, j, g[j], fd)
			}
			sum += g[j]
		}
		if math.Abs(sum) > 1e-14*float64(C) {
			t.Fatalf("gradient sums to %v, want 0", sum)
		}
	}
}

// Shifting every logit by c leaves the loss unchanged.
func TestShiftInvariance(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 500; trial++ {
		C := 1 + r.IntN(50)
		z := make([]float64, C)
		for j := range z {
			z[j] = r.NormFloat64() * 4
		}
		tgt := r.IntN(C)
		c := []float64{-3.5, 100, 1e6}[r.IntN(3)]
		zs := make([]float64, C)
		for j := range z {
			zs[j] = z[j] + c
		}
		for _, eps := range []float64{0, 0.2} {
			a, b := ce64(z, tgt, eps), ce64(zs, tgt, eps)
			if math.Abs(a-b) > 1e-14*(1+math.Abs(c))*float64(C) {
				t.Fatalf("shift %v: %v vs %v", c, a, b)
			}
		}
	}
}
