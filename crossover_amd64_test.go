//go:build !purego

package ohem

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkCrossover runs the row-major amd64 kernels that could serve a class count side by side,
// whatever the dispatch gives it, to place the crossovers of the driver's ceRows and lseRows (mediumMin,
// mediumMaxAVX2, mediumMaxAVX512): Crossover/<op>/<set>/<kernel>/C=<c>, op ce or lse, kernel small (across rows,
// gathers; C <= 24), tiled (groups of rows through lanes×lanes tiles; C <= 64), medium (groups of
// rows, along each row) or large (a row at a time). Gelem/s from the thread's CPU time, as
// BenchmarkClasses.
func BenchmarkCrossover(b *testing.B) {
	const elems = 1 << 22
	for _, op := range []string{"ce", "lse"} {
		b.Run(op, func(b *testing.B) {
			for _, ks := range archSets() {
				z := ks.name == "avx512"
				b.Run(ks.name, func(b *testing.B) {
					for _, kernel := range []string{"small", "tiled", "medium", "large"} {
						b.Run(kernel, func(b *testing.B) {
							for _, c := range []int{3, 5, 8, 12, 16, 20, 24, 25, 28, 32, 40, 48, 64, 81, 200, 256, 300, 384, 512} {
								if kernel == "small" && (c > smallMax || op == "lse") || kernel == "medium" && (c > mediumMaxC || c < 16) ||
									kernel == "tiled" && c > tiledMaxC || kernel == "large" && c < 4 {
									continue
								}
								b.Run(fmt.Sprintf("C=%d", c), func(b *testing.B) { benchCrossover(b, z, op, kernel, c, elems/c) })
							}
						})
					}
				})
			}
		})
	}
}

func benchCrossover(b *testing.B, z bool, op, kernel string, c, n int) {
	r := rand.New(rand.NewPCG(uint64(c), 7))
	x := make([]float32, n*c)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
	}
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(r.IntN(c))
	}
	dst := make([]float32, n)
	var run func()
	switch op + "/" + kernel {
	case "ce/small":
		run = func() { rowTierOf(z).ceKernel(kindSmall, dst, stats{}, x, t, c, 0, 0) }
	case "ce/tiled", "ce/medium":
		var scratch [mediumScratch]float32
		run = func() { rowTierOf(z).ceGroups(mediumKind(kernel == "tiled"), dst, stats{}, x, t, scratch[:], c, 0, 0) }
	case "ce/large":
		run = func() { rowTierOf(z).ceReduced(kindLarge, dst, stats{}, x, t, c, 0, 0, rowsGrad{}) }
	case "lse/tiled", "lse/medium":
		var scratch [mediumScratch]float32
		run = func() { rowTierOf(z).lseGroups(mediumKind(kernel == "tiled"), dst, x, scratch[:], c) }
	case "lse/large":
		run = func() { rowTierOf(z).lseRows(dst, x, c) } // the row-at-a-time kernel outside the medium range
		if rowTierOf(z).lseKind(c) != kindLarge {
			b.Skip("lseRows gives this C to the medium kernel")
		}
	}
	run()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	t0 := threadCPU()
	for range b.N {
		run()
	}
	cpu := threadCPU() - t0
	b.StopTimer()
	if cpu > 0 {
		b.ReportMetric(float64(n*c)*float64(b.N)/float64(cpu.Nanoseconds()), "Gelem/s")
	}
}
