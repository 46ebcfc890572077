package ohem

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkClasses sweeps the row-major kernels over the class count at a fixed number of logits
// per call (about 4M, 16 MB), every set this CPU runs: CrossEntropy (ce), LogSumExp (lse), the
// gradient kernel with every row kept (grad: the statistics come from a ceRows call outside the
// timing) and ForwardBackward with KeepRatio 0.7 (fb: the fused path where the set has one for C).
// Names are Classes/<op>/<set>/C=<c>. Besides ns/op (wall clock) it reports Gelem/s from the
// calling thread's CPU time, which a shared machine's waits for a core do not inflate; compare
// sets and runs with benchstat on that metric. OHEM_SWEEP_ELEMS sets another number of logits.
//
//	go test -run XXX -bench Classes -benchtime 20x -count 6 . > sweep.txt
func BenchmarkClasses(b *testing.B) {
	elems := 1 << 22
	if v, err := strconv.Atoi(os.Getenv("OHEM_SWEEP_ELEMS")); err == nil && v > 0 {
		elems = v // e.g. 1<<18, which stays in L2: the kernels alone, without the memory's share
	}
	for _, op := range []string{"ce", "lse", "grad", "fb"} {
		b.Run(op, func(b *testing.B) {
			for _, ks := range usable {
				b.Run(ks.name, func(b *testing.B) {
					for _, c := range sweepClasses {
						b.Run(fmt.Sprintf("C=%d", c), func(b *testing.B) { benchClasses(b, ks, op, c, elems/c) })
					}
				})
			}
		})
	}
}

// sweepClasses are the class counts of BenchmarkClasses: small ones, around the across-rows kernel's old limit,
// through the medium range, to the along-the-row kernel's reference C = 1000.
var sweepClasses = []int{3, 8, 12, 16, 24, 25, 29, 32, 37, 48, 64, 81, 100, 128, 150, 200, 256, 300, 512, 1000}

func benchClasses(b *testing.B, ks *kernelSet, op string, c, n int) {
	r := rand.New(rand.NewPCG(uint64(c), 7))
	x := make([]float32, n*c)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
	}
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(r.IntN(c))
	}
	bt := Batch{Logits: x, Targets: t, Classes: c}
	dst := make([]float32, n)
	var run func() error
	switch op {
	case "ce":
		run = func() error { return crossEntropy(ks, dst, bt) }
	case "lse":
		lb := Batch{Logits: x, Classes: c}
		run = func() error { return logSumExp(ks, dst, lb) }
	case "grad":
		st := stats{make([]float32, n), make([]float32, n), make([]float32, n)}
		ks.ceRows(dst, st, x, t, c, 0, 0)
		scale := make([]float32, n)
		for i := range scale {
			scale[i] = 1 / float32(n)
		}
		g := make([]float32, n*c)
		run = func() error { ks.gradRows(g, x, t, st, scale, c, 0); return nil }
	case "fb":
		l, err := New(Config{KeepRatio: 0.7, Kernel: ks.name})
		if err != nil {
			b.Fatal(err)
		}
		g := make([]float32, n*c)
		run = func() error { _, err := l.ForwardBackward(g, bt); return err }
	}
	if err := run(); err != nil { // warm
		b.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	t0 := threadCPU()
	for range b.N {
		if err := run(); err != nil {
			b.Fatal(err)
		}
	}
	cpu := threadCPU() - t0
	b.StopTimer()
	if cpu > 0 {
		b.ReportMetric(float64(n*c)*float64(b.N)/float64(cpu.Nanoseconds()), "Gelem/s")
	}
}

// threadCPU is the CPU time of the calling OS thread (falling back to the wall clock).
func threadCPU() time.Duration { return threadClock() }
