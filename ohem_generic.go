package ohem

import "math"

// The generic kernel set: portable Go, compiled on every platform. It is the production path
// where no assembly exists and the reference the assembly is tested against.
var genericSet = &kernelSet{
	name:           "generic",
	ceRows:         ceRowsUnchecked,
	lseRows:        lseRowsGeneric,
	cePlanar:       cePlanarGeneric,
	lsePlanar:      lsePlanarGeneric,
	gradRows:       gradRowsGeneric,
	gradPlanar:     gradPlanarGeneric,
	sigLoss:        sigLossGeneric,
	sigLSE:         sigLSEGeneric,
	sigGrad:        sigGradGeneric,
	expf:           expGeneric,
	log1pf:         log1pGeneric,
	log1pUnitf:     log1pGeneric,
	maxTarget:      maxTargetGeneric,
	countAtLeast:   countAtLeastGeneric,
	band:           bandGeneric,
	indicesAtLeast: indicesAtLeastGeneric,
	negPosRanks:    negPosRanksGeneric,
	zeroBelow:      zeroBelowGeneric,
	countTargets:   countTargetsGeneric,
}

// exp32 returns e^x for x <= 0 within 2 ulp on [−87.3, 0] (tested exhaustively), and 0 below
// −87.33654, where e^x is no longer a normal float32. It is XNNPACK's rr2_p5 scheme: x = n·ln2 + r
// with n rounded by a magic bias, a degree-5 minimax polynomial for e^r, and 2^n built in the
// exponent bits. Portable Go has no float32 FMA, so the reduction and the polynomial run in float64,
// which costs nothing in scalar code and leaves one rounding at the end. x must not be NaN.
func exp32(x float32) float32 {
	const (
		log2e     = 0x1.71547652b82fep+0
		ln2       = 0x1.62e42fefa39efp-1
		magicBias = 0x1.8p52 // adding it rounds to an integer held in the low mantissa bits
		c5        = 0x1.0F9F9Cp-7
		c4        = 0x1.573A1Ap-5
		c3        = 0x1.555A80p-3
		c2        = 0x1.FFFDC6p-2
		c1        = 0x1.FFFFF6p-1
		cutoff    = -0x1.5D589Ep6 // ln of the smallest normal float32
	)
	if x < cutoff {
		return 0
	}
	xd := float64(x)
	n := xd*log2e + magicBias
	k := int64(math.Float64bits(n) - math.Float64bits(magicBias)) // round(x·log2e)
	n -= magicBias
	t := xd - n*ln2
	p := (((c5*t+c4)*t+c3)*t+c2)*t + c1
	s := math.Float64frombits(uint64(k+1023) << 52) // 2^n
	return float32((t*p)*s + s)
}

func expGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = exp32(v)
	}
}

func log1pGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = float32(math.Log1p(float64(v)))
	}
}

// ceRowsUnchecked is ceRowsGeneric as the generic set's ceRows: it leaves the checks to its
// caller.
func ceRowsUnchecked(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) check {
	ceRowsGeneric(loss, st, x, t, c, eps, fill)
	return checkNaN
}

func ceRowsGeneric(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	if c == 2 && eps == 0 {
		ce2RowsGeneric(loss, st, x, t, fill)
		return
	}
	for i, ti := range t {
		if ti < 0 {
			loss[i] = fill
			st.set(i, 0, 0, 0)
			continue
		}
		row := x[i*c : i*c+c : i*c+c]
		m := row[0]
		for _, v := range row[1:] {
			if v > m {
				m = v
			}
		}
		var others, spread float64
		bad := false
		for j, v := range row {
			d := v - m
			if !(d <= 0) { // NaN in the row, +Inf as the maximum, or all −Inf
				bad = true
				break
			}
			if j != int(ti) {
				others += float64(exp32(d))
			}
			spread += float64(m) - float64(v) // in float64: m − v can overflow float32
		}
		if bad {
			loss[i] = float32(math.NaN())
			continue
		}
		l, s, pt := finishCE(others, m, row[ti], spread, c, eps)
		loss[i] = l
		st.set(i, m, s, pt)
	}
}

// ce2RowsGeneric is C = 2 without smoothing: the loss is softplus(d), d = z_other − z_target,
// evaluated as max(d, 0) + log1p(exp(−|d|)).
func ce2RowsGeneric(loss []float32, st stats, x []float32, t []int32, fill float32) {
	for i, ti := range t {
		if ti < 0 {
			loss[i] = fill
			st.set(i, 0, 0, 0)
			continue
		}
		zt, zo := x[2*i+int(ti)], x[2*i+1-int(ti)]
		m := max(zt, zo)
		lo := min(zt, zo)
		if !(m-m == 0) { // NaN, +Inf, or both −Inf
			loss[i] = float32(math.NaN())
			continue
		}
		d := float64(zo) - float64(zt)
		u := float64(exp32(lo - m)) // the smaller of the two terms e^{z−m}; the larger is 1
		l1 := math.Log1p(u)
		loss[i] = float32(max(d, 0) + l1)
		pt := -1 / (1 + u) // p_t − 1 = −p_other
		if zt >= zo {
			pt = -u / (1 + u)
		}
		st.set(i, m, float32(l1), float32(pt))
	}
}

func lseRowsGeneric(dst, x []float32, c int) {
	for i := range dst {
		row := x[i*c : i*c+c : i*c+c]
		m := row[0]
		for _, v := range row[1:] {
			if v > m {
				m = v
			}
		}
		var s float64
		for _, v := range row {
			d := v - m
			if !(d <= 0) {
				s = math.NaN()
				break
			}
			s += float64(exp32(d))
		}
		dst[i] = float32(float64(m) + math.Log(s))
	}
}

