package ohem_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/ref"
	"github.com/ohem-go/ohem/internal/testexec"
)

// batchSpec describes a random test batch.
type batchSpec struct {
	n, c      int     // samples, classes (row-major); for planar n = images*spatial
	spatial   int     // 0: row-major
	images    int     // row-major Images, or planar image count
	ignore    float64 // fraction of ignored samples
	levels    int     // > 0: logits drawn from this many values, so losses tie
	scale     float64 // logit scale
	confident float64 // fraction of samples whose target logit leads by a wide margin
}

func makeBatch(r *rand.Rand, s batchSpec) ohem.Batch {
	n := s.n
	if s.spatial > 0 {
		n = s.images * s.spatial
	}
	b := ohem.Batch{Logits: make([]float32, n*s.c), Targets: make([]int32, n), Classes: s.c, Spatial: s.spatial}
	if s.spatial == 0 {
		b.Images = s.images
	}
	scale := s.scale
	if scale == 0 {
		scale = 1
	}
	for i := range b.Logits {
		if s.levels > 0 {
			b.Logits[i] = float32(r.IntN(s.levels)) * float32(scale)
		} else {
			b.Logits[i] = float32(r.NormFloat64() * scale)
		}
	}
	for i := range b.Targets {
		b.Targets[i] = int32(r.IntN(s.c))
		if r.Float64() < s.ignore {
			b.Targets[i] = -1 - int32(r.IntN(100))
		}
		if r.Float64() < s.confident && b.Targets[i] >= 0 {
			b.Logits[ref.Index(s.c, s.spatial, i, int(b.Targets[i]))] += float32(10 + 20*r.Float64())
		}
	}
	return b
}

func refConfig(cfg ohem.Config) ref.Config {
	return ref.Config{
		Keep: cfg.Keep, KeepRatio: cfg.KeepRatio, ProbThreshold: cfg.ProbThreshold,
		NegPosRatio: cfg.NegPosRatio, Background: cfg.Background, MinKept: cfg.MinKept,
		KeepTies: cfg.KeepTies, PerImage: cfg.PerImage, ClassWeights: cfg.ClassWeights,
		LabelSmoothing: cfg.LabelSmoothing, Reduction: int(cfg.Reduction),
	}
}

// ruleConfigs is every selection rule with its variants.
func ruleConfigs() []ohem.Config {
	base := []ohem.Config{
		{},
		{Keep: 1}, {Keep: 10}, {Keep: 100000},
		{KeepRatio: 0.7}, {KeepRatio: 0.01}, {KeepRatio: 1},
		{ProbThreshold: 0.7}, {ProbThreshold: 0.7, MinKept: 5}, {ProbThreshold: 0.3, MinKept: 100000}, {ProbThreshold: 1},
		{ProbThreshold: 1e-30, MinKept: 3},
		{NegPosRatio: 3}, {NegPosRatio: 3, MinKept: 5}, {NegPosRatio: 0.5, MinKept: 100000}, {NegPosRatio: 1, Background: 1},
		{NegPosRatio: 0.01}, // fewer than one negative a positive: only the positives kept (kneg 0)
	}
	var out []ohem.Config
	for _, cfg := range base {
		for _, perImage := range []bool{false, true} {
			for _, ties := range []bool{false, true} {
				c := cfg
				c.PerImage, c.KeepTies = perImage, ties
				out = append(out, c)
			}
		}
	}
	return out
}

func configName(cfg ohem.Config) string {
	var parts []string
	add := func(cond bool, f string, a ...any) {
		if cond {
			parts = append(parts, fmt.Sprintf(f, a...))
		}
	}
	add(cfg.Keep != 0, "Keep=%d", cfg.Keep)
	add(cfg.KeepRatio != 0, "KeepRatio=%v", cfg.KeepRatio)
	add(cfg.ProbThreshold != 0, "Prob=%v", cfg.ProbThreshold)
	add(cfg.NegPosRatio != 0, "NegPos=%v,Bg=%d", cfg.NegPosRatio, cfg.Background)
	add(cfg.MinKept != 0, "MinKept=%d", cfg.MinKept)
	add(cfg.KeepTies, "Ties")
	add(cfg.PerImage, "PerImage")
	add(cfg.ClassWeights != nil, "Weights")
	add(cfg.LabelSmoothing != 0, "Smooth=%v", cfg.LabelSmoothing)
	add(cfg.Reduction != 0, "%v", cfg.Reduction)
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}

