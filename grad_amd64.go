//go:build !purego

package ohem

// gradAVX2 and gradAVX512 install the tier's gradRows and gradPlanar kernels in ks.
func gradAVX2(ks *kernelSet) {
	k := &gradKernels{rows: gradRowsAVX2, pairs: gradPairsAVX2, flat: gradFlatAVX2, planar: gradPlanarAVX2, tabs: gradTabs8}
	ks.gradRows = k.gradRows
	ks.gradPlanar = k.gradPlanar
}

func gradAVX512(ks *kernelSet) {
	k := &gradKernels{rows: gradRowsAVX512, pairs: gradPairsAVX512, flat: gradFlatAVX512, planar: gradPlanarAVX512, tabs: gradTabs16}
	ks.gradRows = k.gradRows
	ks.gradPlanar = k.gradPlanar
}

// gradKernels are one tier's gradient kernels (asm/grad.go explains each).
type gradKernels struct {
	rows   func(g, x []float32, t []int32, m, ls, pt, scale []float32, c int, q, tq float32)
	pairs  func(g []float32, t []int32, pt, scale []float32, q float32)
	flat   func(g, x []float32, t []int32, m, ls, pt, scale []float32, tab []int32, c int, q, tq float32)
	planar func(g, x []float32, t []int32, m, ls, pt, scale []float32, c, stride int, q, tq float32)
	tabs   [][]int32 // gradFlat's tables by C; nil where gradRows is the faster kernel
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

// gradRows chooses the row-major kernel by the number of classes: C = 2 across rows without exp,
// small C across rows through the tables, larger C along each row.
func (k *gradKernels) gradRows(g, x []float32, t []int32, st stats, scale []float32, c int, eps float32) {
	if len(t) == 0 {
		return
	}
	q := eps / float32(c)
	switch {
	case c == 2:
		// eps − eps/2 == eps/2 exactly, so q is also the target's term.
		k.pairs(g, t, st.pt, scale, q)
	case c < len(k.tabs) && k.tabs[c] != nil:
		k.flat(g, x, t, st.m, st.ls, st.pt, scale, k.tabs[c], c, q, eps-q)
	default:
		k.rows(g, x, t, st.m, st.ls, st.pt, scale, c, q, eps-q)
	}
}

// gradPlanarBlock is how many positions one gradPlanar call covers: their statistics stay in L1
// while every class plane streams past, and a plane's part of the block (4 KB) is the distance at
// which the kernel prefetches the next planes. Measured on seg: 512 to 4096 are within noise of
// each other; 256 is slower.
const gradPlanarBlock = 1024

func (k *gradKernels) gradPlanar(g, x []float32, t []int32, st stats, scale []float32, c, stride int, eps float32) {
	q := eps / float32(c)
	for p0 := 0; p0 < len(t); p0 += gradPlanarBlock {
		p1 := min(p0+gradPlanarBlock, len(t))
		k.planar(g[p0:], x[p0:], t[p0:p1], st.m[p0:p1], st.ls[p0:p1], st.pt[p0:p1], scale[p0:p1], c, stride, q, eps-q)
	}
}