// planarBlock is how many positions the planar kernels reduce at a time: the block's running
// maxima and sums stay in L1 while every class plane streams past.
const planarBlock = 256

func cePlanarGeneric(loss []float32, st stats, x []float32, t []int32, c, stride int, eps, fill float32) {
	var (
		mb     [planarBlock]float32
		others [planarBlock]float64
		spread [planarBlock]float64
	)
	for p0 := 0; p0 < len(t); p0 += planarBlock {
		nb := min(planarBlock, len(t)-p0)
		tb := t[p0 : p0+nb]
		copy(mb[:nb], x[p0:p0+nb])
		for j := 1; j < c; j++ {
			plane := x[j*stride+p0 : j*stride+p0+nb]
			for q, v := range plane {
				if v > mb[q] {
					mb[q] = v
				}
			}
		}
		clear(others[:nb])
		clear(spread[:nb])
		for j := 0; j < c; j++ {
			plane := x[j*stride+p0 : j*stride+p0+nb]
			for q, v := range plane {
				d := v - mb[q]
				if !(d <= 0) {
					others[q] = math.NaN()
					continue
				}
				if int(tb[q]) != j {
					others[q] += float64(exp32(d))
				}
				spread[q] += float64(mb[q]) - float64(v)
			}
		}
		for q, ti := range tb {
			p := p0 + q
			if ti < 0 {
				loss[p] = fill
				st.set(p, 0, 0, 0)
				continue
			}
			if others[q] != others[q] {
				loss[p] = float32(math.NaN())
				continue
			}
			l, s, pt := finishCE(others[q], mb[q], x[int(ti)*stride+p], spread[q], c, eps)
			loss[p] = l
			st.set(p, mb[q], s, pt)
		}
	}
}

func lsePlanarGeneric(dst, x []float32, c, stride int) {
	var (
		mb [planarBlock]float32
		sb [planarBlock]float64
	)
	for p0 := 0; p0 < len(dst); p0 += planarBlock {
		nb := min(planarBlock, len(dst)-p0)
		copy(mb[:nb], x[p0:p0+nb])
		for j := 1; j < c; j++ {
			for q, v := range x[j*stride+p0 : j*stride+p0+nb] {
				if v > mb[q] {
					mb[q] = v
				}
			}
		}
		clear(sb[:nb])
		for j := 0; j < c; j++ {
			for q, v := range x[j*stride+p0 : j*stride+p0+nb] {
				d := v - mb[q]
				if !(d <= 0) {
					sb[q] = math.NaN()
					continue
				}
				sb[q] += float64(exp32(d))
			}
		}
		for q := range nb {
			dst[p0+q] = float32(float64(mb[q]) + math.Log(sb[q]))
		}
	}
}

func gradRowsGeneric(g, x []float32, t []int32, st stats, scale []float32, c int, eps float32) {
	q := eps / float32(c)
	for i, ti := range t {
		grow := g[i*c : i*c+c : i*c+c]
		sc := scale[i]
		if ti < 0 || sc == 0 {
			clear(grow)
			continue
		}
		m, l := st.m[i], st.ls[i]
		for j, v := range x[i*c : i*c+c : i*c+c] {
			grow[j] = sc * (exp32((v-m)-l) - q)
		}
		grow[ti] = sc * (st.pt[i] + (eps - q))
	}
}

func gradPlanarGeneric(g, x []float32, t []int32, st stats, scale []float32, c, stride int, eps float32) {
	q := eps / float32(c)
	n := len(t)
	for j := 0; j < c; j++ {
		gp := g[j*stride : j*stride+n]
		for p, v := range x[j*stride : j*stride+n] {
			sc := scale[p]
			switch {
			case sc == 0 || t[p] < 0:
				gp[p] = 0
			case int(t[p]) == j:
				gp[p] = sc * (st.pt[p] + (eps - q))
			default:
				gp[p] = sc * (exp32((v-st.m[p])-st.ls[p]) - q)
			}
		}
	}
}

func maxTargetGeneric(t []int32) int32 {
	m := int32(-1)
	for _, v := range t {
		m = max(m, v)
	}
	return m
}

func countAtLeastGeneric(x []float32, t float32) int {
	n := 0
	if t != t {
		for _, v := range x {
			if v != v {
				n++
			}
		}
		return n
	}
	for _, v := range x {
		if !(v < t) { // v >= t, or v is NaN
			n++
		}
	}
	return n
}

func bandGeneric(buf, x []float32, lo, hi float32) (above, inBand int) {
	for _, v := range x {
		if !(v <= hi) { // above hi, or NaN
			above++
		} else if v >= lo {
			if inBand < len(buf) {
				buf[inBand] = v
			}
			inBand++
		}
	}
	return above, inBand
}

func indicesAtLeastGeneric(dst []int32, x []float32, t float32, base int32) int {
	n := 0
	if t != t {
		for i, v := range x {
			if v != v {
				dst[n] = base + int32(i)
				n++
			}
		}
		return n
	}
	for i, v := range x {
		if !(v < t) {
			dst[n] = base + int32(i)
			n++
		}
	}
	return n
}

// zeroBelowGeneric is the generic set's zeroBelow.
func zeroBelowGeneric(g, x []float32, v float32) {
	g = g[:len(x)]
	for i, xi := range x {
		if xi < v {
			g[i] = 0
		}
	}
}

// countTargetsGeneric is the generic set's countTargets.
func countTargetsGeneric(t []int32, bg int32) (valid, pos int) {
	for _, ti := range t {
		if ti >= 0 {
			valid++
			if ti != bg {
				pos++
			}
		}
	}
	return valid, pos
}
