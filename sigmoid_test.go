package ohem_test

// Binary (Sigmoid) batches (API.md, "Binary samples"), on every kernel set, against the float64
// reference of internal/ref (SigmoidCE, SigmoidGrad, with label weights): every rule, weights,
// smoothing and reductions, both layouts, tiny and huge losses, errors, Workers, allocations, in
// place, and the equivalence with the two-class softmax of the logits (0, z).

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/guard"
	"github.com/ohem-go/ohem/internal/ref"
)

// sigSpec describes a random Sigmoid batch.
type sigSpec struct {
	rows, c   int     // row-major: rows of c labels; planar: c labels per image
	spatial   int     // 0: row-major
	images    int     // row-major Images (0: none), or planar image count
	ignore    float64 // fraction of ignored samples
	pos       float64 // fraction of positives among the valid samples
	levels    int     // > 0: logits drawn from this many values, so losses tie
	scale     float64 // logit scale (1 when 0)
	confident float64 // fraction of samples whose logit agrees with the target by 10 to 110
}

func (s sigSpec) String() string {
	if s.spatial > 0 {
		return fmt.Sprintf("planar %dx%dx%d", s.images, s.c, s.spatial)
	}
	return fmt.Sprintf("rows %dx%d images %d", s.rows, s.c, s.images)
}

func makeSigmoid(r *rand.Rand, s sigSpec) ohem.Batch {
	n := s.rows * s.c
	if s.spatial > 0 {
		n = s.images * s.c * s.spatial
	}
	b := ohem.Batch{Logits: make([]float32, n), Targets: make([]int32, n), Classes: s.c, Spatial: s.spatial, Sigmoid: true}
	if s.spatial == 0 {
		b.Images = s.images
	}
	scale := s.scale
	if scale == 0 {
		scale = 1
	}
	for i := range n {
		if s.levels > 0 {
			b.Logits[i] = float32(r.IntN(s.levels)-s.levels/2) * float32(scale)
		} else {
			b.Logits[i] = float32(r.NormFloat64() * scale)
		}
		switch {
		case r.Float64() < s.ignore:
			b.Targets[i] = -1 - int32(r.IntN(100))
			if r.IntN(3) == 0 { // the logits of ignored samples are not checked
				b.Logits[i] = []float32{f32NaN, f32Inf, f32NegInf}[r.IntN(3)]
			}
			continue
		case r.Float64() < s.pos:
			b.Targets[i] = 1
		}
		if r.Float64() < s.confident {
			d := float32(10 + 100*r.Float64())
			if b.Targets[i] == 0 {
				d = -d
			}
			b.Logits[i] = d
		}
	}
	return b
}

// sigImages is the batch's number of per-image groups, as the reference wants it.
func sigImages(b ohem.Batch) int {
	return ref.SigmoidImages(len(b.Logits), b.Classes, b.Spatial, b.Images)
}

