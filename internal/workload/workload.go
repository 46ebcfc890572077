// Package workload defines the benchmark workloads shared by cmd/ohem and bench/: the shapes and
// configurations of the PyTorch baseline in bench/torch/ohem_torch.py, with seeded, deterministic
// data (standard normal logits, uniform targets; not the same numbers as PyTorch's generator).
//
// A workload is built on first use and then cached for the life of the process, so building one is
// paid once however many kernel sets are measured on it. seg (20M logits, 84 MB with its targets),
// ssd81 (23M logits, 92 MB) and dbnet (6.5M logits, 52 MB) are large: they are only built when asked
// for by name.
//
// The class-count sweep (SweepRows, SweepPlanar) is not a named workload: it measures the kernels
// on about SweepElems logits per call for each of SweepClasses.
package workload

import (
	"fmt"
	"math/bits"
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
	{name: "ssd21", desc: "SSD (VOC): 32 images x 8732 anchors, C=21, ~1% positive, 3 negatives per positive per image, sum", build: func() Workload {
		return ssd(70, 21)
	}},
	{name: "ssd81", desc: "SSD (COCO): 32 images x 8732 anchors, C=81, ~1% positive, 3 negatives per positive per image, sum", build: func() Workload {
		return ssd(80, 81)
	}},
	{name: "roi81", desc: "OHEM RoI head (COCO): 2 images x 2000 RoIs, C=81, 25% foreground, keep 64 per image", build: func() Workload {
		const images, rois = 2, 2000
		r := rng(90)
		t := make([]int32, images*rois)
		for i := range t {
			if r.Float64() < 0.25 {
				t[i] = 1 + int32(r.IntN(80))
			}
		}
		return Workload{
			Batch:  ohem.Batch{Logits: normals(91, len(t)*81), Targets: t, Classes: 81, Images: images},
			Config: ohem.Config{Keep: 64, PerImage: true},
		}
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
	r := rng(100)
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
		Batch:  ohem.Batch{Logits: normals(101, images*s), Targets: t, Classes: 1, Spatial: s, Sigmoid: true},
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

// All returns every workload, building each (about 300 MB in all, 176 MB of it seg and ssd81).
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

// SSD's shape (SSD300: 8,732 default boxes per image) and its hard negative mining.
const (
	SSDImages   = 32
	SSDAnchors  = 8732
	SSDPositive = 0.01 // the fraction of anchors matched to an object
)

// ssd is torchvision SSD's classification loss on a batch of SSDImages images of SSDAnchors
// anchors and c classes, class 0 the background: each anchor is positive (a uniform class in
// 1..c-1) with probability SSDPositive, background otherwise; none is ignored. The rule keeps every
// positive and 3 times as many of the hardest negatives, per image, and sums them (SSD then divides
// by the number of positives, outside the loss).
func ssd(seed uint64, c int) Workload {
	r := rng(seed)
	t := make([]int32, SSDImages*SSDAnchors)
	for i := range t {
		if r.Float64() < SSDPositive {
			t[i] = 1 + int32(r.IntN(c-1))
		}
	}
	return Workload{
		Batch:  ohem.Batch{Logits: normals(seed+1, len(t)*c), Targets: t, Classes: c, Images: SSDImages},
		Config: ohem.Config{NegPosRatio: 3, Background: 0, PerImage: true, Reduction: ohem.Sum},
	}
}

// SweepElems is the number of logits per call of the class-count sweep (ohem bench -sweep): 4Mi.
const SweepElems = 1 << 22

// SweepClasses are the class counts of the sweep: the small counts the kernels vectorise across
// rows or positions, the detection and segmentation heads (21 VOC, 81 COCO, 150 ADE20K, ...),
// the counts at and around the vector widths, and the large ones (ImageNet, vocabularies).
var SweepClasses = []int{1, 2, 3, 4, 8, 12, 16, 21, 24, 25, 29, 32, 37, 48, 64, 81, 100, 128, 150, 256, 512, 1000, 4096, 32000, 65536}

// SweepRows returns the row-major batch of the sweep for c classes: max(1, elems/c) rows of standard
// normal logits and uniform targets, none ignored, one image.
//
// The logits of every sweep batch are prefixes of one buffer, built once (and grown when a larger
// batch is asked for): a sweep over many class counts draws its 4M normals once. Do not modify them.
func SweepRows(c, elems int) ohem.Batch {
	n := max(1, elems/c)
	return ohem.Batch{Logits: sweepLogits(n * c), Targets: uniform(uint64(100+c), n, c), Classes: c}
}

// PlanarShape is the shape [images][c][spatial] of the sweep's planar batch for c classes: about
// elems/c positions (within a third), spatial the largest power of two up to elems/c and 256 x 256,
// in as many images as it takes. A power-of-two H*W is what segmentation maps often have
// (256 x 256, 64 x 64), and their class planes then lie a power of two apart, the hard case for a
// cache: the same C with a spatial size that is not a power of two can run several times faster.
func PlanarShape(c, elems int) (images, spatial int) {
	const maxSpatial = 256 * 256
	p := max(1, elems/c)
	spatial = 1 << (bits.Len(uint(min(p, maxSpatial))) - 1)
	images = max(1, (p+spatial/2)/spatial)
	return images, spatial
}

// SweepPlanar returns the planar batch of the sweep for c classes (shape: PlanarShape), standard
// normal logits and uniform targets, none ignored.
func SweepPlanar(c, elems int) ohem.Batch {
	images, s := PlanarShape(c, elems)
	return ohem.Batch{Logits: sweepLogits(images * c * s), Targets: uniform(uint64(200+c), images*s, c), Classes: c, Spatial: s}
}

var sweep struct {
	sync.Mutex
	x []float32
}

// sweepLogits returns n standard normals, a prefix of the sweep's shared buffer.
func sweepLogits(n int) []float32 {
	sweep.Lock()
	defer sweep.Unlock()
	if len(sweep.x) < n {
		sweep.x = normals(99, max(n, SweepElems))
	}
	return sweep.x[:n:n]
}

// uniform returns n targets drawn uniformly from [0, c).
func uniform(seed uint64, n, c int) []int32 {
	r := rng(seed)
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(r.IntN(c))
	}
	return t
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
