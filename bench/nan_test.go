package bench

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ohem-go/ohem"
)

// nanShares are the sub-benchmark names of BenchmarkSelectNaN: the share of NaN elements.
var nanShares = []string{"nan=0", "nan=1%", "nan=50%", "nan=100%"}

// BenchmarkSelectNaN: KthLargest and TopK (dst of capacity k) of 1e6 uniform floats, k = 1000,
// with a share of them NaN. Above k NaNs the k-th largest is NaN (NaN ranks above +Inf): that case
// must cost what the others do, a pass or two of the kernel, not a scalar fallback.
func BenchmarkSelectNaN(b *testing.B) {
	const n, k = 1_000_000, 1000
	forEach(b, nanShares, func(b *testing.B, s ohem.KernelSet, name string) {
		share := map[string]float64{"nan=0": 0, "nan=1%": 0.01, "nan=50%": 0.5, "nan=100%": 1}[name]
		r := rand.New(rand.NewPCG(7, 7))
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32()
			if r.Float64() < share {
				x[i] = float32(math.NaN())
			}
		}
		b.Run("kth", func(b *testing.B) {
			_, err := s.KthLargest(x, k)
			check(b, err)
			b.SetBytes(4 * n)
			for b.Loop() {
				_, err = s.KthLargest(x, k)
			}
			check(b, err)
		})
		b.Run("topk", func(b *testing.B) {
			dst, err := s.TopK(make([]int32, 0, k), x, k)
			check(b, err)
			b.SetBytes(4 * n)
			for b.Loop() {
				dst, err = s.TopK(dst, x, k)
			}
			check(b, err)
			if len(dst) != k {
				b.Fatalf("TopK returned %d indices, want %d", len(dst), k)
			}
		})
	})
}