// checkSigmoidLoss is checkLoss for a Sigmoid batch: Forward and ForwardBackward of cfg on every
// kernel set against the float64 reference.
func checkSigmoidLoss(t *testing.T, cfg ohem.Config, b ohem.Batch) {
	t.Helper()
	rc := refConfig(cfg)
	c, s := b.Classes, b.Spatial
	eps := float64(cfg.LabelSmoothing)
	wantLoss := ref.SigmoidLosses(b.Logits, b.Targets, eps)
	for _, ks := range ohem.KernelSets() {
		cfg.Kernel = ks.Name()
		l, err := ohem.New(cfg)
		if err != nil {
			t.Fatalf("%s: New(%s): %v", ks.Name(), configName(cfg), err)
		}
		res, err := l.Forward(b)
		if err != nil {
			t.Fatalf("%s %s: Forward: %v", ks.Name(), configName(cfg), err)
		}
		losses := slices.Clone(l.Losses())
		if len(losses) != len(b.Logits) {
			t.Fatalf("%s: %d losses, want one per logit (%d)", ks.Name(), len(losses), len(b.Logits))
		}
		for i, got := range losses {
			if want := wantLoss[i]; !ref.CEWithin(got, want) || b.Targets[i] < 0 && got != 0 {
				t.Fatalf("%s: loss[%d] = %v, want %v (z %v, target %d)", ks.Name(), i, got, want, b.Logits[i], b.Targets[i])
			}
		}
		sel := slices.Clone(l.Selected())
		wantSel, wantThr := ref.SigmoidSelect(rc, losses, b.Targets, c, s, b.Images)
		if !slices.Equal(sel, wantSel) {
			t.Fatalf("%s %s: selected %d samples %v,\nwant %d: %v", ks.Name(), configName(cfg), len(sel), head(sel), len(wantSel), head(wantSel))
		}
		if res.Kept != len(wantSel) || !ref.Equal(res.Threshold, wantThr) {
			t.Fatalf("%s %s: Kept %d Threshold %v, want %d %v", ks.Name(), configName(cfg), res.Kept, res.Threshold, len(wantSel), wantThr)
		}
		want := ref.SigmoidEvaluate(rc, b.Logits, b.Targets, c, s, sel)
		if res.Valid != want.Valid {
			t.Fatalf("%s: Valid = %d, want %d", ks.Name(), res.Valid, want.Valid)
		}
		scales := ref.SigmoidScales(rc, b.Targets, c, s, sel)
		keptScale := 0.0
		for _, v := range scales {
			keptScale += v
		}
		if !ref.LossWithin(res.Loss, want.Loss, keptScale) {
			t.Fatalf("%s %s: Loss = %v, want %v", ks.Name(), configName(cfg), res.Loss, want.Loss)
		}
		grad := make([]float32, len(b.Logits)+1)
		grad[len(b.Logits)] = 42
		for i := range b.Logits {
			grad[i] = f32NaN // every element must be overwritten
		}
		res2, err := l.ForwardBackward(grad, b)
		if err != nil {
			t.Fatalf("%s: ForwardBackward: %v", ks.Name(), err)
		}
		if res2 != res || !slices.Equal(l.Selected(), sel) || !bitsEqual(l.Losses(), losses) {
			t.Fatalf("%s: ForwardBackward gave %+v, Forward %+v", ks.Name(), res2, res)
		}
		if grad[len(b.Logits)] != 42 {
			t.Fatalf("%s: ForwardBackward wrote past len(Logits)", ks.Name())
		}
		checkGrad(t, ks.Name()+" "+configName(cfg), grad[:len(b.Logits)], want.Grad, scales, cfg.LabelSmoothing != 0)
	}
}

// TestSigmoidRulesLarge runs the rules on groups above the small-group selection's limit (fewMax),
// where the selection cuts by its threshold and the fused pass's gradient of the dropped samples
// is zeroed by a compare with it: NegPosRatio's cut falls among its positives' NaN ranks when it
// keeps no negative, and ties in the losses make a cut not exact.
func TestSigmoidRulesLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large batches")
	}
	r := rand.New(rand.NewPCG(12, 2))
	specs := []sigSpec{
		{rows: 70001, c: 1, ignore: 0.1, pos: 0.01, confident: 0.2},
		{rows: 1 << 16, c: 3, images: 2, ignore: 0.05, pos: 0.2, levels: 9},
	}
	cfgs := []ohem.Config{
		{NegPosRatio: 3}, {NegPosRatio: 1e-4}, {NegPosRatio: 1e-4, KeepTies: true}, {NegPosRatio: 0.5, PerImage: true},
		{KeepRatio: 0.3}, {KeepRatio: 0.3, KeepTies: true}, {Keep: 1000, PerImage: true},
		{ProbThreshold: 0.6, MinKept: 10},
	}
	for _, s := range specs {
		b := makeSigmoid(r, s)
		for _, cfg := range cfgs {
			t.Run(s.String()+"/"+configName(cfg), func(t *testing.T) { checkSigmoidLoss(t, cfg, b) })
		}
	}
}

// sigmoidRules is ruleConfigs for Sigmoid batches: NegPosRatio with Background 0 only.
func sigmoidRules() []ohem.Config {
	var out []ohem.Config
	for _, cfg := range ruleConfigs() {
		if cfg.NegPosRatio == 0 || cfg.Background == 0 {
			out = append(out, cfg)
		}
	}
	return out
}

