package ohem_test

// The contract's edges (API.md, "Accuracy" and "Aliasing and state"), on every kernel set: masked
// classes exactly 0, underflow to exactly 0 alike everywhere so that tiny losses tie alike, the
// absolute terms of the bounds, the smoothed gradient near its optimum, and the state a failed
// call leaves.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/ref"
)

var (
	negInf = float32(math.Inf(-1))
	posInf = float32(math.Inf(1))
)

// edgeClasses spans 1 to 65,536 classes, across every kernel's class-count boundaries (the C = 2
// kernel, the across-rows kernels up to 24, the medium kernels' tiles up to 40 or 64 and groups up
// to 384 or 512, the fused ForwardBackward from 64 or 100, the along-the-row kernel's vector and unroll
// widths).
var edgeClasses = []int{1, 2, 3, 4, 5, 8, 16, 17, 24, 25, 33, 41, 64, 65, 81, 100, 256, 385, 513, 1000, 4097, 65536}

// edgeLayouts gives, for C classes, a row-major and a planar batch shape of a size that crosses
// every kernel's blocks and tails but stays quick for 65,536 classes.
func edgeLayouts(c int) []batchSpec {
	n := 67
	switch {
	case c >= 4096:
		n = 3
	case c >= 256:
		n = 19
	}
	spatial, images := 37, 2
	if c >= 4096 {
		spatial, images = 3, 1
	} else if c >= 256 {
		spatial, images = 11, 2
	}
	return []batchSpec{{n: n, c: c, images: 1}, {c: c, spatial: spatial, images: images}}
}

func layoutName(s batchSpec) string {
	if s.spatial > 0 {
		return fmt.Sprintf("C=%d/planar", s.c)
	}
	return fmt.Sprintf("C=%d/rows", s.c)
}

// farBelow are logits far below a row's finite ones: e^(z − max) is below the float32 underflow
// point for each, so they behave as masked classes.
var farBelow = []float32{negInf, -1e4, -1e30, -math.MaxFloat32, -200}

// maskedBatch builds a batch in which most classes of every sample are masked: −Inf, or far below
// its few finite logits. Some samples have only their target finite (loss exactly 0, gradient
// exactly 0 everywhere), some target a far-negative class (a huge finite loss), some are ignored.
// masked[k] reports the logits that are not a target and lie more than 88 below their row's
// largest logit: their probability and gradient must be exactly 0 on every set.
func maskedBatch(r *rand.Rand, s batchSpec) (b ohem.Batch, masked []bool) {
	b = makeBatch(r, s)
	n, c := len(b.Targets), b.Classes
	masked = make([]bool, len(b.Logits))
	for i := range n {
		row := make([]float32, c)
		for j := range row {
			row[j] = farBelow[r.IntN(len(farBelow))]
		}
		finite := 1 + r.IntN(min(3, c))
		base := float32(r.NormFloat64() * 30)
		for range finite {
			row[r.IntN(c)] = base + float32(r.NormFloat64()*3)
		}
		m := negInf
		for _, v := range row {
			m = max(m, v)
		}
		t := int32(-1)
		switch kind := r.IntN(10); {
		case kind < 5 || c == 1: // a finite target
			for t < 0 || row[t] < m-20 {
				t = int32(r.IntN(c))
				if row[t] < m-20 && r.IntN(4) == 0 {
					row[t] = m - float32(r.Float64()*5)
				}
			}
		case kind < 7: // only the target finite: loss and gradient exactly 0
			t = int32(r.IntN(c))
			for j := range row {
				row[j] = farBelow[r.IntN(len(farBelow))]
			}
			row[t], m = base, base
		case kind < 9: // a far-negative, finite target: a huge loss (above float32 for −MaxFloat32)
			for j := range row {
				if row[j] != negInf && row[j] < m-88 {
					t = int32(j)
				}
			}
		}
		if t < 0 && r.IntN(2) == 0 {
			t = int32(r.IntN(c))
			for row[t] == negInf {
				row[t] = m - 1
			}
		}
		b.Targets[i] = t
		for j, v := range row {
			k := ref.Index(c, s.spatial, i, j)
			b.Logits[k] = v
			masked[k] = int32(j) != t && float64(v) < float64(m)-88
		}
	}
	return b, masked
}

