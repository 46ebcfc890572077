package ref

import (
	"math"
	"testing"
)

var sigmoidValues = []float32{0, 1e-30, -1e-7, 0.5, -0.5, 1, -1, 2.5, -17, 16.118095, -16.118095, 30, -88, 88.7, -103,
	100, -100, 1e4, -1e4, 3e38, -3e38, math.MaxFloat32, -math.MaxFloat32}

// A Sigmoid sample is the two-class softmax sample of the logits (0, z), target y: its loss and
// its gradient with respect to z agree with CrossEntropy and Grad, written independently.
func TestSigmoidIsTwoClassSoftmax(t *testing.T) {
	for _, z := range sigmoidValues {
		for _, eps := range []float64{0, 0.1, 0.5, float64(float32(0.3)), 1e-7} {
			for y := range int32(2) {
				pair := []float32{0, z}
				want := CrossEntropy(pair, 2, 0, 0, y, eps)
				if got := SigmoidCE(z, y, eps); !relClose(got, want, 1e-14) {
					t.Errorf("SigmoidCE(%v, %d, %v) = %v, two-class softmax %v", z, y, eps, got, want)
				}
				g := Grad(pair, 2, 0, 0, y, eps)[1]
				if got := SigmoidGrad(z, y, eps); !(relClose(got, g, 1e-14) || math.Abs(got-g) < 1e-16) {
					t.Errorf("SigmoidGrad(%v, %d, %v) = %v, two-class softmax %v", z, y, eps, got, g)
				}
			}
		}
		if got, want := Softplus(float64(z)), LogSumExp([]float32{0, z}, 2, 0, 0); !relClose(got, want, 1e-15) {
			t.Errorf("Softplus(%v) = %v, log(e^0 + e^z) = %v", z, got, want)
		}
	}
}

// Tiny losses keep their digits: softplus(−z) = e^−z·(1 − e^−z/2 + ...) for large z.
func TestSigmoidTiny(t *testing.T) {
	for _, z32 := range []float32{16.118095, 46.0517, 69.0776, 80, 100} {
		z := float64(z32)
		s := math.Exp(-z)
		want := s - s*s/2
		if got := SigmoidCE(float32(z), 1, 0); !relClose(got, want, 1e-6) || got == 0 {
			t.Errorf("SigmoidCE(%v, 1) = %v, want %v", z, got, want)
		}
		if got := SigmoidCE(float32(-z), 0, 0); !relClose(got, want, 1e-6) {
			t.Errorf("SigmoidCE(%v, 0) = %v, want %v", -z, got, want)
		}
		if got := SigmoidGrad(float32(z), 1, 0); !relClose(got, -s/(1+s), 1e-6) {
			t.Errorf("SigmoidGrad(%v, 1) = %v, want %v", z, got, -s/(1+s))
		}
	}
}

// The gradient against a central difference of the float64 loss.
func TestSigmoidGradFiniteDifference(t *testing.T) {
	r := newRand(t)
	for range 2000 {
		z := r.NormFloat64() * 4
		y := int32(r.IntN(2))
		eps := []float64{0, 0.1, 0.45}[r.IntN(3)]
		const h = 1e-6
		f := func(v float64) float64 {
			yp := (1-eps)*float64(y) + eps/2
			return yp*Softplus(-v) + (1-yp)*Softplus(v)
		}
		fd := (f(z+h) - f(z-h)) / (2 * h)
		if g := SigmoidGrad(float32(z), y, eps); math.Abs(g-fd) > 1e-7 {
			// z is rounded to float32 inside SigmoidGrad: compare at that point.
			zf := float64(float32(z))
			if fd = (f(zf+h) - f(zf-h)) / (2 * h); math.Abs(g-fd) > 1e-7 {
				t.Fatalf("z=%v y=%d eps=%v: grad %v, finite difference %v", z, y, eps, g, fd)
			}
		}
	}
}

func TestSigmoidLabelsAndGroups(t *testing.T) {
	// Row-major [2 rows][3 labels]; planar [2 images][3 labels][2 positions].
	for i, want := range []int{0, 1, 2, 0, 1, 2} {
		if got := SigmoidLabel(3, 0, i); got != want {
			t.Errorf("row-major label of %d = %d, want %d", i, got, want)
		}
	}
	for i, want := range []int{0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2} {
		if got := SigmoidLabel(3, 2, i); got != want {
			t.Errorf("planar label of %d = %d, want %d", i, got, want)
		}
	}
	if g := SigmoidImages(12, 3, 2, 0); g != 2 {
		t.Errorf("planar images %d, want 2", g)
	}
	// Keep 1 per image: the hardest of each image of 6 samples.
	losses := []float32{1, 5, 2, 0, 0, 3, 9, 1, 1, 1, 1, 1}
	targets := make([]int32, 12)
	sel, _ := SigmoidSelect(Config{Keep: 1, PerImage: true}, losses, targets, 3, 2, 0)
	if len(sel) != 2 || sel[0] != 1 || sel[1] != 6 {
		t.Errorf("selected %v, want [1 6]", sel)
	}
	// Weights by label, MeanValid over the valid samples' weights.
	cfg := Config{ClassWeights: []float32{1, 2, 0}, Reduction: MeanValid}
	logits := []float32{0, 0, 0, 0, 0, 0}
	tg := []int32{0, 1, 0, -1, 1, 1}
	r := SigmoidEvaluate(cfg, logits, tg, 3, 0, []int32{0, 1, 2})
	// Weights 1, 2, 0, (ignored), 2, 0; W = 5; Σ w·l over kept = 3·ln 2.
	if want := 3 * math.Ln2 / 5; !relClose(r.Loss, want, 1e-15) {
		t.Errorf("loss %v, want %v", r.Loss, want)
	}
	if want := 2.0 / 5 * -0.5; !relClose(r.Grad[1], want, 1e-15) || r.Grad[2] != 0 || r.Grad[4] != 0 {
		t.Errorf("grad %v, want grad[1] = %v, 0 at 2 and 4", r.Grad, want)
	}
}