var sigSpecs = []sigSpec{
	{rows: 100, c: 1, ignore: 0.2, pos: 0.1, confident: 0.3},
	{rows: 60, c: 4, images: 3, ignore: 0.1, pos: 0.5, levels: 5},
	{rows: 40, c: 7, images: 4, ignore: 0.05, pos: 0.3, confident: 0.5, scale: 3},
	{c: 1, spatial: 37, images: 3, ignore: 0.2, pos: 0.2, confident: 0.2},
	{c: 3, spatial: 25, images: 2, ignore: 0.1, pos: 0.4, levels: 3},
}

func TestSigmoidRules(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 1))
	for _, s := range sigSpecs {
		b := makeSigmoid(r, s)
		for _, cfg := range sigmoidRules() {
			t.Run(s.String()+"/"+configName(cfg), func(t *testing.T) { checkSigmoidLoss(t, cfg, b) })
		}
	}
}

func TestSigmoidWeightsSmoothingReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 2))
	for _, s := range []sigSpec{
		{rows: 90, c: 5, images: 2, ignore: 0.15, pos: 0.3, confident: 0.3},
		{c: 5, spatial: 19, images: 2, ignore: 0.15, pos: 0.3, confident: 0.3},
	} {
		b := makeSigmoid(r, s)
		weights := []float32{1, 0.5, 2, 0, 3}
		for _, rule := range []ohem.Config{{}, {Keep: 20, PerImage: true}, {KeepRatio: 0.5}, {NegPosRatio: 2}, {ProbThreshold: 0.5, MinKept: 10}} {
			for _, w := range [][]float32{nil, weights} {
				for _, eps := range []float32{0, 0.1, 0.9} {
					if eps != 0 && rule.ProbThreshold != 0 {
						continue
					}
					for _, red := range []ohem.Reduction{ohem.MeanKept, ohem.MeanValid, ohem.Sum} {
						cfg := rule
						cfg.ClassWeights, cfg.LabelSmoothing, cfg.Reduction = w, eps, red
						t.Run(s.String()+"/"+configName(cfg), func(t *testing.T) { checkSigmoidLoss(t, cfg, b) })
					}
				}
			}
		}
	}
}

// sigmoidLogitCases are logits whose losses span everything from exactly 0 to above float32: tiny
// losses of 1e-7, 1e-20, 1e-30 and below the underflow point, huge logits, and values at the
// float32 limits.
var sigmoidLogitCases = []float32{0, f32NegZero, 1e-30, -1e-7, 0.5, -0.5, 1, -1, 2.5, -17,
	16.118095, -16.118095, 46.0517, -46.0517, 69.0776, -69.0776, 80, -80, 87.3, -87.3, 88.7, -88.7, 95, -103.3,
	100, -100, 200, 1e4, -1e4, 1e30, -1e30, 3e38, -3e38, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}

// TestSigmoidExtremes: every logit of sigmoidLogitCases with both targets, smoothed or not,
// in both layouts, through the whole Loss.
func TestSigmoidExtremes(t *testing.T) {
	var z []float32
	var tg []int32
	for _, v := range sigmoidLogitCases {
		for y := range int32(2) {
			z, tg = append(z, v), append(tg, y)
		}
	}
	n := len(z)
	for _, b := range []ohem.Batch{
		{Logits: z, Targets: tg, Classes: 1, Sigmoid: true},
		{Logits: z, Targets: tg, Classes: 2, Spatial: n / 4, Sigmoid: true},
	} {
		for _, cfg := range []ohem.Config{{}, {Keep: 5}, {KeepRatio: 0.5, LabelSmoothing: 0.2}, {ProbThreshold: 0.9, MinKept: 2},
			{LabelSmoothing: math.SmallestNonzeroFloat32}, {LabelSmoothing: 1e-7, Reduction: ohem.Sum}, {NegPosRatio: 1, KeepTies: true}} {
			t.Run(fmt.Sprintf("S%d/%s", b.Spatial, configName(cfg)), func(t *testing.T) { checkSigmoidLoss(t, cfg, b) })
		}
	}
}

