package main

import (
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/blas/gonum"

	"github.com/ohem-go/ohem"
)

// blas has the vector operations (axpy, dot, scal) the model is written with; gonum's float32
// versions are SIMD assembly on amd64.
var blas gonum.Implementation

// MLP is a perceptron with one hidden layer:
//
//	h      = relu(b1 + Σ_k x_k·W1[k])   (W1[k] is row k of W1: what input k adds to the hidden layer)
//	logits = b2 + W2·h                   (W2[c] is row c of W2)
//
// All parameters live in one slice, P, so that a gradient or an optimiser's state is one slice of the
// same length too; W1, B1, W2 and B2 are views into it.
type MLP struct {
	In, Hidden, Out int
	P               []float32
	W1, B1, W2, B2  []float32 // [In][Hidden], [Hidden], [Out][Hidden], [Out]
}

// NewMLP returns a network with zero parameters.
func NewMLP(in, hidden, out int) *MLP {
	m := &MLP{In: in, Hidden: hidden, Out: out}
	m.P = make([]float32, in*hidden+hidden+out*hidden+out)
	p := m.P
	m.W1, p = p[:in*hidden], p[in*hidden:]
	m.B1, p = p[:hidden], p[hidden:]
	m.W2, p = p[:out*hidden], p[out*hidden:]
	m.B2 = p
	return m
}

// Init draws the weights He-normal (W1, for the ReLU after it) and Glorot-normal (W2); biases are 0.
func (m *MLP) Init(rng *rand.Rand) {
	clear(m.P)
	s1 := math.Sqrt(2 / float64(m.In))
	for i := range m.W1 {
		m.W1[i] = float32(rng.NormFloat64() * s1)
	}
	s2 := math.Sqrt(2 / float64(m.Hidden+m.Out))
	for i := range m.W2 {
		m.W2[i] = float32(rng.NormFloat64() * s2)
	}
}

// Forward computes the hidden activations h ([n][Hidden]) and the logits ([n][Out]) of images
// rows[0..n-1] of set.
func (m *MLP) Forward(h, logits []float32, set *Set, rows []int32) {
	H, C := m.Hidden, m.Out
	for r, i := range rows {
		hr := h[r*H : (r+1)*H]
		copy(hr, m.B1)
		idx, val := set.Image(int(i))
		for n, k := range idx { // only the image's nonzero pixels contribute
			blas.Saxpy(H, val[n], m.W1[int(k)*H:int(k+1)*H], 1, hr, 1)
		}
		for j, v := range hr {
			if v < 0 {
				hr[j] = 0
			}
		}
		for c := range C {
			logits[r*C+c] = m.B2[c] + blas.Sdot(H, m.W2[c*H:(c+1)*H], 1, hr, 1)
		}
	}
}

// Backward adds to g (a network of the same shape used as the gradient) the gradient of the loss
// through images rows[r] for every r in kept, given the loss's gradient with respect to the logits
// (grad, [n][Out]) and the activations Forward computed; dh ([Hidden]) is scratch. The rows not in
// kept must have a zero logit gradient: OHEM drops them, so they contribute nothing.
func (m *MLP) Backward(g *MLP, dh, h, grad []float32, set *Set, rows, kept []int32) {
	H, C := m.Hidden, m.Out
	for _, r := range kept {
		hr := h[int(r)*H : int(r+1)*H]
		gr := grad[int(r)*C : int(r+1)*C]
		clear(dh)
		for c, gc := range gr {
			g.B2[c] += gc
			blas.Saxpy(H, gc, hr, 1, g.W2[c*H:(c+1)*H], 1) // ∂/∂W2[c] = g_c·h
			blas.Saxpy(H, gc, m.W2[c*H:(c+1)*H], 1, dh, 1) // ∂/∂h = Σ_c g_c·W2[c]
		}
		for j, v := range hr { // through the ReLU: h = 0 where the pre-activation was <= 0
			if v == 0 {
				dh[j] = 0
			}
		}
		blas.Saxpy(H, 1, dh, 1, g.B1, 1)
		idx, val := set.Image(int(rows[r]))
		for n, k := range idx { // ∂/∂W1[k] = x_k·dh, for the nonzero x_k
			blas.Saxpy(H, val[n], dh, 1, g.W1[int(k)*H:int(k+1)*H], 1)
		}
	}
}