// checkLoss runs Forward and ForwardBackward of cfg on b with every kernel set and compares each
// with the float64 reference: losses within the API bound, the selection exactly the rule applied
// to the computed losses, the reduced loss and the gradient within their bounds.
func checkLoss(t *testing.T, cfg ohem.Config, b ohem.Batch) {
	t.Helper()
	rc := refConfig(cfg)
	images := b.Images
	wantLoss := ref.Losses(b.Logits, b.Targets, b.Classes, b.Spatial, float64(cfg.LabelSmoothing))
	for _, ks := range ohem.KernelSets() {
		cfg.Kernel = ks.Name()
		l, err := ohem.New(cfg)
		if err != nil {
			t.Fatalf("%s: New(%s): %v", ks.Name(), configName(cfg), err)
		}
		res, err := l.Forward(b)
		if err != nil {
			t.Fatalf("%s: Forward: %v", ks.Name(), err)
		}
		losses := slices.Clone(l.Losses())
		for i, got := range losses {
			if want := wantLoss[i]; !ref.CEWithin(got, want) {
				t.Fatalf("%s: loss[%d] = %v, want %v", ks.Name(), i, got, want)
			}
		}
		sel := slices.Clone(l.Selected())
		wantSel, wantThr := ref.Select(rc, losses, b.Targets, b.Spatial, images)
		if !slices.Equal(sel, wantSel) {
			t.Fatalf("%s %s: selected %d samples %v,\nwant %d: %v", ks.Name(), configName(cfg), len(sel), head(sel), len(wantSel), head(wantSel))
		}
		if res.Kept != len(wantSel) || !ref.Equal(res.Threshold, wantThr) {
			t.Fatalf("%s %s: Kept %d Threshold %v, want %d %v", ks.Name(), configName(cfg), res.Kept, res.Threshold, len(wantSel), wantThr)
		}
		want := ref.Evaluate(rc, b.Logits, b.Targets, b.Classes, b.Spatial, sel)
		if res.Valid != want.Valid {
			t.Fatalf("%s: Valid = %d, want %d", ks.Name(), res.Valid, want.Valid)
		}
		keptScale := 0.0
		for _, v := range ref.Scales(rc, b.Targets, sel) {
			keptScale += v
		}
		if !ref.LossWithin(res.Loss, want.Loss, keptScale) {
			t.Fatalf("%s %s: Loss = %v, want %v", ks.Name(), configName(cfg), res.Loss, want.Loss)
		}
		grad := make([]float32, len(b.Logits)+1)
		grad[len(b.Logits)] = 42
		for i := range b.Logits {
			grad[i] = float32(math.NaN()) // every element must be overwritten
		}
		res2, err := l.ForwardBackward(grad, b)
		if err != nil {
			t.Fatalf("%s: ForwardBackward: %v", ks.Name(), err)
		}
		if res2 != res || !slices.Equal(l.Selected(), sel) {
			t.Fatalf("%s: ForwardBackward gave %+v, Forward %+v", ks.Name(), res2, res)
		}
		if grad[len(b.Logits)] != 42 {
			t.Fatalf("%s: ForwardBackward wrote past len(Logits)", ks.Name())
		}
		checkGrad(t, ks.Name(), grad[:len(b.Logits)], want.Grad, ref.ElementScales(rc, b.Targets, b.Classes, b.Spatial, sel), cfg.LabelSmoothing != 0)
	}
}

func head(s []int32) []int32 { return s[:min(len(s), 20)] }

func relClose(got, want, tol float64) bool {
	if math.IsInf(want, 0) || math.IsNaN(want) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	return math.Abs(got-want) <= tol*math.Abs(want)
}

