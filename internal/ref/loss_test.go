package ref

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

type batch struct {
	logits  []float32
	targets []int32
	C, S    int
	images  int
}

func randomBatch(r *rand.Rand, planar bool) batch {
	b := batch{C: 1 + r.IntN(6), images: 1 + r.IntN(3)}
	per := 1 + r.IntN(8)
	n := b.images * per
	if planar {
		b.S = per
	}
	b.logits = make([]float32, n*b.C)
	for j := range b.logits {
		b.logits[j] = float32(r.NormFloat64() * 3)
	}
	b.targets = make([]int32, n)
	for i := range b.targets {
		b.targets[i] = int32(r.IntN(b.C+1) - 1)
	}
	return b
}

func randomConfig(r *rand.Rand, C int) Config {
	cfg := randomRule(r)
	if r.IntN(2) == 0 {
		cfg.ClassWeights = make([]float32, C)
		for j := range cfg.ClassWeights {
			cfg.ClassWeights[j] = float32(r.IntN(4)) * 0.75
		}
	}
	if cfg.ProbThreshold == 0 && r.IntN(2) == 0 {
		cfg.LabelSmoothing = 0.1
	}
	cfg.Reduction = r.IntN(3)
	if cfg.NegPosRatio > 0 {
		cfg.Background = int32(r.IntN(C))
	}
	return cfg
}

