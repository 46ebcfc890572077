//go:build !purego

package ohem

import "math"

// The amd64 gradient tiers for the driver (grad_asm.go) and their adapters (asm/grad.go explains
// each kernel).

var (
	gradTierAVX2   = &gradTier{id: tierAVX2, pairs: true, acrossMax: len(gradTabs8) - 1, denseFrom: math.MaxInt, planarMin: 1}
	gradTierAVX512 = &gradTier{id: tierAVX512, pairs: true, acrossMax: len(gradTabs16) - 1, denseFrom: math.MaxInt, planarMin: 1}
)

// gradAVX2 and gradAVX512 install the tier's gradRows and gradPlanar kernels in ks.
func gradAVX2(ks *kernelSet) {
	ks.gradRows = gradTierAVX2.gradRows
	ks.gradPlanar = gradTierAVX2.gradPlanar
}

func gradAVX512(ks *kernelSet) {
	ks.gradRows = gradTierAVX512.gradRows
	ks.gradPlanar = gradTierAVX512.gradPlanar
}

// gradTailFloats, gradPlanarBuf: the amd64 kernels take any count of rows and need no buffer.
const (
	gradTailFloats = 0
	gradPlanarBuf  = 0
)

// tabs returns the tier's gradFlat tables.
func (d *gradTier) tabs() [][]int32 {
	if d.id == tierAVX512 {
		return gradTabs16
	}
	return gradTabs8
}

// hasTable reports whether gradFlat takes C.
func (d *gradTier) hasTable(c int) bool {
	tabs := d.tabs()
	return c < len(tabs) && tabs[c] != nil
}

// gradPairs runs the C = 2 kernel.
func (d *gradTier) gradPairs(g []float32, t []int32, pt, scale []float32, q float32) {
	if d.id == tierAVX512 {
		gradPairsAVX512(g, t, pt, scale, q)
	} else {
		gradPairsAVX2(g, t, pt, scale, q)
	}
}

// gradAcross runs gradFlat, across rows through the tables of C.
func (d *gradTier) gradAcross(g, x []float32, t []int32, st stats, scale []float32, c int, q, tq float32) {
	if d.id == tierAVX512 {
		gradFlatAVX512(g, x, t, st.m, st.ls, st.pt, scale, gradTabs16[c], c, q, tq)
	} else {
		gradFlatAVX2(g, x, t, st.m, st.ls, st.pt, scale, gradTabs8[c], c, q, tq)
	}
}

// gradAlong runs gradRows, along each row.
func (d *gradTier) gradAlong(g, x []float32, t []int32, st stats, scale []float32, c int, q, tq float32) {
	if d.id == tierAVX512 {
		gradRowsAVX512(g, x, t, st.m, st.ls, st.pt, scale, c, q, tq)
	} else {
		gradRowsAVX2(g, x, t, st.m, st.ls, st.pt, scale, c, q, tq)
	}
}

// gradPlanarKernel runs the planar kernel on the len(t) positions of g and x.
func (d *gradTier) gradPlanarKernel(g, x []float32, t []int32, st stats, scale, buf []float32, c, stride int, q, tq float32) {
	if d.id == tierAVX512 {
		gradPlanarAVX512(g, x, t, st.m, st.ls, st.pt, scale, c, stride, q, tq)
	} else {
		gradPlanarAVX2(g, x, t, st.m, st.ls, st.pt, scale, c, stride, q, tq)
	}
}

// gradFlat takes every C up to 15 but 2 on AVX2 (8 rows a block: at C = 16 a row is two whole
// vectors, and gradRows is faster) and up to 16 on AVX-512; 9 KB and 17 KB of tables.
var (
	gradTabs8  = gradTables(8, 15)
	gradTabs16 = gradTables(16, 16)
)

// gradTables returns gradFlat's tables for blocks of lanes rows of C <= maxC classes, C != 2: for
// the k-th vector of a block, the lanes row indices (k·lanes + l)/C, then the lanes column indices
// (k·lanes + l) mod C. A block's vectors reach rows < lanes only, whatever C.
func gradTables(lanes, maxC int) [][]int32 {
	tabs := make([][]int32, maxC+1)
	for c := 1; c <= maxC; c++ {
		if c == 2 {
			continue
		}
		tab := make([]int32, 2*c*lanes)
		for k := range c {
			for l := range lanes {
				e := k*lanes + l
				tab[2*k*lanes+l] = int32(e / c)
				tab[(2*k+1)*lanes+l] = int32(e % c)
			}
		}
		tabs[c] = tab
	}
	return tabs
}
