package ohem_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ohem-go/ohem"
)

// The fused ForwardBackward of row-major batches with more classes than the small-C kernels take
// (ceGradRows): the rules it serves, those it does not, the rows predicted dropped that are kept
// after all, KeepTies keeping more rows than foreseen, against the float64 reference (checkLoss).

func TestFusedRows(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	specs := []batchSpec{
		{n: 300, c: 25, ignore: 0.1},
		{n: 200, c: 100, images: 2, ignore: 0.2, confident: 0.3},
		{n: 200, c: 33, levels: 2, scale: 0.5}, // ties
		{n: 130, c: 1000, ignore: 0.05, scale: 3},
		{n: 257, c: 40, ignore: 1},                    // nothing valid
		{n: 300, c: 300, ignore: 0.1, confident: 0.2}, // the medium kernels' fused path
	}
	if testing.Short() {
		specs = specs[:3]
	}
	configs := []ohem.Config{
		{}, {Keep: 50}, {Keep: 30, PerImage: true}, {Keep: 1000},
		{KeepRatio: 0.7}, {KeepRatio: 0.7, KeepTies: true}, {KeepRatio: 0.7, PerImage: true},
		{KeepRatio: 0.6, Reduction: ohem.MeanValid}, {KeepRatio: 0.5, Reduction: ohem.Sum},
		{KeepRatio: 0.7, LabelSmoothing: 0.1}, {KeepRatio: 0.2}, {KeepRatio: 1},
		{KeepRatio: 0.7, ClassWeights: make([]float32, 0)}, // replaced below by C weights
		{ProbThreshold: 0.5, MinKept: 10},
	}
	for _, s := range specs {
		b := makeBatch(r, s)
		for _, cfg := range configs {
			if cfg.ClassWeights != nil {
				cfg.ClassWeights = make([]float32, s.c)
				for j := range cfg.ClassWeights {
					cfg.ClassWeights[j] = float32(r.Float64() * 2)
				}
			}
			t.Run(fmt.Sprintf("C%d,I%d,levels%d/%s", s.c, s.images, s.levels, configName(cfg)), func(t *testing.T) { checkLoss(t, cfg, b) })
		}
	}
}

// TestFusedMispredicted: the first rows have high losses and the later ones low losses, so that the
// drop prediction, made from the losses of the rows before, drops rows that are kept after all.
func TestFusedMispredicted(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 22))
	for _, n := range []int{200, 600} {
		b := makeBatch(r, batchSpec{n: n, c: 50, ignore: 0.05})
		for i, ti := range b.Targets {
			if ti < 0 {
				continue
			}
			d := float32(-3) // a wrong prediction: a high loss
			if i >= n/4 {
				d = float32(3 + 2*r.Float64()) // confident: a low loss
			}
			b.Logits[i*b.Classes+int(ti)] += d
		}
		for _, cfg := range []ohem.Config{{KeepRatio: 0.7}, {KeepRatio: 0.9}, {Keep: n / 2}} {
			t.Run(fmt.Sprintf("N%d/%s", n, configName(cfg)), func(t *testing.T) { checkLoss(t, cfg, b) })
		}
	}
}

// TestFusedWorkersDeterministic: the fused path gives the same bits whatever Workers is, although
// each worker predicts drops from the rows it has seen.
func TestFusedWorkersDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 23))
	n := 3000
	if testing.Short() {
		n = 1200
	}
	b := makeBatch(r, batchSpec{n: n, c: 100, images: 3, ignore: 0.1, confident: 0.2})
	for _, ks := range ohem.KernelSets() {
		for _, cfg := range []ohem.Config{{KeepRatio: 0.7}, {Keep: n / 3, PerImage: true}, {KeepRatio: 0.8, LabelSmoothing: 0.05}} {
			cfg.Kernel = ks.Name()
			checkWorkers(t, b, cfg)
		}
	}
}

func TestFusedNoAllocsWhenWarm(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := rand.New(rand.NewPCG(24, 24))
	b := makeBatch(r, batchSpec{n: 2000, c: 100, ignore: 0.1})
	grad := make([]float32, len(b.Logits))
	for _, cfg := range []ohem.Config{{KeepRatio: 0.7}, {KeepRatio: 0.7, Workers: 4}, {Keep: 1500, Workers: 2}} {
		l, err := ohem.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.ForwardBackward(grad, b); err != nil {
			t.Fatal(err)
		}
		if a := mallocs(20, func() { l.ForwardBackward(grad, b) }); a != 0 {
			t.Errorf("%s: ForwardBackward allocated %d times in 20 calls", configName(cfg), a)
		}
	}
}
