// Package workload defines the benchmark workloads shared by cmd/ohem and bench/: the shapes and
// configurations of the PyTorch baseline in bench/torch/ohem_torch.py, with seeded, deterministic
// data (standard normal logits, uniform targets; not the same numbers as PyTorch's generator).
//
// A workload is built on first use and then cached for the life of the process, so building one is
// paid once however many kernel sets are measured on it. seg (20M logits, 84 MB with its targets)
// and dbnet (6.5M logits, 52 MB) are large: they are only built when asked for by name.
package workload

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"

	"github.com/ohem-go/ohem"
)

// A Workload is either a loss workload (Batch and Config: Forward, ForwardBackward, CrossEntropy)
// or a selection workload (X and K: KthLargest(X, K)).
type Workload struct {
	Name string
	Desc string

	Batch  ohem.Batch
	Config ohem.Config

	X []float32
	K int
}

// IsKth reports whether w is a selection workload.
func (w Workload) IsKth() bool { return w.Batch.Logits == nil }

// Elems is the number of float32 inputs of one call: the logits, or len(X).
func (w Workload) Elems() int {
	if w.IsKth() {
		return len(w.X)
	}
	return len(w.Batch.Logits)
}

// Bytes is the input a call reads, for b.SetBytes: 4 bytes per logit and per target, or per element of X.
func (w Workload) Bytes() int64 {
	if w.IsKth() {
		return 4 * int64(len(w.X))
	}
	return 4 * int64(len(w.Batch.Logits)+len(w.Batch.Targets))
}

// Samples is the number of samples of a loss workload (the length of Targets).
func (w Workload) Samples() int { return len(w.Batch.Targets) }

type spec struct {
	name, desc string
	build      func() Workload
	once       sync.Once
	w          Workload
}

// The seeds (one per workload) are fixed, so every run measures the same data.
var specs = []*spec{
	{name: "rpn", desc: "RPN: 8 images x 8192 anchors, C=2, 25% ignored, keep 256 per image", build: func() Workload {
		const images, anchors = 8, 8192
		return Workload{
			Batch:  rows(10, images*anchors, 2, 0.25, images),
			Config: ohem.Config{Keep: 256, PerImage: true},
		}
	}},
	{name: "cls", desc: "classification: 4096 x 1000, keep ratio 0.7", build: func() Workload {
		return Workload{Batch: rows(20, 4096, 1000, 0, 0), Config: ohem.Config{KeepRatio: 0.7}}
	}},
	{name: "seg", desc: "segmentation: NCHW 2x19x512x1024, 5% ignored, prob < 0.7, min kept 100000", build: func() Workload {
		const n, c, s = 2, 19, 512 * 1024
		r := rng(30)
		t := make([]int32, n*s)
		for i := range t {
			t[i] = int32(r.IntN(c))
			if r.Float64() < 0.05 {
				t[i] = -1
			}
		}
		return Workload{
			Batch:  ohem.Batch{Logits: normals(31, n*c*s), Targets: t, Classes: c, Spatial: s},
			Config: ohem.Config{ProbThreshold: 0.7, MinKept: 100000},
		}
	}},
	{name: "lm", desc: "language model: 256 x 32000, keep ratio 0.7", build: func() Workload {
		return Workload{Batch: rows(40, 256, 32000, 0, 0), Config: ohem.Config{KeepRatio: 0.7}}
	}},
	{name: "kth_1e5", desc: "KthLargest: 1e5 uniform floats, k = 30%", build: func() Workload { return kth(50, 100000) }},
	{name: "kth_1e7", desc: "KthLargest: 1e7 uniform floats, k = 30%", build: func() Workload { return kth(60, 10000000) }},
	{name: "dbnet", desc: "DBNet balanced BCE: Sigmoid 16x640x640 map, 10% positive, 2% ignored, 3 negatives per positive, sum", build: dbnet},
}

// dbnet is DBNet's BalanceCrossEntropyLoss on its probability map's logits: a planar Sigmoid batch
// [16][1][640·640], standard normal logits, each pixel text (1) with probability 0.1 and ignored
// (-1, DBNet's mask 0) with probability 0.02; every positive and the 3 hardest negatives per
// positive over the batch, summed (the caller divides by Kept = positives + negatives kept).
func dbnet() Workload {
	const images, s = 16, 640 * 640
	r := rng(80)
	t := make([]int32, images*s)
	for i := range t {
		switch u := r.Float64(); {
		case u < 0.02:
			t[i] = -1
		case u < 0.12:
			t[i] = 1
		}
	}
	return Workload{
		Batch:  ohem.Batch{Logits: normals(81, images*s), Targets: t, Classes: 1, Spatial: s, Sigmoid: true},
		Config: ohem.Config{NegPosRatio: 3, Background: 0, Reduction: ohem.Sum},
	}
}

// Names returns every workload's name, in the order of the benchmarks.
func Names() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}

// Desc describes the named workload without building it ("" for an unknown name).
func Desc(name string) string {
	if s := lookup(name); s != nil {
		return s.desc
	}
	return ""
}

// Get returns the named workload, building it on first use. The returned slices are shared: do not
// modify them.
func Get(name string) (Workload, error) {
	s := lookup(name)
	if s == nil {
		return Workload{}, fmt.Errorf("unknown workload %q (have %s)", name, strings.Join(Names(), ", "))
	}
	s.once.Do(func() {
		s.w = s.build()
		s.w.Name, s.w.Desc = s.name, s.desc
	})
	return s.w, nil
}

// All returns every workload, building each (about 175 MB in all, half of it seg).
func All() []Workload {
	out := make([]Workload, len(specs))
	for i, s := range specs {
		out[i], _ = Get(s.name)
	}
	return out
}

func lookup(name string) *spec {
	for _, s := range specs {
		if s.name == name {
			return s
		}
	}
	return nil
}

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6f68656d)) }

// rows is a row-major batch of n samples: standard normal logits, uniform targets, each ignored
// (-1) with probability ignore.
func rows(seed uint64, n, c int, ignore float64, images int) ohem.Batch {
	r := rng(seed)
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(r.IntN(c))
		if ignore > 0 && r.Float64() < ignore {
			t[i] = -1
		}
	}
	return ohem.Batch{Logits: normals(seed+1, n*c), Targets: t, Classes: c, Images: images}
}

// normals returns n standard normal float32s. The values depend only on seed and n: chunk i is drawn
// from its own stream, so the chunks can be filled in parallel.
func normals(seed uint64, n int) []float32 {
	const chunk = 1 << 20
	x := make([]float32, n)
	chunks := (n + chunk - 1) / chunk
	work := make(chan int, chunks)
	for i := range chunks {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				for j := i * chunk; j < min(n, (i+1)*chunk); j++ {
					x[j] = float32(r.NormFloat64())
				}
			}
		}()
	}
	wg.Wait()
	return x
}

// kth is a selection workload: n uniform floats in [0, 1), k = 30% of n.
func kth(seed uint64, n int) Workload {
	r := rng(seed)
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()
	}
	return Workload{X: x, K: int(0.3 * float64(n))}
}
