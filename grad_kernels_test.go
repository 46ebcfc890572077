package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ohem-go/ohem/internal/guard"
)

// The gradient kernels of every assembly set against the generic ones, on every row count 0..40
// and larger, many class counts, planar offsets and partial ends, with every slice in a buffer
// that ends (or starts) at an unmapped page.

// Profiles of gradCase: which samples are kept.
const (
	gradMixed   = iota // ignored samples, zero scales (about half the samples kept)
	gradDense          // about 95% kept: the across-rows kernels' case
	gradDropped        // every scale 0: only zeros
	gradProfiles
)

// gradCase builds n samples of c classes: logits (row-major), targets, scale, with ignored samples
// (NaN logits), zero scales, −Inf logits, as the profile says.
func gradCase(r *rand.Rand, n, c int, mag float64, profile int) (rows [][]float32, t []int32, sc []float32) {
	rows = make([][]float32, n)
	t = make([]int32, n)
	sc = make([]float32, n)
	for i := range n {
		row := make([]float32, c)
		for j := range row {
			row[j] = float32(r.NormFloat64() * mag)
		}
		t[i] = int32(r.IntN(c))
		switch k := r.IntN(10); {
		case k == 0 && profile != gradDense:
			t[i] = -1 - int32(r.IntN(3))
			for j := range row {
				if r.IntN(2) == 0 {
					row[j] = float32(math.NaN())
				} else {
					row[j] = float32(math.Inf(1 - 2*r.IntN(2)))
				}
			}
		case k == 1 && c > 1:
			row[(int(t[i])+1)%c] = float32(math.Inf(-1))
		case k == 2:
			row[t[i]] = row[t[i]] + 50 // confident
		}
		rows[i] = row
		switch k := r.IntN(40); {
		case profile == gradDropped || k < 10 && profile == gradMixed || k == 0:
			sc[i] = 0
		case k < 20 && profile == gradMixed || k == 1:
			sc[i] = float32(math.Copysign(0, -1))
		default:
			sc[i] = float32(r.Float64() + 0.01)
		}
		if t[i] < 0 && r.IntN(2) == 0 {
			sc[i] = 1
		}
	}
	return
}

func gradClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	peak := 0.0
	for _, v := range want {
		peak = max(peak, math.Abs(float64(v)))
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !(math.Abs(g-w) <= 1.5e-5*peak+2e-6*math.Abs(w)+1e-30) {
			t.Fatalf("%s: g[%d] = %v, want %v (peak %v)", what, i, g, w, peak)
		}
	}
}

func copyTo[T float32 | int32](buf []T, src []T) []T { copy(buf, src); return buf }

// gradArgs are the row-major gradient kernels' slices.
type gradArgs struct {
	g, x  []float32
	t     []int32
	st    stats
	scale []float32
}

// guardGradArgs copies x, t, st and scale into slices that end at a guard page (start at one with
// front), beside a gradient g of len(x) NaNs (every element must be written); free releases them.
func guardGradArgs(front bool, x []float32, t []int32, st stats, scale []float32) (a gradArgs, free func()) {
	mk, mki := guard.Float32s, guard.Int32s
	if front {
		mk, mki = guard.Float32sFront, guard.Int32sFront
	}
	n := len(t)
	gb, f1 := mk(len(x))
	xb, f2 := mk(len(x))
	tb, f3 := mki(n)
	mb, f4 := mk(n)
	lb, f5 := mk(n)
	pb, f6 := mk(n)
	sb, f7 := mk(n)
	for i := range gb {
		gb[i] = float32(math.NaN())
	}
	a = gradArgs{gb, copyTo(xb, x), copyTo(tb, t), stats{copyTo(mb, st.m), copyTo(lb, st.ls), copyTo(pb, st.pt)}, copyTo(sb, scale)}
	return a, func() {
		for _, f := range []func(){f1, f2, f3, f4, f5, f6, f7} {
			f()
		}
	}
}

func TestGradRowsKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sets := archSets()
	cs := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 21, 31, 32, 33, 64, 100, 1000}
	last, more := 40, []int{63, 64, 65, 255, 256, 257, 1000}
	if testing.Short() {
		cs, last, more = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 21, 64, 1000}, 20, []int{65}
	}
	for _, c := range cs {
		for _, n := range counts(last, more) {
			if c >= 100 && n > 40 {
				continue
			}
			for _, eps := range []float32{0, 0.1} {
				rows, tg, sc := gradCase(r, n, c, []float64{1, 5, 30, 1e4}[r.IntN(4)], r.IntN(gradProfiles))
				x := make([]float32, n*c)
				for i, row := range rows {
					copy(x[i*c:], row)
				}
				st := stats{make([]float32, n), make([]float32, n), make([]float32, n)}
				loss := make([]float32, n)
				genericSet.ceRows(loss, st, x, tg, c, eps, 0)
				for i := range n {
					if loss[i] != loss[i] && tg[i] >= 0 { // NaN for a valid sample: drop it
						tg[i] = -1
						st.set(i, 0, 0, 0)
					}
				}
				want := make([]float32, n*c)
				genericSet.gradRows(want, x, tg, st, sc, c, eps)
				for _, ks := range sets {
					for _, front := range []bool{false, true} {
						a, free := guardGradArgs(front, x, tg, st, sc)
						ks.gradRows(a.g, a.x, a.t, a.st, a.scale, c, eps)
						gradClose(t, fmt.Sprintf("%s rows C=%d N=%d eps=%v front=%v", ks.name, c, n, eps, front), a.g, want)
						free()
					}
				}
			}
		}
	}
}

func TestGradPlanarKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sets := archSets()
	cs, ss := []int{1, 2, 3, 5, 8, 19, 21}, []int{1, 2, 7, 15, 16, 17, 31, 33, 70, 255, 256, 257, 600, 1031}
	if testing.Short() {
		cs, ss = []int{1, 2, 3, 19}, []int{1, 7, 16, 17, 33, 257, 1031}
	}
	for _, c := range cs {
		for _, s := range ss {
			for _, eps := range []float32{0, 0.1} {
				rows, tg, sc := gradCase(r, s, c, []float64{3, 1e4}[r.IntN(2)], r.IntN(gradProfiles))
				x := make([]float32, c*s)
				for i, row := range rows {
					for j, v := range row {
						x[j*s+i] = v
					}
				}
				st := stats{make([]float32, s), make([]float32, s), make([]float32, s)}
				loss := make([]float32, s)
				genericSet.cePlanar(loss, st, x, tg, c, s, eps, 0)
				for i := range s {
					if loss[i] != loss[i] && tg[i] >= 0 {
						tg[i] = -1
						st.set(i, 0, 0, 0)
					}
				}
				for _, p := range []int{0, 1, 5, s / 2, s - 1} {
					if p < 0 || p >= s {
						continue
					}
					for _, end := range []int{s, (p + s + 1) / 2} {
						if end <= p {
							continue
						}
						n := end - p
						want := make([]float32, c*s)
						genericSet.gradPlanar(want[p:], x[p:], tg[p:end], st.slice(p, end), sc[p:end], c, s, eps)
						for _, ks := range sets {
							gb, f1 := guard.Float32s(c*s - p)
							xb, f2 := guard.Float32s(c*s - p)
							tb, f3 := guard.Int32s(n)
							mb, f4 := guard.Float32s(n)
							lb, f5 := guard.Float32s(n)
							pb, f6 := guard.Float32s(n)
							sb, f7 := guard.Float32s(n)
							for i := range gb {
								gb[i] = float32(math.NaN())
							}
							ks.gradPlanar(gb, copyTo(xb, x[p:]), copyTo(tb, tg[p:end]), stats{copyTo(mb, st.m[p:end]), copyTo(lb, st.ls[p:end]), copyTo(pb, st.pt[p:end])}, copyTo(sb, sc[p:end]), c, s, eps)
							// Only the planes' [0, n) may be written.
							got := make([]float32, c*s)
							wantv := make([]float32, c*s)
							for j := range c {
								for q := range s - p {
									v := gb[j*s+q]
									if q >= n {
										if v == v {
											t.Fatalf("%s planar C=%d S=%d p=%d n=%d: wrote g[%d,%d]", ks.name, c, s, p, n, j, q)
										}
										continue
									}
									got[j*s+q] = v
									wantv[j*s+q] = want[p+j*s+q]
								}
							}
							gradClose(t, fmt.Sprintf("%s planar C=%d S=%d p=%d n=%d eps=%v", ks.name, c, s, p, n, eps), got, wantv)
							for _, f := range []func(){f1, f2, f3, f4, f5, f6, f7} {
								f()
							}
						}
					}
				}
			}
		}
	}
}

// counts returns 0, 1, ..., last, then more: the row counts of the kernel tests.
func counts(last int, more []int) []int {
	var ns []int
	for n := 0; n <= last; n++ {
		ns = append(ns, n)
	}
	return append(ns, more...)
}