// checkGrad applies the API's gradient bound (ref.GradTol): |got − ref| <= 1e-5·max|ref| +
// 1e-6·|ref| + 1e-30·w/W, plus 2^-22·w/W when smoothed; scale holds each element's w/W (nil: 0,
// for comparing two float32 results, which need no absolute term).
func checkGrad(t *testing.T, name string, got []float32, want []float64, scale []float64, smoothed bool) {
	t.Helper()
	peak := 0.0
	for _, w := range want {
		peak = max(peak, math.Abs(w))
	}
	for i, g := range got {
		sc := 0.0
		if scale != nil {
			sc = scale[i]
		}
		if d := math.Abs(float64(g) - want[i]); !(d <= ref.GradTol(want[i], peak, sc, smoothed)) {
			t.Fatalf("%s: grad[%d] = %v, want %v (max |grad| %v, w/W %v)", name, i, g, want[i], peak, sc)
		}
	}
}

func TestLossRules(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	specs := []batchSpec{
		{n: 200, c: 2, ignore: 0.2, confident: 0.3},
		{n: 240, c: 5, images: 4, ignore: 0.1, levels: 3},
		{n: 300, c: 21, images: 3, ignore: 0.3, confident: 0.5},
		{c: 3, spatial: 37, images: 3, ignore: 0.2, confident: 0.2},
		{c: 4, spatial: 50, images: 2, ignore: 0.1, levels: 2},
	}
	for _, s := range specs {
		b := makeBatch(r, s)
		for _, cfg := range ruleConfigs() {
			name := fmt.Sprintf("C%d,S%d,I%d/%s", s.c, s.spatial, s.images, configName(cfg))
			t.Run(name, func(t *testing.T) { checkLoss(t, cfg, b) })
		}
	}
}

func TestLossWeightsSmoothingReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	b := makeBatch(r, batchSpec{n: 256, c: 6, images: 2, ignore: 0.15, confident: 0.3})
	weights := []float32{1, 0.5, 2, 0, 3, 1.25}
	for _, rule := range []ohem.Config{{}, {Keep: 20, PerImage: true}, {KeepRatio: 0.5}, {NegPosRatio: 2, Background: 3}, {ProbThreshold: 0.5, MinKept: 10}} {
		for _, w := range [][]float32{nil, weights} {
			for _, eps := range []float32{0, 0.1} {
				if eps != 0 && rule.ProbThreshold != 0 {
					continue
				}
				for _, red := range []ohem.Reduction{ohem.MeanKept, ohem.MeanValid, ohem.Sum} {
					cfg := rule
					cfg.ClassWeights, cfg.LabelSmoothing, cfg.Reduction = w, eps, red
					t.Run(configName(cfg), func(t *testing.T) { checkLoss(t, cfg, b) })
				}
			}
		}
	}
}

// TestLossPerImageAnchors covers the selection by counting (topFew) inside a Loss: per-image groups
// of an RPN-like batch (C = 2, a quarter of the anchors ignored) on both sides of the sizes where
// it samples candidates (ohem.FewSample) or cuts the whole group (ohem.FewDirect), Keep from 1 to
// more than a group holds, with and without KeepTies, ties among the losses, and NegPosRatio,
// whose ranking holds every positive as a NaN.
func TestLossPerImageAnchors(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	per := []int{ohem.FewSample - 1, ohem.FewSample, 3000, ohem.FewDirect + 1}
	if testing.Short() {
		per = []int{ohem.FewSample, 3000}
	}
	for _, n := range per {
		for _, levels := range []int{0, 4} {
			b := makeBatch(r, batchSpec{n: 3 * n, c: 2, images: 3, ignore: 0.25, levels: levels, confident: 0.2})
			for _, cfg := range []ohem.Config{
				{Keep: 1}, {Keep: 64}, {Keep: 256}, {Keep: n / 40}, {Keep: n / 3}, {Keep: n},
				{KeepRatio: 0.02}, {NegPosRatio: 0.05, Background: 0},
			} {
				for _, ties := range []bool{false, true} {
					cfg.PerImage, cfg.KeepTies = true, ties
					name := fmt.Sprintf("per%d,levels%d/%s", n, levels, configName(cfg))
					t.Run(name, func(t *testing.T) { checkLoss(t, cfg, b) })
				}
			}
		}
	}
}