// TestMaskedClassesExact checks −Inf and far-negative classes for every class count from 1 to
// 65,536, both layouts, on every kernel set: the losses within their bound, and the probability
// and gradient of every masked class exactly 0 through Forward, the separate gradient pass, the
// fused one (row-major C > 24 with Keep or KeepRatio), class weights and every reduction.
func TestMaskedClassesExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	for _, c := range edgeClasses {
		for _, spec := range edgeLayouts(c) {
			b, masked := maskedBatch(r, spec)
			n := len(b.Targets)
			weights := make([]float32, c)
			for j := range weights {
				weights[j] = []float32{0, 1, 1e30, 3}[r.IntN(4)]
			}
			wantCE := ref.Losses(b.Logits, b.Targets, c, b.Spatial, 0)
			for _, ks := range ohem.KernelSets() {
				what := layoutName(spec) + "/" + ks.Name()
				dst := make([]float32, n)
				if err := ks.CrossEntropy(dst, b); err != nil {
					t.Fatalf("%s: CrossEntropy: %v", what, err)
				}
				for i, got := range dst {
					if !ref.CEWithin(got, wantCE[i]) {
						t.Fatalf("%s: loss[%d] = %v, want %v", what, i, got, wantCE[i])
					}
				}
			}
			for _, cfg := range []ohem.Config{{}, {Keep: n*3/4 + 1}, {KeepRatio: 0.6}, {Keep: 2, PerImage: true, Reduction: ohem.Sum},
				{ClassWeights: weights, Reduction: ohem.Sum}, {ClassWeights: weights, Reduction: ohem.MeanValid, KeepRatio: 0.9}} {
				checkLoss(t, cfg, b)
				for _, ks := range ohem.KernelSets() {
					what := layoutName(spec) + "/" + ks.Name()
					cfg.Kernel = ks.Name()
					l, err := ohem.New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					grad := make([]float32, len(b.Logits))
					for k := range grad {
						grad[k] = float32(math.NaN())
					}
					if _, err := l.ForwardBackward(grad, b); err != nil {
						t.Fatalf("%s %s: %v", what, configName(cfg), err)
					}
					for k, g := range grad {
						if masked[k] && g != 0 {
							i, j := sampleClass(b, k)
							t.Fatalf("%s %s: grad of masked logit %v (sample %d, class %d, target %d) = %v, want exactly 0",
								what, configName(cfg), b.Logits[k], i, j, b.Targets[i], g)
						}
					}
				}
			}
		}
	}
}

// sampleClass inverts ref.Index: the sample and class of logit k.
func sampleClass(b ohem.Batch, k int) (i, j int) {
	if b.Spatial == 0 {
		return k / b.Classes, k % b.Classes
	}
	img, rest := k/(b.Classes*b.Spatial), k%(b.Classes*b.Spatial)
	return img*b.Spatial + rest%b.Spatial, rest / b.Spatial
}