// TestSigmoidCrossEntropyCases: CrossEntropy and LogSumExp of Sigmoid batches, hand-checked values
// and the reference, on every set; a tiny loss is itself, not 0 and not doubled.
func TestSigmoidCrossEntropyCases(t *testing.T) {
	cases := []struct {
		z    float32
		y    int32
		want float64
	}{
		{16.118095, 1, 1.0000000e-07},
		{-16.118095, 0, 1.0000000e-07},
		{46.0517, 1, math.Exp(-float64(float32(46.0517)))},  // 1e-20
		{-69.0776, 0, math.Exp(-float64(float32(69.0776)))}, // 1e-30
		{100, 1, math.Exp(-100)},                            // below the underflow point: 0 allowed by the absolute term
		{-100, 0, math.Exp(-100)},
		{100, 0, 100},
		{-100, 1, 100},
		{1e4, 1, 0},
		{-1e4, 0, 0},
		{1e4, 0, 1e4},
		{-3e38, 1, 3e38},
		{0, 1, math.Ln2},
		{0, 0, math.Ln2},
		{1, 1, math.Log1p(math.Exp(-1))},
		{1, 0, 1 + math.Log1p(math.Exp(-1))},
		{5, -1, 0},
		{f32NaN, -100, 0},
		{f32Inf, -1, 0},
		{f32NegInf, math.MinInt32, 0},
	}
	var z []float32
	var tg []int32
	for _, c := range cases {
		z, tg = append(z, c.z), append(tg, c.y)
		if c.y < 0 {
			continue
		}
		if got := ref.SigmoidCE(c.z, c.y, 0); !(got == c.want || math.Abs(got-c.want) <= 1e-6*c.want) {
			t.Errorf("test table: reference loss of z=%v y=%d is %v, table says %v", c.z, c.y, got, c.want)
		}
	}
	n := len(z)
	for _, set := range ohem.KernelSets() {
		for _, b := range []ohem.Batch{
			{Logits: z, Targets: tg, Classes: 1, Sigmoid: true},
			{Logits: z, Targets: tg, Classes: 5, Sigmoid: true, Images: 2},
			{Logits: z, Targets: tg, Classes: 2, Spatial: 5, Sigmoid: true},
		} {
			dst, free := guard.Float32s(n)
			if err := set.CrossEntropy(dst, b); err != nil {
				t.Fatalf("%s: %v", set.Name(), err)
			}
			for i, c := range cases {
				if !ref.CEWithin(dst[i], c.want) || c.y < 0 && dst[i] != 0 {
					t.Errorf("%s C=%d S=%d: loss of z=%v y=%d = %v, want %v", set.Name(), b.Classes, b.Spatial, c.z, c.y, dst[i], c.want)
				}
			}
			free()
		}
		// LogSumExp: softplus of every (finite) logit.
		var lz []float32
		for _, v := range sigmoidLogitCases {
			lz = append(lz, v)
		}
		dst, free := guard.Float32s(len(lz))
		if err := set.LogSumExp(dst, ohem.Batch{Logits: lz, Classes: 1, Sigmoid: true}); err != nil {
			t.Fatalf("%s: LogSumExp: %v", set.Name(), err)
		}
		for i, v := range lz {
			want := ref.Softplus(float64(v))
			if !ref.LSEWithin(dst[i], want, max(0, float64(v))) || !ref.CEWithin(dst[i], want) {
				t.Errorf("%s: LogSumExp of %v = %v, want %v", set.Name(), v, dst[i], want)
			}
		}
		free()
		one := make([]float32, 1)
		if err := set.CrossEntropy(one, ohem.Batch{Logits: []float32{-16.118095}, Targets: []int32{0}, Classes: 1, Sigmoid: true}); err != nil || one[0] < 0.99999e-7 || one[0] > 1.00001e-7 {
			t.Errorf("%s: loss of a confident correct negative = %v (err %v), want 1e-7", set.Name(), one[0], err)
		}
	}
}

