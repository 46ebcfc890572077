//go:build !purego

package ohem

import "math"

// planarAVX2 and planarAVX512 install the tier's cePlanar and lsePlanar kernels in ks; fields
// left alone keep the generic implementation.
func planarAVX2(ks *kernelSet) {
	ks.cePlanar = cePlanarAsm(cePlanarAVX2, cePlanarSmoothAVX2, countAtLeastAVX2)
	ks.lsePlanar = lsePlanarAsm(lsePlanarAVX2)
}

func planarAVX512(ks *kernelSet) {
	ks.cePlanar = cePlanarAsm(cePlanarAVX512, cePlanarSmoothAVX512, countAtLeastAVX512)
	ks.lsePlanar = lsePlanarAsm(lsePlanarAVX512)
}

type cePlanarKernel func(loss []float32, m, ls, pt *float32, x []float32, t []int32, c, stride int, eps, fill float32)

// cePlanarAsm adapts a tier's two planar cross-entropy kernels (without and with label smoothing)
// to the kernelSet signature: the statistics travel as three pointers, nil when they are off.
//
// With smoothing, the kernel forms m − z_t in float32, which overflows when the logits span more
// than the float32 range, although (1−ε)·(m − z_t) + ε·(…) may still be finite: the rare +Inf
// losses (found with count) are recomputed by the generic kernel, which works in float64.
func cePlanarAsm(plain, smooth cePlanarKernel, count func([]float32, float32) int) func(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
	return func(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
		n := len(t)
		if n == 0 {
			return
		}
		if tinySmoothing(eps, c) {
			cePlanarGeneric(loss, st, x, t, c, stride, eps, fill)
			return
		}
		// The kernels read x[j*stride+p] for p < n, j < c and write loss[:n] (and st[:n]).
		_ = loss[n-1]
		_ = x[(c-1)*stride+n-1]
		var m, ls, pt *float32
		if st.on() {
			_, _, _ = st.m[n-1], st.ls[n-1], st.pt[n-1]
			m, ls, pt = &st.m[0], &st.ls[0], &st.pt[0]
		}
		if eps == 0 {
			plain(loss, m, ls, pt, x, t, c, stride, eps, fill)
			return
		}
		smooth(loss, m, ls, pt, x, t, c, stride, eps, fill)
		inf := float32(math.Inf(1))
		if count(loss[:n], inf) == 0 {
			return
		}
		for p, v := range loss[:n] {
			if v == inf {
				cePlanarGeneric(loss[p:p+1], st.slice(p, p+1), x[p:], t[p:p+1], c, stride, eps, fill)
			}
		}
	}
}

// lsePlanarAsm adapts a tier's planar log-sum-exp kernel: it checks the bounds the kernel relies on.
func lsePlanarAsm(k func(dst, x []float32, c, stride int)) func(dst, x []float32, c, stride int) {
	return func(dst, x []float32, c, stride int) {
		n := len(dst)
		if n == 0 {
			return
		}
		_ = x[(c-1)*stride+n-1]
		k(dst, x, c, stride)
	}
}
