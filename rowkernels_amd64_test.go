//go:build !purego

package ohem

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The row-at-a-time kernels on the class counts the dispatch never gives them, 1 to 17: below a
// vector's lanes and just past one or two, where the AVX2 tails take paths the dispatched C never
// reach (storeTail's pieces, zeroFill's fill of less than a vector, the exp pass's store of a
// range that ends in the row's first vector). The dispatch may change; the kernels hold for every C.

// TestGradRowsKernelSmallC checks the gradRows kernel itself (the dispatch sends C <= 15 to
// gradFlat) against the generic gradient.
func TestGradRowsKernelSmallC(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	kernels := map[string]func(g, x []float32, t []int32, m, ls, pt, scale []float32, c int, q, tq float32){
		"avx2": gradRowsAVX2, "avx512": gradRowsAVX512,
	}
	for _, ks := range archSets() {
		rows := kernels[ks.name]
		for c := 1; c <= 17; c++ {
			for _, n := range counts(12, []int{33}) {
				for _, eps := range []float32{0, 0.1} {
					lg, tg, sc := gradCase(r, n, c, 5, r.IntN(gradProfiles))
					x := make([]float32, n*c)
					for i, row := range lg {
						copy(x[i*c:], row)
					}
					st := stats{make([]float32, n), make([]float32, n), make([]float32, n)}
					genericSet.ceRows(make([]float32, n), st, x, tg, c, eps, 0)
					want := make([]float32, n*c)
					genericSet.gradRows(want, x, tg, st, sc, c, eps)
					for _, front := range []bool{false, true} {
						a, free := guardGradArgs(front, x, tg, st, sc)
						q := eps / float32(c)
						if n > 0 {
							rows(a.g, a.x, a.t, a.st.m, a.st.ls, a.st.pt, a.scale, c, q, eps-q)
						}
						gradClose(t, fmt.Sprintf("gradRows%s C=%d N=%d eps=%v front=%v", ks.name, c, n, eps, front), a.g, want)
						free()
					}
				}
			}
		}
	}
}

// TestCEGradRowsKernelSmallC checks the row kernels with the gradient (ceGradRows; the dispatch
// fuses only C > smallMax) against the same kernels without it, as TestCEGradRowsKernels does.
func TestCEGradRowsKernelSmallC(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, ks := range archSets() {
		z := ks.name == "avx512"
		rowKernel := *ks
		rowKernel.ceRows = func(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) check {
			rowTierOf(z).ceReduced(kindLarge, loss, st, x, t, c, eps, fill, rowsGrad{})
			return checkNaN
		}
		// The row kernel with the gradient, whatever kernel the dispatch gives these C (medium C).
		rowKernel.ceGradRows = func(loss []float32, st stats, g, x []float32, t []int32, dropped []bool, c int, eps, fill, s0 float32, keep float64) {
			rowTierOf(z).ceReduced(kindLarge, loss, st, x, t, c, eps, fill, rowsGrad{g, dropped, s0, keep})
		}
		for c := 1; c <= 17; c++ {
			for _, n := range counts(12, []int{65, 200}) {
				for _, eps := range []float32{0, 0.1} {
					for _, keep := range []float64{1, 0.3} {
						checkCEGradRows(t, &rowKernel, r, n, c, eps, keep, n%2 == 1)
					}
				}
			}
		}
	}
}
