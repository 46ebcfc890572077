package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ohem-go/ohem"
)

// sigmoidBatches returns a Sigmoid batch of n logits (standard normal, 10% positives, 2% ignored)
// and the row-major C = 1000 batch of the same number of logits (n/1000 rows).
func sigmoidBatches(n int) (sig, rows ohem.Batch) {
	r := rand.New(rand.NewPCG(70, uint64(n)))
	sig = ohem.Batch{Logits: make([]float32, n), Targets: make([]int32, n), Classes: 1, Sigmoid: true}
	for i := range n {
		sig.Logits[i] = float32(r.NormFloat64())
		switch u := r.Float64(); {
		case u < 0.02:
			sig.Targets[i] = -1
		case u < 0.12:
			sig.Targets[i] = 1
		}
	}
	rows = ohem.Batch{Logits: make([]float32, n), Targets: make([]int32, n/1000), Classes: 1000}
	for i := range rows.Logits {
		rows.Logits[i] = float32(r.NormFloat64())
	}
	for i := range rows.Targets {
		rows.Targets[i] = int32(r.IntN(1000))
	}
	return sig, rows
}

// BenchmarkSigmoidVsRows measures the flat Sigmoid cross-entropy pass (CrossEntropy of a Sigmoid
// batch: one exp and one log1p per logit) beside the row-major C = 1000 CrossEntropy of as many
// logits, alternating the two within each iteration so that both see the same machine; it reports
// each rate in logits per nanosecond and their ratio (flat / rows). 64000 logits stay in L2;
// 4096000 (the cls workload's size) stream from memory.
func BenchmarkSigmoidVsRows(b *testing.B) {
	for _, s := range ohem.KernelSets() {
		for _, n := range []int{64000, 4096000} {
			b.Run(fmt.Sprintf("%s/%d", s.Name(), n), func(b *testing.B) {
				sig, rows := sigmoidBatches(n)
				ds := make([]float32, n)
				dr := make([]float32, n/1000)
				check(b, s.CrossEntropy(ds, sig))
				check(b, s.CrossEntropy(dr, rows))
				var tSig, tRows time.Duration
				for b.Loop() {
					t0 := time.Now()
					s.CrossEntropy(ds, sig)
					t1 := time.Now()
					s.CrossEntropy(dr, rows)
					tSig, tRows = tSig+t1.Sub(t0), tRows+time.Since(t1)
				}
				flat := float64(n) * float64(b.N) / float64(tSig.Nanoseconds())
				row := float64(n) * float64(b.N) / float64(tRows.Nanoseconds())
				b.ReportMetric(flat, "flat-logits/ns")
				b.ReportMetric(row, "rows-logits/ns")
				b.ReportMetric(flat/row, "flat/rows")
			})
		}
	}
}

// BenchmarkSigmoid: the Sigmoid kernels through the API on 4096000 logits: CrossEntropy (the
// flat loss pass), Forward and ForwardBackward of the plain mean (the fused loss and gradient
// pass) and of NegPosRatio 3 (a separate gradient pass).
func BenchmarkSigmoid(b *testing.B) {
	const n = 4096000
	sig, _ := sigmoidBatches(n)
	for _, s := range ohem.KernelSets() {
		b.Run(s.Name(), func(b *testing.B) {
			dst := make([]float32, n)
			grad := make([]float32, n)
			b.Run("CrossEntropy", func(b *testing.B) {
				b.SetBytes(8 * n)
				for b.Loop() {
					s.CrossEntropy(dst, sig)
				}
			})
			for _, cfg := range []ohem.Config{{}, {NegPosRatio: 3, Reduction: ohem.Sum}} {
				cfg.Kernel = s.Name()
				l, err := ohem.New(cfg)
				check(b, err)
				name := "mean"
				if cfg.NegPosRatio != 0 {
					name = "negpos3"
				}
				b.Run("Forward/"+name, func(b *testing.B) {
					b.SetBytes(8 * n)
					for b.Loop() {
						l.Forward(sig)
					}
				})
				b.Run("ForwardBackward/"+name, func(b *testing.B) {
					b.SetBytes(8 * n)
					for b.Loop() {
						l.ForwardBackward(grad, sig)
					}
				})
			}
		})
	}
}

// BenchmarkDBNet: the dbnet workload (DBNet's balanced BCE: a Sigmoid 16 × 640 × 640 map,
// NegPosRatio 3, Sum), Forward and ForwardBackward per kernel set; skipped under -short.
func BenchmarkDBNet(b *testing.B) {
	if testing.Short() {
		b.Skip("dbnet skipped in -short mode")
	}
	forEach(b, []string{"dbnet"}, func(b *testing.B, s ohem.KernelSet, name string) {
		w := get(b, name)
		l := newLoss(b, w, s, 0)
		grad := make([]float32, len(w.Batch.Logits))
		b.Run("Forward", func(b *testing.B) {
			b.SetBytes(w.Bytes())
			for b.Loop() {
				l.Forward(w.Batch)
			}
		})
		b.Run("ForwardBackward", func(b *testing.B) {
			b.SetBytes(w.Bytes())
			for b.Loop() {
				l.ForwardBackward(grad, w.Batch)
			}
		})
	})
}
