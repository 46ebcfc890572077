//go:build !purego && (amd64 || arm64)

package ohem

// The gradient driver, shared by every assembly tier as rows_asm.go and planar_asm.go are for the
// losses: it picks the row-major kernel by C (and by how many rows are kept), runs the last rows
// of a kernel that takes whole groups through a padded copy, and splits the planar positions into
// the blocks the planar kernel takes. The adapters (grad_amd64.go, grad_arm64.go) call the kernels
// directly.

// gradTier is one tier's gradient kernels as the driver sees them.
type gradTier struct {
	id int // the tier, as its architecture's adapters know it
	// pairs: a C = 2 kernel across rows, without exp (gradPairs).
	pairs bool
	// acrossMax: C up to it go across rows (gradAcross; the adapters know which C have tables),
	// larger C along each row (gradAlong).
	acrossMax int
	// denseFrom: from this C on, across rows only when at least 3/4 of the rows are kept
	// (gradDenseRows); math.MaxInt: always.
	denseFrom int
	// groups: the across-rows kernel takes whole groups of that many rows, the last rows going
	// through a padded copy (0: it takes any count).
	groups int
	// planarMin: fewer positions go to the generic code (the planar kernel's last vector ends at
	// the block's end).
	planarMin int
}

// gradRows is the tier's kernelSet.gradRows.
func (d *gradTier) gradRows(g, x []float32, t []int32, st stats, scale []float32, c int, eps float32) {
	n := len(t)
	if n == 0 {
		return
	}
	q := eps / float32(c)
	tq := eps - q
	switch {
	case d.pairs && c == 2:
		// eps − eps/2 == eps/2 exactly, so q is also the target's term.
		d.gradPairs(g, t, st.pt, scale, q)
	case !d.across(c) || c >= d.denseFrom && !gradDenseRows(t, scale):
		d.gradAlong(g, x, t, st, scale, c, q, tq)
	case d.groups == 0:
		d.gradAcross(g, x, t, st, scale, c, q, tq)
	default:
		d.gradGroups(g, x, t, st, scale, c, q, tq)
	}
}

// across reports whether C goes across rows.
func (d *gradTier) across(c int) bool { return c <= d.acrossMax && d.hasTable(c) }

// gradGroups runs the across-rows kernel on whole groups, and the last rows through a group on
// the stack whose missing rows are dropped (t = −1).
func (d *gradTier) gradGroups(g, x []float32, t []int32, st stats, scale []float32, c int, q, tq float32) {
	n := len(t)
	whole := n / d.groups * d.groups
	if whole > 0 {
		d.gradAcross(g[:whole*c], x[:whole*c], t[:whole], st.slice(0, whole), scale[:whole], c, q, tq)
	}
	if whole == n {
		return
	}
	var (
		gb, xb         [gradTailFloats]float32
		mb, lb, pb, sb [maxLanes]float32
		tb             [maxLanes]int32
	)
	k := d.groups
	r := padTargets(tb[:k], t[whole:])
	copy(xb[:r*c], x[whole*c:n*c])
	copy(mb[:r], st.m[whole:n])
	copy(lb[:r], st.ls[whole:n])
	copy(pb[:r], st.pt[whole:n])
	copy(sb[:r], scale[whole:n])
	d.gradAcross(gb[:k*c], xb[:k*c], tb[:k], stats{mb[:k], lb[:k], pb[:k]}, sb[:k], c, q, tq)
	copy(g[whole*c:n*c], gb[:r*c])
}

// gradDenseRows reports whether at least 3/4 of the rows are kept (t >= 0, scale != ±0). It
// stops at the first dropped row over the quarter, so a sparse selection costs a few rows.
func gradDenseRows(t []int32, scale []float32) bool {
	left := len(t) / 4 // dropped rows allowed
	for i, s := range scale[:len(t)] {
		if s == 0 || t[i] < 0 {
			if left == 0 {
				return false
			}
			left--
		}
	}
	return true
}

// gradPlanarBlock is how many positions one planar kernel call covers: their statistics (and
// NEON's per-position drop masks and target gradients, 8 KB on the stack) stay in L1 while every
// class plane streams past, and a plane's part of the block (4 KB) is the distance at which the
// amd64 kernels prefetch the next planes. Measured on seg (amd64): 512 to 4096 are within noise
// of each other; 256 is slower.
const gradPlanarBlock = 1024

// gradPlanarSmall is the most positions that go in one call with a smaller buffer to clear.
const gradPlanarSmall = 256

// gradPlanar is the tier's kernelSet.gradPlanar.
func (d *gradTier) gradPlanar(g, x []float32, t []int32, st stats, scale []float32, c, stride int, eps float32) {
	n := len(t)
	if n < d.planarMin {
		gradPlanarGeneric(g, x, t, st, scale, c, stride, eps)
		return
	}
	if n == 0 {
		return
	}
	// every plane's n positions lie in g and x (the kernels cannot check)
	_, _ = g[(c-1)*stride+n-1], x[(c-1)*stride+n-1]
	if n <= gradPlanarSmall {
		var buf [gradPlanarBuf * gradPlanarSmall]float32
		d.gradPlanarBlocks(g, x, t, st, scale, buf[:], c, stride, eps)
		return
	}
	var buf [gradPlanarBuf * gradPlanarBlock]float32
	d.gradPlanarBlocks(g, x, t, st, scale, buf[:], c, stride, eps)
}

// gradPlanarBlocks runs the planar kernel on blocks of gradPlanarBlock positions, the last one
// at least planarMin long.
func (d *gradTier) gradPlanarBlocks(g, x []float32, t []int32, st stats, scale, buf []float32, c, stride int, eps float32) {
	n := len(t)
	q := eps / float32(c)
	for p0 := 0; p0 < n; {
		nb := min(gradPlanarBlock, n-p0)
		if rest := n - p0 - nb; rest > 0 && rest < d.planarMin {
			nb -= d.planarMin // leave the last block planarMin..2·planarMin−1 positions
		}
		p1 := p0 + nb
		d.gradPlanarKernel(g[p0:], x[p0:], t[p0:p1], st.slice(p0, p1), scale[p0:p1], buf[:gradPlanarBuf*nb], c, stride, q, eps-q)
		p0 = p1
	}
}