// TestUnderflowTiesAlike builds batches whose losses are exactly 0 (every other class −Inf) or
// underflow (every other class at least 88 below the target, so the exact loss is below float32's
// normal range), mixed with tiny normal losses and ordinary ones: the first two kinds must be
// exactly 0 on every set, and every rule must then select the same samples on every set.
func TestUnderflowTiesAlike(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 2))
	for _, c := range []int{1, 2, 3, 5, 16, 24, 25, 81, 1000} {
		for _, spec := range edgeLayouts(c) {
			b := makeBatch(r, spec)
			n := len(b.Targets)
			zero := make([]bool, n)
			for i := range n {
				tg := int32(r.IntN(c))
				row := make([]float32, c)
				top := float32(r.NormFloat64() * 10)
				kind := r.IntN(5)
				gap := float32(60 + 20*r.Float64())
				for j := range row {
					switch kind {
					case 0: // others masked
						row[j] = negInf
					case 1, 2: // others underflow
						row[j] = top - 88 - float32(r.Float64()*200)
					case 3: // a tiny, normal loss: e^-60..e^-80, 8.8e-27..1.8e-35, one gap per row
						row[j] = top - gap
					default:
						row[j] = float32(r.NormFloat64())
					}
				}
				if kind < 4 {
					row[tg] = top
				}
				zero[i] = kind < 3 || c == 1
				if r.IntN(8) == 0 {
					tg, zero[i] = -1, true // ignored: 0 in Losses()
				}
				b.Targets[i] = tg
				for j, v := range row {
					b.Logits[ref.Index(c, spec.spatial, i, j)] = v
				}
			}
			var firstSel []int32
			for _, cfg := range []ohem.Config{{Keep: 1}, {Keep: n / 2}, {Keep: n / 2, KeepTies: true}, {Keep: 3, PerImage: true},
				{KeepRatio: 0.9}, {ProbThreshold: 1, MinKept: n / 3}, {NegPosRatio: 1, MinKept: 2}} {
				if cfg.NegPosRatio != 0 && c == 1 {
					continue
				}
				checkLoss(t, cfg, b)
				for s, ks := range ohem.KernelSets() {
					cfg.Kernel = ks.Name()
					l, err := ohem.New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := l.Forward(b); err != nil {
						t.Fatal(err)
					}
					for i, v := range l.Losses() {
						if zero[i] && (v != 0 || math.Signbit(float64(v))) {
							t.Fatalf("%s %s %s: loss[%d] = %v, want exactly 0", layoutName(spec), ks.Name(), configName(cfg), i, v)
						}
					}
					if s == 0 {
						firstSel = slices.Clone(l.Selected())
					} else if !slices.Equal(l.Selected(), firstSel) {
						t.Fatalf("%s %s %s: selected %v, the first set %v", layoutName(spec), ks.Name(), configName(cfg), head(l.Selected()), head(firstSel))
					}
				}
			}
		}
	}

	// The case that set avx512 apart: a masked and a far-negative class, Keep 1.
	b := ohem.Batch{Logits: []float32{0, negInf, 0, -90}, Targets: []int32{0, 0}, Classes: 2}
	for _, ks := range ohem.KernelSets() {
		l, _ := ohem.New(ohem.Config{Keep: 1, Kernel: ks.Name()})
		res, err := l.Forward(b)
		if err != nil || !slices.Equal(l.Selected(), []int32{0}) || res.Loss != 0 || l.Losses()[1] != 0 {
			t.Errorf("%s: %+v selected %v losses %v (%v), want sample 0 kept, every loss 0", ks.Name(), res, l.Selected(), l.Losses(), err)
		}
	}
}

// TestBoundsAbsoluteTerms: results below float32's normal range meet the bounds through their
// absolute terms, huge class weights amplify no underflow residue, and a loss above the largest
// float32 is +Inf, and so is the reduced loss it enters.
func TestBoundsAbsoluteTerms(t *testing.T) {
	for _, ks := range ohem.KernelSets() {
		for _, spatial := range []int{0, 1} {
			what := fmt.Sprintf("%s Spatial=%d", ks.Name(), spatial)
			// logits [0, −90]: the exact loss is 8.2e-40, below the normal range.
			b := ohem.Batch{Logits: []float32{0, -90}, Targets: []int32{0}, Classes: 2, Spatial: spatial}
			want := ref.Losses(b.Logits, b.Targets, 2, spatial, 0)[0]
			l, _ := ohem.New(ohem.Config{Reduction: ohem.Sum, Kernel: ks.Name()})
			grad := make([]float32, 2)
			res, err := l.ForwardBackward(grad, b)
			if err != nil {
				t.Fatal(err)
			}
			if !ref.CEWithin(l.Losses()[0], want) || !ref.LossWithin(res.Loss, want, 1) {
				t.Errorf("%s: loss %v, Loss %v, want %v within 1e-30", what, l.Losses()[0], res.Loss, want)
			}
			for j, g := range grad {
				wg := ref.Grad(b.Logits, 2, spatial, 0, 0, 0)[j]
				if math.Abs(float64(g)-wg) > ref.GradTol(wg, 8.2e-40, 1, false) {
					t.Errorf("%s: grad[%d] = %v, want %v", what, j, g, wg)
				}
			}

			// ClassWeights{1e38, 1}, Sum, logits [0, −1e4] and [0, −Inf]: exactly 0 everywhere.
			for _, far := range []float32{-1e4, negInf, -88} {
				b := ohem.Batch{Logits: []float32{0, far}, Targets: []int32{0}, Classes: 2, Spatial: spatial}
				l, _ := ohem.New(ohem.Config{ClassWeights: []float32{1e38, 1}, Reduction: ohem.Sum, Kernel: ks.Name()})
				grad := []float32{1, 1}
				res, err := l.ForwardBackward(grad, b)
				if err != nil || res.Loss != 0 || grad[0] != 0 || grad[1] != 0 {
					t.Errorf("%s: weight 1e38, logits [0, %v]: Loss %v grad %v (%v), want exactly 0", what, far, res.Loss, grad, err)
				}
			}

			// A loss beyond float32: logits [−3e38, 3e38], target 0: 6e38 is +Inf, and so is the Loss.
			b = ohem.Batch{Logits: []float32{-3e38, 3e38, 0, 1}, Targets: []int32{0, 1}, Classes: 2, Spatial: spatial}
			if spatial > 0 {
				b.Logits = []float32{-3e38, 0, 3e38, 1}
				b.Spatial = 2
			}
			for _, cfg := range []ohem.Config{{}, {Reduction: ohem.Sum}, {Keep: 1}, {ClassWeights: []float32{2, 1}, Reduction: ohem.MeanValid}} {
				cfg.Kernel = ks.Name()
				l, _ := ohem.New(cfg)
				res, err := l.Forward(b)
				if err != nil || !math.IsInf(float64(l.Losses()[0]), 1) || !math.IsInf(float64(res.Loss), 1) {
					t.Errorf("%s %s: losses %v Loss %v (%v), want +Inf", what, configName(cfg), l.Losses(), res.Loss, err)
				}
			}
		}
	}
}

