package ohem_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ohem-go/ohem"
)

// TestRowChecksLarge: the row-major loss kernels of small C check their targets as they go (the
// tiled kernels up to 16 classes read no memory by target), and the tiled and medium ones report
// whether a loss may be NaN, so the call makes no pass over the targets before them or over the
// losses after; on every set, for C on either side of those limits, a target out of range or a
// non-finite logit anywhere (first row, middle, the last partial group) is the error naming that
// sample, through CrossEntropy, Forward and ForwardBackward, with Workers 1 and 3; and losses of
// +Inf beside ignored rows (Forward's fill −Inf: the kernels' sums turn NaN with no NaN written)
// are no error.
func TestRowChecksLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 99))
	for _, c := range []int{2, 3, 4, 5, 8, 16, 17, 21, 81} {
		n := 3*(1<<15)/c + 13
		z, tg := make([]float32, n*c), make([]int32, n)
		for i := range z {
			z[i] = float32(r.NormFloat64() * 3)
		}
		for i := range tg {
			tg[i] = int32(r.IntN(c+1)) - 1
		}
		for _, ks := range ohem.KernelSets() {
			for _, cfg := range []ohem.Config{{}, {KeepRatio: 0.5}, {NegPosRatio: 3, Reduction: ohem.Sum}} {
				for _, workers := range []int{1, 3} {
					cfg.Kernel, cfg.Workers = ks.Name(), workers
					l, err := ohem.New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("%s C=%d %+v", ks.Name(), c, cfg)
					dst, grad := make([]float32, n), make([]float32, n*c)
					b := ohem.Batch{Logits: z, Targets: tg, Classes: c}
					all := func(how string, want error, sample int) {
						t.Helper()
						checkCallErrors(t, what+" "+how, ks, l, dst, grad, b, want, sample)
					}
					all("clean", nil, 0)
					for _, p := range []int{0, n / 2, n - 2} {
						old := tg[p]
						tg[p] = int32(c + p%3)
						all(fmt.Sprintf("target %d at %d", tg[p], p), ohem.ErrTarget, p)
						tg[p] = 0
						z[p*c+c-1] = f32Inf
						all(fmt.Sprintf("+Inf at %d", p), ohem.ErrNonFinite, p)
						z[p*c+c-1] = 0
						tg[p] = old
					}
					// Losses of +Inf: the target's logit −3e38 and another 3e38.
					big := make([]float32, n*c)
					for i := range n {
						if c > 1 && tg[i] >= 0 {
							big[i*c+int(tg[i])] = -3e38
							big[i*c+(int(tg[i])+1)%c] = 3e38
						}
					}
					b.Logits = big
					all("losses of +Inf", nil, 0)
				}
			}
		}
	}
}

// checkCallErrors runs CrossEntropy, Forward and ForwardBackward of b and fails t unless each
// returns want (nil: no error) naming sample.
func checkCallErrors(t *testing.T, what string, ks ohem.KernelSet, l *ohem.Loss, dst, grad []float32, b ohem.Batch, want error, sample int) {
	t.Helper()
	errs := []error{ks.CrossEntropy(dst, b)}
	_, err := l.Forward(b)
	errs = append(errs, err)
	_, err = l.ForwardBackward(grad, b)
	errs = append(errs, err)
	for i, err := range errs {
		op := []string{"CrossEntropy", "Forward", "ForwardBackward"}[i]
		switch {
		case want == nil && err != nil:
			t.Fatalf("%s %s: %v", what, op, err)
		case want != nil && (!errors.Is(err, want) || !strings.Contains(err.Error(), fmt.Sprintf("sample %d ", sample))):
			t.Fatalf("%s %s: %v, want %v naming sample %d", what, op, err, want, sample)
		}
	}
}