// TestSigmoidTwoClassSoftmax: a Sigmoid batch and the two-class softmax batch of the logits (0, z)
// give the same losses, selection and loss within their bounds, and the gradient of z is the
// softmax gradient of the second class.
func TestSigmoidTwoClassSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 3))
	b := makeSigmoid(r, sigSpec{rows: 300, c: 1, ignore: 0.1, pos: 0.3, confident: 0.3, scale: 4})
	for i, tg := range b.Targets {
		if tg < 0 {
			b.Logits[i] = float32(r.NormFloat64())
		}
	}
	pairs := ohem.Batch{Logits: make([]float32, 2*len(b.Logits)), Targets: b.Targets, Classes: 2}
	for i, z := range b.Logits {
		pairs.Logits[2*i+1] = z
	}
	for _, cfg := range []ohem.Config{{KeepRatio: 0.5}, {NegPosRatio: 3, MinKept: 5}, {LabelSmoothing: 0.1, Reduction: ohem.Sum}} {
		for _, ks := range ohem.KernelSets() {
			cfg.Kernel = ks.Name()
			ls, _ := ohem.New(cfg)
			lp, _ := ohem.New(cfg)
			gs := make([]float32, len(b.Logits))
			gp := make([]float32, len(pairs.Logits))
			rs, err1 := ls.ForwardBackward(gs, b)
			rp, err2 := lp.ForwardBackward(gp, pairs)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			want := ref.SigmoidLosses(b.Logits, b.Targets, float64(cfg.LabelSmoothing))
			for i, v := range ls.Losses() {
				if w := lp.Losses()[i]; !ref.BothWithin(v, w, ref.CETol(want[i])) {
					t.Fatalf("%s %s: sigmoid loss[%d] = %v, two-class %v", ks.Name(), configName(cfg), i, v, w)
				}
			}
			if rs.Valid != rp.Valid || !ref.BothWithin(rs.Loss, rp.Loss, 1e-5*math.Abs(float64(rp.Loss))) {
				t.Fatalf("%s %s: sigmoid %+v, two-class %+v", ks.Name(), configName(cfg), rs, rp)
			}
			if slices.Equal(ls.Selected(), lp.Selected()) {
				for i := range gs {
					if d := math.Abs(float64(gs[i] - gp[2*i+1])); d > 1e-5*math.Abs(float64(gp[2*i+1]))+1e-9 {
						t.Fatalf("%s %s: sigmoid grad[%d] = %v, two-class %v", ks.Name(), configName(cfg), i, gs[i], gp[2*i+1])
					}
				}
			}
		}
	}
}

// TestSigmoidLabelWeights: the weight of a sample is ClassWeights of its label (i mod Classes
// row-major, (i / Spatial) mod Classes planar), whatever its target: spelled out on small batches.
func TestSigmoidLabelWeights(t *testing.T) {
	z := []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tg := []int32{0, 1, 0, 1, -1, 1, 0, 0, 1, 1, 0, 1}
	w := []float32{1, 10, 100}
	// Row-major [4][3]: labels 0 1 2 0 1 2 ...; planar [2][3][2]: labels 0 0 1 1 2 2 0 0 ...
	for _, tc := range []struct {
		b    ohem.Batch
		want float64 // Σ_valid w (every loss is ln 2, so the Sum is ln 2 · Σ_valid w)
	}{
		{ohem.Batch{Logits: z, Targets: tg, Classes: 3, Sigmoid: true}, 1 + 10 + 100 + 1 + 100 + 1 + 10 + 100 + 1 + 10 + 100},
		{ohem.Batch{Logits: z, Targets: tg, Classes: 3, Spatial: 2, Sigmoid: true}, 1 + 1 + 10 + 10 + 100 + 1 + 1 + 10 + 10 + 100 + 100},
	} {
		for _, ks := range ohem.KernelSets() {
			l, _ := ohem.New(ohem.Config{ClassWeights: w, Reduction: ohem.Sum, Kernel: ks.Name()})
			res, err := l.Forward(tc.b)
			if err != nil || !ref.LossWithin(res.Loss, tc.want*math.Ln2, 0) {
				t.Errorf("%s S=%d: %+v (%v), want Loss %v", ks.Name(), tc.b.Spatial, res, err, tc.want*math.Ln2)
			}
			l, _ = ohem.New(ohem.Config{ClassWeights: w, Reduction: ohem.MeanValid, Kernel: ks.Name()})
			grad := make([]float32, len(z))
			if _, err := l.ForwardBackward(grad, tc.b); err != nil {
				t.Fatal(err)
			}
			for i, g := range grad {
				want := 0.0
				if tg[i] >= 0 {
					want = float64(w[ref.SigmoidLabel(3, tc.b.Spatial, i)]) / tc.want * (0.5 - float64(tg[i]))
				}
				if math.Abs(float64(g)-want) > 1e-6*math.Abs(want) {
					t.Errorf("%s S=%d: grad[%d] = %v, want %v", ks.Name(), tc.b.Spatial, i, g, want)
				}
			}
		}
	}
}