// TestSmoothedGradientNearOptimum puts the logits at the smoothed optimum (softmax = q) plus noise
// of 1e-3 to 1e-4, where every p_j − q_j cancels: every set must stay within the gradient bound
// with its 2^-22·w/W term, row-major (the across-rows kernels, the row kernel and the fused pass)
// and planar.
func TestSmoothedGradientNearOptimum(t *testing.T) {
	const eps = 0.1
	r := rand.New(rand.NewPCG(9, 3))
	for _, c := range []int{2, 10, 21, 81, 1000} {
		for _, noise := range []float64{1e-3, 1e-4} {
			for _, spec := range []batchSpec{{n: 64, c: c}, {c: c, spatial: 32, images: 2}} {
				b := makeBatch(r, spec)
				qt, qo := math.Log(1-eps+eps/float64(c)), math.Log(eps/float64(c))
				shift := r.NormFloat64() * 5
				for i, tg := range b.Targets {
					for j := range c {
						z := qo
						if int32(j) == tg {
							z = qt
						}
						b.Logits[ref.Index(c, spec.spatial, i, j)] = float32(z + shift + noise*(2*r.Float64()-1))
					}
				}
				weights := make([]float32, c)
				for j := range weights {
					weights[j] = float32(0.5 + r.Float64())
				}
				for _, cfg := range []ohem.Config{{LabelSmoothing: eps}, {LabelSmoothing: eps, Keep: 48}, {LabelSmoothing: eps, KeepRatio: 0.9, Reduction: ohem.Sum},
					{LabelSmoothing: eps, ClassWeights: weights, Reduction: ohem.MeanValid}} {
					checkLoss(t, cfg, b)
				}
			}
		}
	}
}

// TestFailedCallState: after a failed Forward or ForwardBackward, Losses() and Selected() are
// empty, whatever the call before left.
func TestFailedCallState(t *testing.T) {
	good := ohem.Batch{Logits: []float32{0, 1, 2, 0, 1, 5}, Targets: []int32{0, 1, 1}, Classes: 2}
	bads := []struct {
		name string
		b    ohem.Batch
		grad []float32
		err  error
	}{
		{"target", ohem.Batch{Logits: good.Logits, Targets: []int32{0, 2, 1}, Classes: 2}, nil, ohem.ErrTarget},
		{"NaN", ohem.Batch{Logits: []float32{0, float32(math.NaN()), 1, 2}, Targets: []int32{0, 1}, Classes: 2}, nil, ohem.ErrNonFinite},
		{"shape", ohem.Batch{Logits: good.Logits, Targets: []int32{0}, Classes: 2}, nil, ohem.ErrShape},
		{"grad", good, make([]float32, 5), ohem.ErrShape},
	}
	for _, ks := range ohem.KernelSets() {
		for _, bad := range bads {
			for _, backward := range []bool{false, true} {
				l, _ := ohem.New(ohem.Config{Keep: 2, Kernel: ks.Name()})
				if _, err := l.Forward(good); err != nil || len(l.Losses()) != 3 || len(l.Selected()) != 2 {
					t.Fatalf("%s: Forward: %v, losses %v, selected %v", ks.Name(), err, l.Losses(), l.Selected())
				}
				var err error
				if backward || bad.grad != nil {
					g := bad.grad
					if g == nil {
						g = make([]float32, len(bad.b.Logits))
					}
					_, err = l.ForwardBackward(g, bad.b)
				} else {
					_, err = l.Forward(bad.b)
				}
				if !errors.Is(err, bad.err) {
					t.Fatalf("%s %s: err %v, want %v", ks.Name(), bad.name, err, bad.err)
				}
				if len(l.Losses()) != 0 || len(l.Selected()) != 0 {
					t.Errorf("%s %s (backward %v): after the error Losses() = %v, Selected() = %v, want both empty",
						ks.Name(), bad.name, backward, l.Losses(), l.Selected())
				}
			}
		}
	}
}