// TestLossExtremes covers wide logit ranges, tiny losses, −Inf classes and large C.
func TestLossExtremes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, s := range []batchSpec{
		{n: 64, c: 2, scale: 1e4, confident: 0.5},
		{n: 64, c: 7, scale: 30, confident: 0.9},
		{n: 16, c: 1000, scale: 3, confident: 0.5},
		{n: 3, c: 65536, scale: 2, confident: 0.7},
		{c: 2, spatial: 30, images: 2, scale: 1e3, confident: 0.5},
	} {
		b := makeBatch(r, s)
		for i := 0; i < len(b.Logits); i += 7 {
			if r.IntN(3) == 0 {
				b.Logits[i] = float32(math.Inf(-1)) // a masked class; a masked target gives +Inf
			}
		}
		for i := range b.Targets { // keep every row with a finite logit
			row := make([]float32, b.Classes)
			for j := range row {
				row[j] = ref.Logit(b.Logits, b.Classes, b.Spatial, i, j)
			}
			if slices.Max(row) == float32(math.Inf(-1)) {
				b.Logits[ref.Index(b.Classes, b.Spatial, i, 0)] = 0
			}
		}
		for _, cfg := range []ohem.Config{{}, {Keep: 5}, {KeepRatio: 0.5, LabelSmoothing: 0.2}, {ProbThreshold: 0.9, MinKept: 2}} {
			t.Run(fmt.Sprintf("C%d,S%d,scale%v/%s", s.c, s.spatial, s.scale, configName(cfg)), func(t *testing.T) {
				checkLoss(t, cfg, b)
			})
		}
	}
}

// centralDifference returns the central difference of loss at every logit of x but those skip
// reports (left 0; skip may be nil), with the step 1/512 (exact in float32 around logits of order
// 1), and the largest magnitude among them. x is left as it was.
func centralDifference(x []float32, skip func(k int) bool, loss func(z []float32) float64) ([]float64, float64) {
	const h = 1.0 / 512
	z := slices.Clone(x)
	fd := make([]float64, len(z))
	peak := 0.0
	for k := range z {
		if skip != nil && skip(k) {
			continue
		}
		orig := z[k]
		z[k] = orig + h
		up := loss(z)
		z[k] = orig - h
		down := loss(z)
		z[k] = orig
		fd[k] = (up - down) / (2 * h)
		peak = max(peak, math.Abs(fd[k]))
	}
	return fd, peak
}

// TestGradientFiniteDifference checks the reference's analytic gradient, which the other tests
// trust, and the package's against a central difference of the float64 loss.
func TestGradientFiniteDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, s := range []batchSpec{{n: 12, c: 4, ignore: 0.2}, {c: 3, spatial: 5, images: 2, ignore: 0.2}} {
		b := makeBatch(r, s)
		for _, cfg := range []ohem.Config{
			{Keep: 5},
			{KeepRatio: 0.5, LabelSmoothing: 0.1, ClassWeights: []float32{1, 2, 0.5, 1}[:s.c], Reduction: ohem.MeanValid},
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
			fd, peak := centralDifference(b.Logits, nil, func(z []float32) float64 {
				return ref.Evaluate(rc, z, b.Targets, b.Classes, b.Spatial, sel).Loss
			})
			analytic := ref.Evaluate(rc, b.Logits, b.Targets, b.Classes, b.Spatial, sel).Grad
			for k := range b.Logits {
				if math.Abs(analytic[k]-fd[k]) > 1e-4*peak {
					t.Fatalf("%s: reference grad[%d] = %v, central difference %v", configName(cfg), k, analytic[k], fd[k])
				}
				if math.Abs(float64(grad[k])-fd[k]) > 1e-4*peak {
					t.Fatalf("%s: grad[%d] = %v, central difference %v", configName(cfg), k, grad[k], fd[k])
				}
			}
		}
	}
}

// transpose turns a planar batch into the equivalent row-major one.
func transpose(b ohem.Batch) ohem.Batch {
	n := len(b.Targets)
	out := ohem.Batch{Logits: make([]float32, len(b.Logits)), Targets: b.Targets, Classes: b.Classes, Images: n / b.Spatial}
	for i := range n {
		for j := range b.Classes {
			out.Logits[i*b.Classes+j] = ref.Logit(b.Logits, b.Classes, b.Spatial, i, j)
		}
	}
	return out
}