// TestSigmoidErrors: the errors of Sigmoid batches on every set, with a dst or grad of exactly
// the documented length against a guard page.
func TestSigmoidErrors(t *testing.T) {
	good := func() ohem.Batch {
		return ohem.Batch{Logits: []float32{0, 1, -2, 3, 0.5, -1}, Targets: []int32{0, 1, -1, 1, 0, 0}, Classes: 3, Sigmoid: true}
	}
	mod := func(f func(b *ohem.Batch)) ohem.Batch { b := good(); f(&b); return b }
	cases := []struct {
		name string
		b    ohem.Batch
		cfg  ohem.Config
		want error
		sub  string
	}{
		{"target 2", mod(func(b *ohem.Batch) { b.Targets[4] = 2 }), ohem.Config{}, ohem.ErrTarget, "sample 4 (row 1, label 1)"},
		{"target 7 planar", mod(func(b *ohem.Batch) { b.Spatial, b.Classes, b.Targets[5] = 1, 3, 7 }), ohem.Config{}, ohem.ErrTarget, "sample 5 (image 1, label 2, position 0)"},
		{"NaN", mod(func(b *ohem.Batch) { b.Logits[1] = f32NaN }), ohem.Config{}, ohem.ErrNonFinite, "sample 1"},
		{"+Inf", mod(func(b *ohem.Batch) { b.Logits[3] = f32Inf }), ohem.Config{}, ohem.ErrNonFinite, "+Inf"},
		{"-Inf", mod(func(b *ohem.Batch) { b.Logits[0] = f32NegInf }), ohem.Config{}, ohem.ErrNonFinite, "-Inf"},
		{"ignored garbage", mod(func(b *ohem.Batch) { b.Logits[2] = f32NaN }), ohem.Config{}, nil, ""},
		{"targets length", mod(func(b *ohem.Batch) { b.Targets = b.Targets[:2] }), ohem.Config{}, ohem.ErrShape, "one per logit"},
		{"rows", mod(func(b *ohem.Batch) { b.Classes = 4 }), ohem.Config{}, ohem.ErrShape, "Classes"},
		{"images", mod(func(b *ohem.Batch) { b.Images = 3 }), ohem.Config{}, ohem.ErrShape, "rows"},
		{"planar images", mod(func(b *ohem.Batch) { b.Spatial, b.Classes, b.Images = 1, 3, 3 }), ohem.Config{}, ohem.ErrShape, "Images"},
		{"background", good(), ohem.Config{NegPosRatio: 3, Background: 1}, ohem.ErrConfig, "Background"},
		{"weights", good(), ohem.Config{ClassWeights: []float32{1, 2}}, ohem.ErrConfig, "ClassWeights"},
	}
	for _, ks := range ohem.KernelSets() {
		for _, c := range cases {
			cfg := c.cfg
			cfg.Kernel = ks.Name()
			l, err := ohem.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			check := func(op string, err error, lossCall bool) {
				t.Helper()
				want := c.want
				if !lossCall && want == ohem.ErrConfig {
					want = nil
				}
				switch {
				case want == nil && err != nil:
					t.Errorf("%s %s %s: %v", ks.Name(), c.name, op, err)
				case want != nil && !errors.Is(err, want):
					t.Errorf("%s %s %s: %v, want %v", ks.Name(), c.name, op, err, want)
				case want != nil && !strings.Contains(err.Error(), c.sub):
					t.Errorf("%s %s %s: %q does not name %q", ks.Name(), c.name, op, err, c.sub)
				}
			}
			n := len(c.b.Logits)
			gb, free := placedBatch(c.b, placeTail, 0)
			dst, freeDst := guard.Float32s(n)
			err, p := protectFault(func() error { return ks.CrossEntropy(dst, gb) })
			if p != nil {
				t.Fatalf("%s %s: CrossEntropy panicked: %v", ks.Name(), c.name, p)
			}
			check("CrossEntropy", err, false)
			_, err = l.Forward(gb)
			check("Forward", err, true)
			if err != nil && (len(l.Losses()) != 0 || len(l.Selected()) != 0) {
				t.Errorf("%s %s: after the error Losses() = %v, Selected() = %v", ks.Name(), c.name, l.Losses(), l.Selected())
			}
			err, p = protectFault(func() error { _, err := l.ForwardBackward(dst, gb); return err })
			if p != nil {
				t.Fatalf("%s %s: ForwardBackward panicked: %v", ks.Name(), c.name, p)
			}
			check("ForwardBackward", err, true)
			freeDst()
			free()
		}
	}
}

