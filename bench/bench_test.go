package bench

import (
	"testing"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/workload"
)

// lossWorkloads are the workloads of Forward, ForwardBackward and CrossEntropy.
var lossWorkloads = []string{"rpn", "cls", "seg", "lm", "ssd21", "ssd81", "roi81"}

// get returns the named workload; seg and ssd81 (80 and 90 MB of logits) are skipped under -short.
func get(b *testing.B, name string) workload.Workload {
	b.Helper()
	if (name == "seg" || name == "ssd81") && testing.Short() {
		b.Skip(name + " skipped in -short mode")
	}
	w, err := workload.Get(name)
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// forEach runs bench as the sub-benchmark <set>/<name> for every kernel set and name.
func forEach(b *testing.B, names []string, bench func(b *testing.B, s ohem.KernelSet, name string)) {
	for _, s := range ohem.KernelSets() {
		b.Run(s.Name(), func(b *testing.B) {
			for _, name := range names {
				b.Run(name, func(b *testing.B) { bench(b, s, name) })
			}
		})
	}
}

func newLoss(b *testing.B, w workload.Workload, s ohem.KernelSet, workers int) *ohem.Loss {
	b.Helper()
	cfg := w.Config
	cfg.Kernel, cfg.Workers = s.Name(), workers
	l, err := ohem.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func check(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

func forward(b *testing.B, s ohem.KernelSet, name string, workers int) {
	w := get(b, name)
	l := newLoss(b, w, s, workers)
	_, err := l.Forward(w.Batch) // warm: the scratch memory is allocated once
	check(b, err)
	b.SetBytes(w.Bytes())
	b.ReportAllocs()
	for b.Loop() {
		_, err = l.Forward(w.Batch)
	}
	check(b, err)
}

func BenchmarkForward(b *testing.B) {
	forEach(b, lossWorkloads, func(b *testing.B, s ohem.KernelSet, name string) { forward(b, s, name, 0) })
}

// BenchmarkForwardWorkers2 is BenchmarkForward with Config.Workers = 2 on the large batches.
func BenchmarkForwardWorkers2(b *testing.B) {
	forEach(b, []string{"cls", "seg"}, func(b *testing.B, s ohem.KernelSet, name string) { forward(b, s, name, 2) })
}

func BenchmarkForwardBackward(b *testing.B) {
	forEach(b, lossWorkloads, func(b *testing.B, s ohem.KernelSet, name string) {
		w := get(b, name)
		l := newLoss(b, w, s, 0)
		grad := make([]float32, len(w.Batch.Logits))
		_, err := l.ForwardBackward(grad, w.Batch)
		check(b, err)
		b.SetBytes(w.Bytes())
		b.ReportAllocs()
		for b.Loop() {
			_, err = l.ForwardBackward(grad, w.Batch)
		}
		check(b, err)
	})
}

// BenchmarkCopy is the memory floor of ForwardBackward, which reads every logit and writes every
// gradient element: copy(grad, logits) in one stream, and (planar batches) in the order of a planar
// gradient pass: a block of 1,024 positions of each class plane in turn (planarGradBlock).
func BenchmarkCopy(b *testing.B) {
	for _, name := range lossWorkloads {
		b.Run(name, func(b *testing.B) {
			w := get(b, name)
			x := w.Batch.Logits
			grad := make([]float32, len(x))
			b.Run("stream", func(b *testing.B) {
				b.SetBytes(w.Bytes())
				for b.Loop() {
					copy(grad, x)
				}
			})
			s := w.Batch.Spatial
			if s == 0 {
				return
			}
			c := w.Batch.Classes
			b.Run("planar", func(b *testing.B) {
				b.SetBytes(w.Bytes())
				for b.Loop() {
					for img := 0; img < len(x); img += c * s {
						for p0 := 0; p0 < s; p0 += planarGradBlock {
							n := min(planarGradBlock, s-p0)
							for j := range c {
								o := img + j*s + p0
								copy(grad[o:o+n], x[o:o+n])
							}
						}
					}
				}
			})
		})
	}
}

// planarGradBlock is the number of positions the amd64 planar gradient kernel covers per call.
const planarGradBlock = 1024

func BenchmarkCrossEntropy(b *testing.B) {
	forEach(b, lossWorkloads, func(b *testing.B, s ohem.KernelSet, name string) {
		w := get(b, name)
		dst := make([]float32, w.Samples())
		b.SetBytes(w.Bytes())
		b.ReportAllocs()
		var err error
		for b.Loop() {
			err = s.CrossEntropy(dst, w.Batch)
		}
		check(b, err)
	})
}

// kthSizes are the sub-benchmark names of KthLargest and TopK, and their workloads.
var kthSizes = []string{"1e5", "1e7"}

func BenchmarkKthLargest(b *testing.B) {
	forEach(b, kthSizes, func(b *testing.B, s ohem.KernelSet, size string) {
		w := get(b, "kth_"+size)
		_, err := s.KthLargest(w.X, w.K) // warm: a first call allocates its scratch memory
		check(b, err)
		b.SetBytes(w.Bytes())
		b.ReportAllocs()
		for b.Loop() {
			_, err = s.KthLargest(w.X, w.K)
		}
		check(b, err)
	})
}

// BenchmarkTopK: the indices of the 30% largest of 1e5 and 1e7 uniform floats, and "rpn": the 256
// largest of each image's 8192 anchor losses, 8 images per op (torch.topk(losses, 256, dim=1)).
func BenchmarkTopK(b *testing.B) {
	forEach(b, append(kthSizes, "rpn"), func(b *testing.B, s ohem.KernelSet, size string) {
		var xs [][]float32
		k := 0
		if size == "rpn" {
			w := get(b, "rpn")
			losses := make([]float32, w.Samples())
			check(b, ohem.CrossEntropy(losses, w.Batch))
			per := len(losses) / w.Batch.Images
			for i := range w.Batch.Images {
				xs = append(xs, losses[i*per:(i+1)*per])
			}
			k = w.Config.Keep
		} else {
			w := get(b, "kth_"+size)
			xs, k = [][]float32{w.X}, w.K
		}
		dst, err := s.TopK(make([]int32, 0, k), xs[0], k) // warm
		check(b, err)
		b.SetBytes(4 * int64(len(xs)*len(xs[0])))
		b.ReportAllocs()
		for b.Loop() {
			for _, x := range xs {
				dst, err = s.TopK(dst, x, k)
			}
		}
		check(b, err)
		if len(dst) != k {
			b.Fatalf("TopK returned %d indices, want %d", len(dst), k)
		}
	})
}