// Trainer trains an MLP with SGD with momentum on a loss from package ohem. Every buffer a step
// needs is allocated by NewTrainer: a step allocates nothing.
type Trainer struct {
	Net      *MLP
	Grad     *MLP // the last step's gradient
	Loss     *ohem.Loss
	Momentum float32

	batch    int
	vel      []float32 // momentum, like Net.P
	h, dh    []float32 // hidden activations [batch][Hidden], and one row's gradient
	logits   []float32 // [batch][Out]
	grad     []float32 // ∂loss/∂logits, [batch][Out]
	targets  []int32   // [batch]
	evalRows []int32   // Evaluate's chunk of images, [batch]

	// Timings of the last step: the whole step and the ForwardBackward call within it.
	StepTime, LossTime time.Duration
}

// NewTrainer returns a trainer for batches of the given size.
func NewTrainer(net *MLP, loss *ohem.Loss, batch int, momentum float32) *Trainer {
	return &Trainer{
		Net: net, Grad: NewMLP(net.In, net.Hidden, net.Out), Loss: loss, Momentum: momentum,
		batch:    batch,
		vel:      make([]float32, len(net.P)),
		h:        make([]float32, batch*net.Hidden),
		dh:       make([]float32, net.Hidden),
		logits:   make([]float32, batch*net.Out),
		grad:     make([]float32, batch*net.Out),
		targets:  make([]int32, batch),
		evalRows: make([]int32, batch),
	}
}

// Gradient computes the loss on images rows of set and its gradient with respect to every
// parameter, into t.Grad.
func (t *Trainer) Gradient(set *Set, rows []int32) (ohem.Result, error) {
	n, C := len(rows), t.Net.Out
	t.Net.Forward(t.h, t.logits, set, rows)
	for r, i := range rows {
		t.targets[r] = set.Labels[i]
	}
	start := time.Now()
	res, err := t.Loss.ForwardBackward(t.grad[:n*C], ohem.Batch{Logits: t.logits[:n*C], Targets: t.targets[:n], Classes: C})
	t.LossTime = time.Since(start)
	if err != nil {
		return res, err
	}
	clear(t.Grad.P)
	t.Net.Backward(t.Grad, t.dh, t.h, t.grad, set, rows, t.Loss.Selected())
	return res, nil
}

// Step does one SGD step with momentum on images rows of set:
// v ← μ·v + ∇, P ← P − lr·v.
func (t *Trainer) Step(set *Set, rows []int32, lr float32) (ohem.Result, error) {
	start := time.Now()
	res, err := t.Gradient(set, rows)
	if err != nil {
		return res, err
	}
	n := len(t.vel)
	blas.Sscal(n, t.Momentum, t.vel, 1)
	blas.Saxpy(n, 1, t.Grad.P, 1, t.vel, 1)
	blas.Saxpy(n, -lr, t.vel, 1, t.Net.P, 1)
	t.StepTime = time.Since(start)
	return res, nil
}

// Evaluate classifies every image of set and counts, per digit, the images and the errors.
func (t *Trainer) Evaluate(set *Set) (total, wrong [classes]int) {
	C := t.Net.Out
	for lo := 0; lo < set.Len(); lo += t.batch {
		chunk := t.evalRows[:min(t.batch, set.Len()-lo)]
		for r := range chunk {
			chunk[r] = int32(lo + r)
		}
		t.Net.Forward(t.h, t.logits, set, chunk)
		for r, i := range chunk {
			z := t.logits[r*C : (r+1)*C]
			best := 0
			for c := 1; c < C; c++ {
				if z[c] > z[best] {
					best = c
				}
			}
			l := set.Labels[i]
			total[l]++
			if int32(best) != l {
				wrong[l]++
			}
		}
	}
	return total, wrong
}