// TestSigmoidWorkersDeterministic: Workers changes no bit, in both layouts, with the separate
// gradient pass and the fused one.
func TestSigmoidWorkersDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 4))
	rows := 100003
	if testing.Short() {
		rows = 40001
	}
	for _, s := range []sigSpec{
		{rows: rows, c: 1, ignore: 0.05, pos: 0.1, confident: 0.3},
		{c: 3, spatial: rows / 6, images: 2, ignore: 0.05, pos: 0.3},
	} {
		b := makeSigmoid(r, s)
		for _, ks := range ohem.KernelSets() {
			checkWorkers(t, b, ohem.Config{KeepRatio: 0.3, LabelSmoothing: 0.05, Kernel: ks.Name()})
			checkWorkers(t, b, ohem.Config{KeepRatio: 0.7, Kernel: ks.Name()}) // the fused loss and gradient pass
			checkWorkers(t, b, ohem.Config{LabelSmoothing: 0.1, Kernel: ks.Name()})
			checkWorkers(t, b, ohem.Config{NegPosRatio: 3, ClassWeights: []float32{1, 2, 3}[:s.c], Kernel: ks.Name()})
		}
	}
}

func TestSigmoidNoAllocsWhenWarm(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := rand.New(rand.NewPCG(12, 5))
	for _, s := range []sigSpec{{rows: 100000, c: 2, images: 2, ignore: 0.1, pos: 0.2}, {c: 1, spatial: 50000, images: 2, pos: 0.1}} {
		b := makeSigmoid(r, s)
		grad := make([]float32, len(b.Logits))
		for _, cfg := range []ohem.Config{{Keep: 100, PerImage: true}, {KeepRatio: 0.7, Workers: 4}, {ProbThreshold: 0.7, MinKept: 1000, Workers: 2},
			{NegPosRatio: 3, KeepTies: true}, {}, {LabelSmoothing: 0.1, ClassWeights: []float32{1, 2}[:s.c]}} {
			l, err := ohem.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.ForwardBackward(grad, b); err != nil {
				t.Fatal(err)
			}
			if a := mallocs(20, func() { l.Forward(b) }); a != 0 {
				t.Errorf("%s: Forward allocated %d times in 20 calls", configName(cfg), a)
			}
			if a := mallocs(20, func() { l.ForwardBackward(grad, b) }); a != 0 {
				t.Errorf("%s: ForwardBackward allocated %d times in 20 calls", configName(cfg), a)
			}
		}
	}
}

// TestSigmoidInPlace: grad may be the logits themselves; the result is the same and the gradient
// within the bound of the separate buffer's, on every length 0..70 and a large one.
func TestSigmoidInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 6))
	var specs []sigSpec
	for n := 0; n <= 70; n++ {
		specs = append(specs, sigSpec{rows: n, c: 1, ignore: 0.1, pos: 0.3, confident: 0.2})
	}
	specs = append(specs, sigSpec{rows: 50001, c: 1, ignore: 0.1, pos: 0.3}, sigSpec{c: 2, spatial: 33, images: 3, pos: 0.5})
	for _, s := range specs {
		b := makeSigmoid(r, s)
		for _, ks := range ohem.KernelSets() {
			for _, cfg := range []ohem.Config{{KeepRatio: 0.9}, {}, {KeepRatio: 0.6, LabelSmoothing: 0.1, Workers: 2}} {
				cfg.Kernel = ks.Name()
				checkInPlace(t, fmt.Sprintf("%s %v %s", ks.Name(), s, configName(cfg)), b, cfg)
			}
		}
	}
}

