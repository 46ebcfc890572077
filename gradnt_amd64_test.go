//go:build !purego

package ohem

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// aligned64 returns n float32s whose first is 64-byte aligned.
func aligned64(n int) []float32 {
	buf := make([]float32, n+16)
	off := (64 - int(uintptr(unsafe.Pointer(&buf[0]))%64)) % 64 / 4
	return buf[off : off+n]
}

// TestGradPlanarNT: the non-temporal planar gradient kernel writes exactly the bits of the plain
// one (the same arithmetic, other stores), on whole blocks and on tails, for odd and even class
// counts, ignored positions and smoothing; and the driver's choice between them (by image size
// and alignment) changes no bit either.
func TestGradPlanarNT(t *testing.T) {
	if !x86Features["AVX2"] || !x86Features["FMA3"] {
		t.Skip("no AVX2")
	}
	tiers := []*gradKernels{{planar: gradPlanarAVX2, planarNT: gradPlanarNTAVX2}}
	if hasAll(tierFeatures["avx512"]) {
		tiers = append(tiers, &gradKernels{planar: gradPlanarAVX512, planarNT: gradPlanarNTAVX512})
	}
	r := rand.New(rand.NewPCG(11, 1))
	for _, k := range tiers {
		for _, c := range []int{1, 2, 3, 19} {
			for _, n := range []int{0, 1, 15, 16, 17, 100, 1024} {
				stride := 1040
				x := aligned64(c * stride)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 3)
				}
				tg := make([]int32, n)
				m, ls, pt, scale := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
				for p := range n {
					tg[p] = int32(r.IntN(c+1)) - 1
					m[p] = 4 + float32(r.Float64())
					ls[p] = float32(math.Log(float64(c)))
					pt[p] = -float32(r.Float64())
					scale[p] = float32(r.Float64())
				}
				for _, eps := range []float32{0, 0.1} {
					q := eps / float32(c)
					a, b := aligned64(c*stride), aligned64(c*stride)
					k.planar(a, x, tg, m, ls, pt, scale, c, stride, q, eps-q)
					k.planarNT(b, x, tg, m, ls, pt, scale, c, stride, q, eps-q)
					if !slices.Equal(bitsOf32(a), bitsOf32(b)) {
						t.Fatalf("C=%d n=%d eps=%v: gradPlanarNT differs from gradPlanar", c, n, eps)
					}
				}
			}
		}
		// The driver on an image of planarNTMin logits, aligned (NT) and not (plain): same bits.
		c, stride := 2, planarNTMin/2
		x := aligned64(c * stride)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		st := stats{make([]float32, stride), make([]float32, stride), make([]float32, stride)}
		tg, scale := make([]int32, stride), make([]float32, stride)
		for p := range stride {
			tg[p], scale[p] = int32(p%3)-1, 0.5
			st.m[p], st.ls[p], st.pt[p] = 1, 1, -0.5
		}
		a := aligned64(c*stride + 1)
		b := a[1:]
		a = a[:c*stride]
		k.gradPlanar(a, x, tg, st, scale, c, stride, 0)
		want := slices.Clone(a)
		k.gradPlanar(b, x, tg, st, scale, c, stride, 0)
		if !slices.Equal(bitsOf32(want), bitsOf32(b)) {
			t.Fatalf("the streamed and the plain gradient of a %d-logit image differ", c*stride)
		}
	}
}

func bitsOf32(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}