func TestPlanarEqualsTransposed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range []int{1, 2, 3, 19} {
		p := makeBatch(r, batchSpec{c: c, spatial: 97, images: 3, ignore: 0.1, confident: 0.3})
		q := transpose(p)
		for _, cfg := range []ohem.Config{{Keep: 30, PerImage: true}, {ProbThreshold: 0.6, MinKept: 20}, {LabelSmoothing: 0.1, KeepRatio: 0.3}} {
			for _, ks := range ohem.KernelSets() {
				cfg.Kernel = ks.Name()
				lp, _ := ohem.New(cfg)
				lq, _ := ohem.New(cfg)
				gp := make([]float32, len(p.Logits))
				gq := make([]float32, len(q.Logits))
				rp, err1 := lp.ForwardBackward(gp, p)
				rq, err2 := lq.ForwardBackward(gq, q)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				for i, v := range lp.Losses() {
					if w := lq.Losses()[i]; math.Abs(float64(v-w)) > 1e-6*math.Abs(float64(w)) {
						t.Fatalf("C=%d %s: planar loss[%d] = %v, row-major %v", c, ks.Name(), i, v, w)
					}
				}
				if !slices.Equal(lp.Selected(), lq.Selected()) || rp.Kept != rq.Kept || !relClose(float64(rp.Loss), float64(rq.Loss), 1e-6) {
					t.Fatalf("C=%d %s %s: planar %+v, row-major %+v", c, ks.Name(), configName(cfg), rp, rq)
				}
				gt := transpose(ohem.Batch{Logits: gp, Targets: p.Targets, Classes: c, Spatial: p.Spatial})
				want := make([]float64, len(gq))
				for i, v := range gq {
					want[i] = float64(v)
				}
				checkGrad(t, ks.Name(), gt.Logits, want, nil, false)
			}
		}
	}
}

// TestWorkersDeterministic checks that Workers changes no bit of any result.
func TestWorkersDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	n := 40000
	if testing.Short() {
		n = 12000
	}
	for _, s := range []batchSpec{{n: n, c: 10, images: 4, ignore: 0.1}, {c: 5, spatial: n / 2, images: 2, ignore: 0.1}} {
		b := makeBatch(r, s)
		for _, ks := range ohem.KernelSets() {
			checkWorkers(t, b, ohem.Config{KeepRatio: 0.3, LabelSmoothing: 0.05, Kernel: ks.Name()})
		}
	}
}

// checkWorkers fails t unless ForwardBackward with cfg gives the same result, losses, selection
// and gradient, bit for bit, with Workers = 1, 2, 3 and 8.
func checkWorkers(t *testing.T, b ohem.Batch, cfg ohem.Config) {
	t.Helper()
	var first ohem.Result
	var losses []float32
	var sel []int32
	var grad0 []float32
	for _, w := range []int{1, 2, 3, 8} {
		cfg.Workers = w
		l, err := ohem.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		grad := make([]float32, len(b.Logits))
		res, err := l.ForwardBackward(grad, b)
		if err != nil {
			t.Fatal(err)
		}
		if w == 1 {
			first, losses, sel, grad0 = res, slices.Clone(l.Losses()), slices.Clone(l.Selected()), grad
			continue
		}
		if res != first || !bitsEqual(l.Losses(), losses) || !slices.Equal(l.Selected(), sel) || !bitsEqual(grad, grad0) {
			t.Fatalf("%s %s: Workers = %d changed the result: %+v vs %+v", cfg.Kernel, configName(cfg), w, res, first)
		}
	}
}

func bitsEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestNoAllocsWhenWarm(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, s := range []batchSpec{{n: 50000, c: 4, images: 2, ignore: 0.1}, {n: 50000, c: 2, images: 2, ignore: 0.1}, {c: 3, spatial: 30000, images: 2}} {
		b := makeBatch(r, s)
		grad := make([]float32, len(b.Logits))
		for _, cfg := range []ohem.Config{{Keep: 100, PerImage: true}, {KeepRatio: 0.7, Workers: 4}, {ProbThreshold: 0.7, MinKept: 1000, Workers: 2}, {NegPosRatio: 3, KeepTies: true}} {
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

// mallocs counts the heap allocations of runs calls of f (testing.AllocsPerRun rounds an
// occasional allocation down to 0), and takes the least of up to 30 trials: the runtime allocates
// now and then by itself (cleanups of earlier tests' Losses; the per-P caches of the sudogs that
// parked workers use, which fill over a few hundred calls when goroutines migrate between Ps,
// slowly under qemu-user). A real allocation in the package shows in every trial.
func mallocs(runs int, f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 30 {
		var before, after runtime.MemStats
		f() // refill the runtime's caches (a GC empties the sudog caches that blocking workers use)
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		least = min(least, after.Mallocs-before.Mallocs)
		if least == 0 {
			break
		}
	}
	return least
}

// TestWorkersExit: the worker goroutines of a Loss end once the Loss is unreachable.
func TestWorkersExit(t *testing.T) {
	base := settledGoroutines()
	func() {
		l, err := ohem.New(ohem.Config{Workers: 4})
		if err != nil {
			t.Fatal(err)
		}
		b := makeBatch(rand.New(rand.NewPCG(9, 9)), batchSpec{n: 100000, c: 4})
		if _, err := l.Forward(b); err != nil {
			t.Fatal(err)
		}
		if n := runtime.NumGoroutine(); n <= base {
			t.Fatalf("%d goroutines with a 4-worker Loss, %d before it", n, base)
		}
	}()
	for range 200 {
		runtime.GC()
		if runtime.NumGoroutine() <= base {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d goroutines remain after the Loss became unreachable, want %d", runtime.NumGoroutine(), base)
}

// TestEmptySelections: an empty batch, an all-ignored batch and all-zero weights reduce to 0, keep
// nothing where nothing is valid, and zero the gradient; no NaN anywhere.
func TestEmptySelections(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	allIgnored := makeBatch(r, batchSpec{n: 50, c: 3})
	for i := range allIgnored.Targets {
		allIgnored.Targets[i] = -100
	}
	cases := []struct {
		name string
		b    ohem.Batch
		w    []float32
	}{
		{"empty", ohem.Batch{Classes: 3}, nil},
		{"empty planar", ohem.Batch{Classes: 3, Spatial: 4}, nil},
		{"all ignored", allIgnored, nil},
		{"zero weights", makeBatch(r, batchSpec{n: 50, c: 3}), []float32{0, 0, 0}},
	}
	for _, tc := range cases {
		for _, cfg := range ruleConfigs() {
			for _, red := range []ohem.Reduction{ohem.MeanKept, ohem.MeanValid, ohem.Sum} {
				cfg.Reduction, cfg.ClassWeights = red, tc.w
				l, err := ohem.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				grad := make([]float32, len(tc.b.Logits))
				for i := range grad {
					grad[i] = 7
				}
				res, err := l.ForwardBackward(grad, tc.b)
				if err != nil {
					t.Fatalf("%s %s: %v", tc.name, configName(cfg), err)
				}
				if res.Loss != 0 || (tc.w == nil && (res.Kept != 0 || res.Threshold != 0)) {
					t.Fatalf("%s %s: %+v, want a zero Loss and nothing kept", tc.name, configName(cfg), res)
				}
				for i, g := range grad {
					if g != 0 {
						t.Fatalf("%s %s: grad[%d] = %v, want 0", tc.name, configName(cfg), i, g)
					}
				}
			}
		}
	}
}

// TestInfiniteLoss: a −Inf target logit gives +Inf, which ranks first and makes the loss +Inf;
// with weight 0 it adds nothing.
func TestInfiniteLoss(t *testing.T) {
	b := ohem.Batch{Logits: []float32{0, 1, float32(math.Inf(-1)), 2, 3, 0}, Targets: []int32{0, 0, 1}, Classes: 2}
	l, _ := ohem.New(ohem.Config{Keep: 1})
	res, err := l.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(float64(res.Loss), 1) || !slices.Equal(l.Selected(), []int32{1}) {
		t.Fatalf("got %+v selected %v, want +Inf from sample 1", res, l.Selected())
	}
	l, _ = ohem.New(ohem.Config{ClassWeights: []float32{1, 0}, Keep: 2})
	b.Targets = []int32{0, 1, 1}
	b.Logits[2], b.Logits[3] = 5, float32(math.Inf(-1)) // sample 1, target 1: +Inf loss, weight 0
	res, err = l.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(float64(res.Loss)) || math.IsInf(float64(res.Loss), 0) {
		t.Fatalf("got %+v, want a finite loss when the infinite term has weight 0", res)
	}
}

func TestKernelEnvironment(t *testing.T) {
	if os.Getenv("OHEM_TEST_CHILD") != "" {
		fmt.Println(ohem.Kernel())
		fmt.Println(errors.Is(ohem.KernelEnv(), ohem.ErrConfig))
		return
	}
	if env := os.Getenv("OHEM_KERNEL"); env != "" && ohem.Kernel() != strings.TrimSpace(env) {
		// A per-set run of the suite (CI's OHEM_KERNEL=avx2 ...) must run the set it names.
		t.Errorf("OHEM_KERNEL=%q, but the suite runs on %q: %v", env, ohem.Kernel(), ohem.KernelEnv())
	}
	best := ohem.KernelSets()[0].Name()
	for _, tc := range []struct {
		env, want string
		ignored   bool
	}{{"generic", "generic", false}, {"no-such-set", best, true}, {"", best, false}, {" generic ", "generic", false}} {
		out, err := testexec.Output(false, []string{"OHEM_TEST_CHILD=1", "OHEM_KERNEL=" + tc.env}, os.Args[0], "-test.run=^TestKernelEnvironment$")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(out), "\n", 3)
		if len(lines) < 2 || lines[0] != tc.want || lines[1] != fmt.Sprint(tc.ignored) {
			t.Errorf("OHEM_KERNEL=%q: Kernel() and KernelEnv() reported %q, want %q and ignored = %v", tc.env, lines[:min(2, len(lines))], tc.want, tc.ignored)
		}
	}
	if sets := ohem.KernelSets(); sets[len(sets)-1].Name() != "generic" {
		t.Errorf("the last kernel set is %q, want generic", sets[len(sets)-1].Name())
	}
}

// TestSmoothingWideLogits: with label smoothing, logits that span more than the float32 range
// still give the finite smoothed loss, on every set and in both layouts (FuzzLoss found a planar
// kernel returning +Inf here).
func TestSmoothingWideLogits(t *testing.T) {
	const n = 6 // samples: more than one vector of positions on every set
	for _, tc := range []struct {
		z   []float32
		eps float32
	}{
		{[]float32{5.968750264542124e+30, -1.112499961960855e+31, -3.5000001282239955e+30, 6.77953247474172e+35, math.MaxFloat32}, 0.1},
		// ε/C underflows float32 and the spread is +Inf: the loss is +Inf, not NaN.
		{[]float32{0, 1, float32(math.Inf(-1)), 2, 0.5, 3, 1, 0}, math.SmallestNonzeroFloat32},
	} {
		c := len(tc.z)
		want := ref.CrossEntropy(tc.z, c, 0, 0, 1, float64(tc.eps))
		if math.IsNaN(want) || tc.eps == 0.1 && (math.IsInf(want, 0) || want > math.MaxFloat32) {
			t.Fatalf("reference %v: the case needs a finite loss", want)
		}
		rows := make([]float32, 0, n*c)
		planar := make([]float32, n*c)
		targets := make([]int32, n)
		for i := range n {
			rows = append(rows, tc.z...)
			targets[i] = 1
			for j, v := range tc.z {
				planar[j*n+i] = v
			}
		}
		for _, ks := range ohem.KernelSets() {
			for _, b := range []ohem.Batch{{Logits: rows, Targets: targets, Classes: c}, {Logits: planar, Targets: targets, Classes: c, Spatial: n}} {
				l, err := ohem.New(ohem.Config{LabelSmoothing: tc.eps, Kernel: ks.Name()})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := l.Forward(b); err != nil {
					t.Fatalf("%s, Spatial %d, eps %v: %v", ks.Name(), b.Spatial, tc.eps, err)
				}
				for i, got := range l.Losses() {
					if !(ref.CEWithin(got, want) || math.IsInf(want, 1) && math.IsInf(float64(got), 1)) {
						t.Errorf("%s, Spatial %d, eps %v: loss[%d] %v, want %v", ks.Name(), b.Spatial, tc.eps, i, got, want)
					}
				}
			}
		}
	}
}

// TestForwardBackwardInPlace: grad may be the logits themselves; every set then gives the same
// result, and the gradient of a separate buffer within the API's bound (bit for bit but where a
// separate buffer takes the fused loss-and-gradient path, which in place is off). NEON tails
// overlap the previous vector, so they must read before anything is stored; the fused path zeroes
// rows early and may read a row's logits again.
func TestForwardBackwardInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	specs := []batchSpec{{spatial: 7, images: 2, c: 5}, {spatial: 37, images: 3, c: 19}, {spatial: 1029, images: 1, c: 3},
		{n: 700, c: 67, ignore: 0.05}, {n: 300, c: 1003}}
	for _, c := range []int{1, 2, 3, 4, 5, 7, 8, 10, 11, 13, 21, 25, 67, 1003} {
		specs = append(specs, batchSpec{n: 45, c: c, ignore: 0.1})
	}
	for _, s := range specs {
		b := makeBatch(r, s)
		for _, ks := range ohem.KernelSets() {
			for _, cfg := range []ohem.Config{{KeepRatio: 0.9}, {KeepRatio: 0.6, LabelSmoothing: 0.1, Workers: 2}} {
				cfg.Kernel = ks.Name()
				checkInPlace(t, fmt.Sprintf("%s C=%d Spatial=%d %s", ks.Name(), s.c, s.spatial, configName(cfg)), b, cfg)
			}
		}
	}
}

// checkInPlace runs ForwardBackward of cfg on b into a separate buffer and in place (grad is a copy
// of the logits): the same Result, and the in-place gradient within the bound of the other.
func checkInPlace(t *testing.T, what string, b ohem.Batch, cfg ohem.Config) {
	t.Helper()
	l, err := ohem.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(b.Logits))
	wres, err := l.ForwardBackward(want, b)
	if err != nil {
		t.Fatal(err)
	}
	in := b
	in.Logits = slices.Clone(b.Logits)
	res, err := l.ForwardBackward(in.Logits, in)
	if err != nil {
		t.Fatal(err)
	}
	if res != wres {
		t.Errorf("%s: in place %+v, want %+v", what, res, wres)
	}
	want64 := make([]float64, len(want))
	for i, v := range want {
		want64[i] = float64(v)
	}
	checkGrad(t, what+" in place", in.Logits, want64, nil, false)
}

// TestSparseGradient: selections that keep a few per cent of the rows, of 2 to 200 classes (the
// gradient kernels then write mostly zeros; C = 2 takes the gradient of the kept rows alone,
// sparseGradient). Against the reference, with Workers (bit for bit) and
// in place: Keep per image, a small KeepRatio, and SSD's NegPosRatio with 2% positives, with class
// weights and label smoothing.
func TestSparseGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 9))
	for _, c := range []int{2, 3, 8, 21, 81, 200} {
		b := makeBatch(r, batchSpec{n: 2400, c: c, images: 3, ignore: 0.05, confident: 0.3})
		for i, ti := range b.Targets {
			if ti >= 0 && r.Float64() < 0.98 {
				b.Targets[i] = 0 // background
			}
		}
		w := make([]float32, c)
		for j := range w {
			w[j] = float32(0.5 + r.Float64())
		}
		for _, cfg := range []ohem.Config{
			{Keep: 40, PerImage: true},
			{KeepRatio: 0.05, LabelSmoothing: 0.1},
			{NegPosRatio: 3, PerImage: true, Reduction: ohem.Sum},
			{NegPosRatio: 3, ClassWeights: w, LabelSmoothing: 0.05},
		} {
			t.Run(fmt.Sprintf("C%d/%s", c, configName(cfg)), func(t *testing.T) {
				checkLoss(t, cfg, b)
				for _, ks := range ohem.KernelSets() {
					cfg.Kernel = ks.Name()
					checkWorkers(t, b, cfg)
					checkInPlace(t, ks.Name()+" "+configName(cfg), b, cfg)
				}
			})
		}
	}
}