// TestSigmoidGradientFiniteDifference: the library's gradient against a central difference of
// the float64 reference loss, the selection held fixed.
func TestSigmoidGradientFiniteDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 7))
	for _, s := range []sigSpec{{rows: 10, c: 3, ignore: 0.2, pos: 0.4}, {c: 2, spatial: 5, images: 2, ignore: 0.2, pos: 0.4}} {
		b := makeSigmoid(r, s)
		for _, cfg := range []ohem.Config{
			{Keep: 9},
			{KeepRatio: 0.5, LabelSmoothing: 0.1, ClassWeights: []float32{1, 2, 0.5}[:s.c], Reduction: ohem.MeanValid},
			{NegPosRatio: 1, Reduction: ohem.Sum},
		} {
			l, err := ohem.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			grad := make([]float32, len(b.Logits))
			if _, err := l.ForwardBackward(grad, b); err != nil {
				t.Fatal(err)
			}
			sel := slices.Clone(l.Selected())
			rc := refConfig(cfg)
			ignored := func(k int) bool { return b.Targets[k] < 0 }
			fd, peak := centralDifference(b.Logits, ignored, func(z []float32) float64 {
				return ref.SigmoidEvaluate(rc, z, b.Targets, s.c, s.spatial, sel).Loss
			})
			for k := range b.Logits {
				if math.Abs(float64(grad[k])-fd[k]) > 1e-4*peak {
					t.Fatalf("%s: grad[%d] = %v, central difference %v", configName(cfg), k, grad[k], fd[k])
				}
			}
		}
	}
}

// TestSigmoidChecksLarge: the Sigmoid loss kernels check the targets and the losses as they go
// (no pass over either before or after), so the errors of a large batch come from what the
// kernels report, per chunk with Workers: a target out of range or a non-finite valid logit
// anywhere (first, middle, in the last tail) is the error naming that sample, through
// CrossEntropy, Forward and ForwardBackward, for the plain loss pass, NegPosRatio's ranking pass
// and the fused gradient pass; and a batch whose losses sum past +Inf beside ignored samples
// (fill −Inf: the kernels' NaN check then fires with no NaN written) still succeeds.
func TestSigmoidChecksLarge(t *testing.T) {
	const n = 3*(1<<15) + 13
	r := rand.New(rand.NewPCG(5, 55))
	z, tg := make([]float32, n), make([]int32, n)
	for i := range n {
		z[i] = float32(r.NormFloat64() * 5)
		tg[i] = int32(r.IntN(3)) - 1
	}
	cfgs := []ohem.Config{{}, {NegPosRatio: 3, Reduction: ohem.Sum}, {KeepRatio: 0.3}}
	for _, ks := range ohem.KernelSets() {
		for _, cfg := range cfgs {
			for _, workers := range []int{1, 3} {
				cfg.Kernel, cfg.Workers = ks.Name(), workers
				l, err := ohem.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("%s %+v", ks.Name(), cfg)
				dst, grad := make([]float32, n), make([]float32, n)
				b := ohem.Batch{Logits: z, Targets: tg, Classes: 1, Sigmoid: true}
				all := func(how string, want error, sample int) {
					t.Helper()
					checkCallErrors(t, what+" "+how, ks, l, dst, grad, b, want, sample)
				}
				all("clean", nil, 0)
				for _, p := range []int{0, n / 2, n - 2} {
					old, oldT := z[p], tg[p]
					tg[p] = 2
					all(fmt.Sprintf("target 2 at %d", p), ohem.ErrTarget, p)
					tg[p] = 0
					z[p] = f32Inf
					all(fmt.Sprintf("+Inf at %d", p), ohem.ErrNonFinite, p)
					z[p], tg[p] = old, oldT
				}
				// Losses near the float32 maximum: every lane's sum overflows to +Inf, and the
				// ignored samples' fill (−Inf in Forward) makes it NaN.
				big := make([]float32, n)
				for i := range big {
					big[i] = 3e38
					if tg[i] == 1 {
						big[i] = -3e38
					}
				}
				b.Logits = big
				all("sums past +Inf", nil, 0)
			}
		}
	}
}