// Row-major and planar layouts of the same samples give the same results.
func TestLayouts(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 300; trial++ {
		rm := randomBatch(r, false)
		n := len(rm.targets)
		S := n / rm.images
		pl := batch{logits: make([]float32, len(rm.logits)), targets: rm.targets, C: rm.C, S: S}
		seen := make([]bool, len(rm.logits))
		for i := 0; i < n; i++ {
			for j := 0; j < rm.C; j++ {
				img, pos := i/S, i%S
				p := (img*rm.C+j)*S + pos
				if Index(rm.C, S, i, j) != p || Index(rm.C, 0, i, j) != i*rm.C+j || seen[p] {
					t.Fatalf("Index(%d, %d, %d, %d) wrong", rm.C, S, i, j)
				}
				seen[p] = true
				pl.logits[p] = rm.logits[i*rm.C+j]
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < rm.C; j++ {
				if Logit(pl.logits, pl.C, S, i, j) != Logit(rm.logits, rm.C, 0, i, j) {
					t.Fatal("Logit differs between layouts")
				}
			}
		}
		if NumSamples(pl.logits, pl.C) != n {
			t.Fatal("NumSamples")
		}
		cfg := randomConfig(r, rm.C)
		a := Loss(cfg, rm.logits, rm.targets, rm.C, 0, rm.images)
		b := Loss(cfg, pl.logits, pl.targets, pl.C, S, 0)
		if a.Loss != b.Loss || a.Kept != b.Kept || a.Valid != b.Valid || a.Threshold != b.Threshold ||
			!slices.Equal(a.Losses, b.Losses) || !slices.Equal(a.Selected, b.Selected) {
			t.Fatalf("layouts differ: %+v vs %+v", a, b)
		}
		for i := 0; i < n; i++ {
			for j := 0; j < rm.C; j++ {
				if a.Grad[Index(rm.C, 0, i, j)] != b.Grad[Index(pl.C, S, i, j)] {
					t.Fatal("gradients differ between layouts")
				}
			}
		}
	}
}

// The whole loss's gradient against central finite differences, the selection held fixed.
func TestLossGradientFiniteDifferences(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 400; trial++ {
		b := randomBatch(r, r.IntN(2) == 0)
		cfg := randomConfig(r, b.C)
		z := widen(b.logits)
		eps := float64(cfg.LabelSmoothing)
		selected, _ := Select64(cfg, losses64(z, b.targets, b.C, b.S, eps), b.targets, b.S, b.images)
		f := func(z []float64) float64 {
			l, _ := Reduce(cfg, losses64(z, b.targets, b.C, b.S, eps), b.targets, selected)
			return l
		}
		g := gradient64(cfg, z, b.targets, b.C, b.S, selected)
		for p := range z {
			const h = 1e-5
			zp, zm := slices.Clone(z), slices.Clone(z)
			zp[p] += h
			zm[p] -= h
			fd := (f(zp) - f(zm)) / (zp[p] - zm[p])
			if math.Abs(fd-g[p]) > 1e-8 {
				t.Fatalf("cfg %+v: grad[%d] = %v, finite difference %v", cfg, p, g[p], fd)
			}
		}
		// Unkept and ignored samples have exactly zero gradient.
		for i := range b.targets {
			if slices.Contains(selected, int32(i)) {
				continue
			}
			for j := 0; j < b.C; j++ {
				if g[Index(b.C, b.S, i, j)] != 0 {
					t.Fatalf("unkept sample %d has gradient", i)
				}
			}
		}
		res := Loss(cfg, b.logits, b.targets, b.C, b.S, b.images)
		if !slices.Equal(res.Selected, selected) || !slices.Equal(res.Grad, g) || res.Loss != f(z) {
			t.Fatal("Loss disagrees with its parts")
		}
		ev := Evaluate(cfg, b.logits, b.targets, b.C, b.S, selected)
		if ev.Loss != res.Loss || !slices.Equal(ev.Grad, res.Grad) || ev.Threshold != res.Threshold {
			t.Fatal("Evaluate disagrees with Loss")
		}
		if !slices.Equal(Gradient(cfg, b.logits, b.targets, b.C, b.S, selected), g) {
			t.Fatal("Gradient disagrees")
		}
	}
}

// Result's counts and the zero config.
func TestLossBasics(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 300; trial++ {
		b := randomBatch(r, r.IntN(2) == 0)
		res := Loss(Config{}, b.logits, b.targets, b.C, b.S, b.images)
		valid, sum := 0, 0.0
		thr := math.Inf(1)
		for i, tg := range b.targets {
			if tg < 0 {
				if res.Losses[i] != 0 {
					t.Fatal("ignored sample has a loss")
				}
				continue
			}
			valid++
			l := CrossEntropy(b.logits, b.C, b.S, i, tg, 0)
			if res.Losses[i] != l {
				t.Fatal("Losses differ from CrossEntropy")
			}
			sum += l
			thr = math.Min(thr, l)
		}
		if res.Valid != valid || res.Kept != valid || len(res.Selected) != valid {
			t.Fatalf("zero config: valid %d kept %d, want %d", res.Valid, res.Kept, valid)
		}
		if valid == 0 {
			if res.Loss != 0 || res.Threshold != 0 {
				t.Fatalf("nothing valid: loss %v threshold %v", res.Loss, res.Threshold)
			}
			continue
		}
		if !relClose(res.Loss, sum/float64(valid), 1e-14) || res.Threshold != thr {
			t.Fatalf("zero config: loss %v (want mean %v), threshold %v (want %v)", res.Loss, sum/float64(valid), res.Threshold, thr)
		}
	}
}

// Integer class weights are the same as repeating each sample that many times.
func TestReduceWeightsAsRepetition(t *testing.T) {
	r := newRand(t)
	for trial := 0; trial < 2000; trial++ {
		C := 1 + r.IntN(4)
		n := r.IntN(10)
		cfg := Config{ClassWeights: make([]float32, C), Reduction: r.IntN(3)}
		for j := range cfg.ClassWeights {
			cfg.ClassWeights[j] = float32(r.IntN(4))
		}
		losses := make([]float64, n)
		targets := make([]int32, n)
		var selected []int32
		var repL []float64
		var repT []int32
		var repS []int32
		for i := range losses {
			targets[i] = int32(r.IntN(C+1) - 1)
			if targets[i] >= 0 {
				losses[i] = r.ExpFloat64()
			}
			kept := targets[i] >= 0 && r.IntN(2) == 0
			if kept {
				selected = append(selected, int32(i))
			}
			reps := 1
			if targets[i] >= 0 {
				reps = int(cfg.ClassWeights[targets[i]])
			}
			for range reps {
				if kept {
					repS = append(repS, int32(len(repL)))
				}
				repL = append(repL, losses[i])
				repT = append(repT, targets[i])
			}
		}
		got, _ := Reduce(cfg, losses, targets, selected)
		want, _ := Reduce(Config{Reduction: cfg.Reduction}, repL, repT, repS)
		if !relClose(got, want, 1e-14) {
			t.Fatalf("weighted %v, repeated %v", got, want)
		}
	}
}

func TestReduceEdges(t *testing.T) {
	inf := math.Inf(1)
	losses := []float64{inf, 1, 3, 0}
	targets := []int32{0, 1, 1, -1}
	w := []float32{0, 2}
	all := sel(0, 1, 2)
	for _, c := range []struct {
		cfg      Config
		selected []int32
		want     float64
	}{
		// weight 0 with an infinite loss contributes 0
		{Config{ClassWeights: w}, all, (2*1 + 2*3) / 4.0},
		{Config{ClassWeights: w, Reduction: MeanValid}, sel(1), 2 * 1 / 4.0},
		{Config{ClassWeights: w, Reduction: Sum}, all, 2*1 + 2*3},
		// nothing kept, or a zero denominator: 0, never NaN
		{Config{}, nil, 0},
		{Config{Reduction: MeanValid}, nil, 0},
		{Config{Reduction: Sum}, nil, 0},
		{Config{ClassWeights: w}, sel(0), 0},
		{Config{ClassWeights: []float32{0, 0}, Reduction: MeanValid}, all, 0},
		// an infinite loss with a positive weight is ranked and reduced like any other
		{Config{}, all, inf},
		{Config{Reduction: MeanValid}, sel(1, 2), (1 + 3) / 3.0},
	} {
		got, _ := Reduce(c.cfg, losses, targets, c.selected)
		if got != c.want {
			t.Errorf("Reduce(%+v, %v) = %v, want %v", c.cfg, c.selected, got, c.want)
		}
	}
	// A zero denominator gives a zero gradient, an infinite loss a finite one.
	logits := []float32{float32(math.Inf(-1)), 0, 1, 2, 3, 4}
	g := Gradient(Config{ClassWeights: w}, logits, targets[:3], 2, 0, sel(0))
	if slices.ContainsFunc(g, func(v float64) bool { return v != 0 }) {
		t.Errorf("zero-denominator gradient %v", g)
	}
	res := Loss(Config{}, logits, targets[:3], 2, 0, 0)
	if !math.IsInf(res.Loss, 1) || slices.ContainsFunc(res.Grad, func(v float64) bool { return math.IsInf(v, 0) || math.IsNaN(v) }) {
		t.Errorf("infinite loss: %v, gradient %v", res.Loss, res.Grad)
	}
}

// Select on the float32-rounded reference losses agrees with Loss's float64 selection
// whenever the rounding merges no two distinct losses.
func TestSelectOnFloat32Losses(t *testing.T) {
	r := newRand(t)
	checked := 0
	for trial := 0; trial < 1000; trial++ {
		b := randomBatch(r, r.IntN(2) == 0)
		cfg := randomConfig(r, b.C)
		res := Loss(cfg, b.logits, b.targets, b.C, b.S, b.images)
		l32 := make([]float32, len(res.Losses))
		for i, v := range res.Losses {
			l32[i] = float32(v)
		}
		merged := false
		for i := range l32 {
			for j := range l32 {
				if l32[i] == l32[j] && res.Losses[i] != res.Losses[j] {
					merged = true
				}
			}
		}
		if merged || cfg.ProbThreshold > 0 {
			continue // rounding can move a loss across the threshold
		}
		checked++
		got, thr := Select(cfg, l32, b.targets, b.S, b.images)
		if !slices.Equal(got, res.Selected) || thr != float32(res.Threshold) {
			t.Fatalf("cfg %+v: Select %v (threshold %v), Loss %v (threshold %v)", cfg, got, thr, res.Selected, res.Threshold)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d trials checked", checked)
	}
}