// TestClassWeightsCopied: New copies ClassWeights, so changing the caller's slice afterwards
// changes nothing.
func TestClassWeightsCopied(t *testing.T) {
	b := ohem.Batch{Logits: []float32{0, 1, 2, 0, 1, 5}, Targets: []int32{0, 1, 1}, Classes: 2}
	w := []float32{1, 3}
	l, err := ohem.New(ohem.Config{ClassWeights: w, Reduction: ohem.Sum})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := l.Forward(b)
	w[0], w[1] = 100, float32(math.NaN())
	after, err := l.Forward(b)
	want := ref.Loss(ref.Config{ClassWeights: []float32{1, 3}, Reduction: ref.Sum}, b.Logits, b.Targets, 2, 0, 0)
	if err != nil || after != before || !ref.LossWithin(after.Loss, want.Loss, 3) {
		t.Errorf("after changing the weights' slice: %+v (%v), before %+v, want Loss %v", after, err, before, want.Loss)
	}
}

// TestProbThresholdHalfUninformative documents a float32 edge: with ProbThreshold 0.5 a binary
// sample whose logits are equal has the float32 loss float32(ln 2), which is above ln 2, so
// "p < 0.5" holds for it and it is kept (a float32 "p < t" on p = 0.5 would drop it).
func TestProbThresholdHalfUninformative(t *testing.T) {
	if float64(float32(math.Ln2)) <= math.Ln2 {
		t.Fatalf("float32(ln 2) = %v is not above ln 2", float32(math.Ln2))
	}
	b := ohem.Batch{Logits: []float32{0.5, 0.5, -2, -2, 3, 1}, Targets: []int32{0, 1, 0}, Classes: 2}
	for _, ks := range ohem.KernelSets() {
		l, _ := ohem.New(ohem.Config{ProbThreshold: 0.5, Kernel: ks.Name()})
		res, err := l.Forward(b)
		if err != nil || !slices.Equal(l.Selected(), []int32{0, 1}) || res.Kept != 2 {
			t.Errorf("%s: %+v selected %v (%v), want the two uninformative samples [0 1]", ks.Name(), res, l.Selected(), err)
		}
	}
}

// TestSelectionManyNaNs: KthLargest and TopK when many elements are NaN (the k-th largest NaN or
// just below the NaNs), across the sizes where the selection changes strategy and TopK's chunks
// end, with a dst too small for the ties and one of capacity k, against the sort-based reference.
func TestSelectionManyNaNs(t *testing.T) {
	sets, _ := kernelSets(t)
	r := rand.New(rand.NewPCG(9, 4))
	nan := float32(math.NaN())
	for _, n := range []int{100, 2049, 4097, 20000, 100000} {
		for _, share := range []float64{0.01, 0.3, 0.5, 1} {
			x := make([]float32, n)
			nans := 0
			for i := range x {
				x[i] = float32(r.IntN(50)) // ties below the NaNs too
				if r.Float64() < share {
					x[i], nans = nan, nans+1
				}
			}
			for _, k := range []int{1, 7, nans / 2, nans, nans + 1, n / 2, n} {
				if k < 1 || k > n {
					continue
				}
				want, wantTop := ref.KthLargest(x, k), ref.TopK(x, k)
				for _, set := range sets {
					got, err := set.KthLargest(x, k)
					if err != nil || !ref.Equal(got, want) {
						t.Fatalf("%s n=%d NaN share %v: KthLargest(k=%d) = %v (%v), want %v", set.Name(), n, share, k, got, err, want)
					}
					for _, c := range []int{0, k} {
						top, err := set.TopK(make([]int32, 0, c), x, k)
						if err != nil || !slices.Equal(top, wantTop) {
							t.Fatalf("%s n=%d NaN share %v: TopK(cap %d, k=%d) = %v (%v), want %v", set.Name(), n, share, c, k, shortIdx(top), err, shortIdx(wantTop))
						}
					}
				}
			}
		}
	}
}
