package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The gradient kernels: g = scale·(softmax − q) for a kept sample, q = (1−eps)·onehot(t) + eps/C,
// from the statistics of the forward pass (m the row maximum, ls = log Σ exp(z − m), pt = p_t − 1),
// and 0 for every other sample. A non-target element is scale·(exp((z − m) − ls) − eps/C), the
// target element scale·(pt + (eps − eps/C)): p_t − 1 comes exact from the forward pass, so the
// target never cancels. A sample is kept when its target is >= 0 and its scale is not ±0; the
// logits of the others are never trusted (an ignored sample's may be NaN): they are masked, not
// multiplied by 0. g may be x itself (ForwardBackward in place): no store reaches a lane of x that
// is still to be read.
//
// Four kernels, chosen by the Go glue (grad_amd64.go) from the layout and C:
//   - gradRows, row-major larger C: along each row with the shared exp sequence, a masked tail,
//     then the target element patched with a scalar store; a run of dropped rows is one zero fill,
//     and the scan over it prefetches the kept rows aheadRows rows early (prefetchAhead).
//   - gradPairs, row-major C = 2: across rows, no exp and no logit read at all: with q = eps/2 the
//     two elements are ±scale·(pt + eps/2) (p_other = −pt), interleaved by VPERMT2PS (AVX-512) or
//     VUNPCKLPS/VUNPCKHPS/VPERM2F128 (AVX2) into 2·lanes elements.
//   - gradFlat, row-major small C (1 and 3..16 on AVX-512, 1 and 3..15 on AVX2): lanes rows at a
//     time, the block's C vectors streamed as they lie in memory; each lane fetches its row's
//     statistics with VPERMPS from a table of row indices (and compares a table of column indices
//     with its row's target). Every C works; the glue has tables for these.
//   - gradPlanar, planar: across positions, one block of positions at a time, two class planes at
//     a time with the next two prefetched; the statistics are memory operands, the target lanes
//     blended in by a compare with the class index.

// loadGradArgs loads what every per-sample gradient kernel starts from, in this order: the bases
// of g, x and t, len(t), and the bases of the statistics m, ls, pt and of scale.
func loadGradArgs() (g, x, t, n, m, ls, pt, scale reg.GPVirtual) {
	ld := func(c gotypes.Component) reg.GPVirtual { return Load(c, GP64()).(reg.GPVirtual) }
	return ld(Param("g").Base()), ld(Param("x").Base()), ld(Param("t").Base()), ld(Param("t").Len()),
		ld(Param("m").Base()), ld(Param("ls").Base()), ld(Param("pt").Base()), ld(Param("scale").Base())
}

// genGrad emits the gradient kernels of tier t.
func genGrad(t tier) {
	genGradRows(t)
	genGradPairs(t)
	genGradFlat(t)
	genGradPlanar(t)
}

// zeroFill stores zeros over the nb bytes at p (nb a multiple of 4), four vectors at a time, then
// one, then the tail: AVX-512 through a mask; AVX2 with a whole vector that ends at the end, over
// zeros stored already, or, when nb is less than a vector, in pieces (storeTail; no masked store,
// see tier.go). p is advanced past them; nb is consumed.
func (t tier) zeroFill(prefix string, p, nb reg.GPVirtual) {
	z := t.zero()
	loop4, loop1, tail, short, done := prefix+"Zero4", prefix+"Zero1", prefix+"ZeroTail", prefix+"ZeroShort", prefix+"ZeroDone"
	if !t.zmm {
		CMPQ(nb, U32(t.bytes()))
		JB(LabelRef(short))
	}
	Label(loop4)
	CMPQ(nb, U32(4*t.bytes()))
	JB(LabelRef(loop1))
	for i := range 4 {
		VMOVUPS(z, Mem{Base: p, Disp: i * t.bytes()})
	}
	ADDQ(U32(4*t.bytes()), p)
	SUBQ(U32(4*t.bytes()), nb)
	JMP(LabelRef(loop4))
	Label(loop1)
	CMPQ(nb, U32(t.bytes()))
	JB(LabelRef(tail))
	VMOVUPS(z, Mem{Base: p})
	ADDQ(U32(t.bytes()), p)
	SUBQ(U32(t.bytes()), nb)
	JMP(LabelRef(loop1))
	Label(tail)
	TESTQ(nb, nb)
	JZ(LabelRef(done))
	if !t.zmm {
		Comment("the last bytes: a whole vector ending at the end, over zeros stored already")
		ADDQ(nb, p)
		VMOVUPS(z, Mem{Base: p, Disp: -t.bytes()})
		JMP(LabelRef(done))
		Label(short)
		TESTQ(nb, nb)
		JZ(LabelRef(done))
	}
	SHRQ(U8(2), nb)
	t.storeTail(z, Mem{Base: p}, nb, nil)
	SHLQ(U8(2), nb)
	ADDQ(nb, p)
	Label(done)
}

// jumpIfDropped jumps to label when row i is not kept: t[i] < 0 or scale[i] is ±0.
func jumpIfDropped(tp, sp, i reg.GPVirtual, label string) {
	ti := GP32()
	MOVL(Mem{Base: tp, Index: i, Scale: 4}, ti)
	TESTL(ti, ti)
	JS(LabelRef(label))
	TESTL(U32(0x7FFFFFFF), Mem{Base: sp, Index: i, Scale: 4})
	JZ(LabelRef(label))
}

// aheadRows is how many rows ahead of the one it is at gradRows prefetches a kept row's logits.
const aheadRows = 64

// prefetchAhead prefetches row i + aheadRows of x (its first and last bytes: a row may span two
// lines) when that row exists and its scale is not ±0. The kept rows of a sparse selection (SSD's
// classification loss keeps ~4% of its anchors) are misses the hardware prefetchers cannot
// predict, and one at a time they leave the kernel waiting on each; looked at aheadRows early,
// their misses overlap the work on the rows before them. gradRows calls it for each dropped row
// it passes over, where a sparse selection spends its time, and not for a kept one. Branch-free:
// where row i + aheadRows is dropped the prefetch goes to row 0 (in the caches by then). A
// branch on its scale, and a call for every row, cost a mixed selection (KeepRatio 0.7) 16% at
// C = 21 on Zen 5 in mispredictions; this form about 2%.
func prefetchAhead(skip string, x0, sp, n, c4, i reg.GPVirtual) {
	j, o := GP64(), GP64()
	LEAQ(Mem{Base: i, Disp: aheadRows}, j)
	CMPQ(j, n)
	JAE(LabelRef(skip))
	MOVQ(j, o)
	IMULQ(c4, o)
	MOVL(Mem{Base: sp, Index: j, Scale: 4}, j.As32())
	ANDL(U32(0x7FFFFFFF), j.As32())
	CMOVQEQ(j, o) // a dropped row: 0
	prefetchT0(Mem{Base: x0, Index: o, Scale: 1})
	ADDQ(c4, o)
	prefetchT0(Mem{Base: x0, Index: o, Scale: 1, Disp: -4})
	Label(skip)
}

// genGradRows emits gradRows: row-major, one row at a time, for the C the other row-major kernels
// do not take (any C >= 1 works).
func genGradRows(t tier) {
	name := "gradRows"
	lbl := func(s string) string { return name + t.suffix + s }
	t.text(name, "func(g, x []float32, t []int32, m, ls, pt, scale []float32, c int, q, tq float32)",
		"writes the gradient of the len(t) rows of x, c classes each, to g: for a kept row (t[i] >= 0,",
		"scale[i] != 0) g_j = scale·(exp((x_j − m) − ls) − q) and g_t = scale·(pt + tq); 0 for the others.")
	gp, xp, tp, n, mp, lp, pp, sp := loadGradArgs()
	c4 := Load(Param("c"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), c4) // bytes per row
	qv := t.loadParamF32("q")
	ec := t.loadExpConsts()
	sign := t.cu("signBit", 0x80000000)
	i := GP64()
	XORQ(i, i)

	// Unrolled by unroll vectors; the exp sequences of consecutive iterations overlap out of order.
	unroll := 2
	if t.zmm {
		unroll = 4
	}
	x0 := GP64()
	MOVQ(xp, x0)
	Label(lbl("Row"))
	CMPQ(i, n)
	JAE(LabelRef(lbl("Done")))
	jumpIfDropped(tp, sp, i, lbl("Drop"))

	Comment("A kept row: −m, ls, scale and −scale·q in every lane")
	negm, lv, sv, nsq := t.vec(), t.vec(), t.vec(), t.vec()
	VBROADCASTSS(Mem{Base: mp, Index: i, Scale: 4}, negm)
	VXORPS(sign, negm, negm)
	VBROADCASTSS(Mem{Base: lp, Index: i, Scale: 4}, lv)
	VBROADCASTSS(Mem{Base: sp, Index: i, Scale: 4}, sv)
	VMULPS(qv, sv, nsq)
	VXORPS(sign, nsq, nsq)
	left := GP64()
	MOVQ(c4, left)
	// body computes one vector: g = scale·exp((x − m) − ls) − scale·q. x + (−m) is x − m exactly.
	body := func(x Op) reg.VecVirtual {
		d, e := t.vec(), t.vec()
		VADDPS(x, negm, d)
		VSUBPS(lv, d, d)
		t.exp(ec, d, e)
		VFMADD213PS(nsq, sv, e)
		return e
	}
	Label(lbl("LoopU"))
	CMPQ(left, U32(unroll*t.bytes()))
	JB(LabelRef(lbl("Loop1")))
	for u := range unroll {
		e := body(Mem{Base: xp, Disp: u * t.bytes()})
		VMOVUPS(e, Mem{Base: gp, Disp: u * t.bytes()})
	}
	ADDQ(U32(unroll*t.bytes()), xp)
	ADDQ(U32(unroll*t.bytes()), gp)
	SUBQ(U32(unroll*t.bytes()), left)
	JMP(LabelRef(lbl("LoopU")))
	Label(lbl("Loop1"))
	CMPQ(left, U32(t.bytes()))
	JB(LabelRef(lbl("Tail")))
	e := body(Mem{Base: xp})
	VMOVUPS(e, Mem{Base: gp})
	ADDQ(U32(t.bytes()), xp)
	ADDQ(U32(t.bytes()), gp)
	SUBQ(U32(t.bytes()), left)
	JMP(LabelRef(lbl("Loop1")))
	Label(lbl("Tail"))
	TESTQ(left, left)
	JZ(LabelRef(lbl("Target")))
	// AVX2 stores the tail in pieces (no masked store, see tier.go), not as the vector that ends
	// at the row's end: g may be x itself (ForwardBackward in place), and the lanes before the tail
	// hold gradients by now. The tail's length is the same in every row.
	Comment("The last elements of the row, masked")
	SHRQ(U8(2), left)
	mask := t.tailMask(left)
	x := t.loadTail(Mem{Base: xp}, mask)
	e = body(x)
	t.storeTail(e, Mem{Base: gp}, left, mask)
	SHLQ(U8(2), left)
	ADDQ(left, xp)
	ADDQ(left, gp)

	Label(lbl("Target"))
	Comment("g_t = scale·(pt + tq), over the value the vector loop left there; gp is at the row's end")
	off := GP64()
	MOVLQSX(Mem{Base: tp, Index: i, Scale: 4}, off)
	SHLQ(U8(2), off)
	SUBQ(c4, off)
	v := XMM()
	VMOVSS(paramAddr("tq"), v)
	VADDSS(Mem{Base: pp, Index: i, Scale: 4}, v, v)
	VMULSS(Mem{Base: sp, Index: i, Scale: 4}, v, v)
	VMOVSS(v, Mem{Base: gp, Index: off, Scale: 1})
	INCQ(i)
	JMP(LabelRef(lbl("Row")))

	Label(lbl("Drop"))
	Comment("A run of dropped rows: one zero fill")
	first := GP64()
	MOVQ(i, first)
	Label(lbl("DropNext"))
	INCQ(i)
	CMPQ(i, n)
	JAE(LabelRef(lbl("Fill")))
	prefetchAhead(lbl("DropAhead"), x0, sp, n, c4, i)
	jumpIfDropped(tp, sp, i, lbl("DropNext"))
	Label(lbl("Fill"))
	nb := GP64()
	MOVQ(i, nb)
	SUBQ(first, nb)
	IMULQ(c4, nb)
	ADDQ(nb, xp)
	t.zeroFill(lbl(""), gp, nb)
	JMP(LabelRef(lbl("Row")))

	Label(lbl("Done"))
	VZEROUPPER()
	RET()
}

// genGradPairs emits gradPairs: row-major C = 2, lanes rows at a time.
func genGradPairs(t tier) {
	g := &gradPairsGen{t: t}
	name, lbl := "gradPairs", g.lbl
	t.text(name, "func(g []float32, t []int32, pt, scale []float32, q float32)",
		"writes the gradient of the len(t) two-class rows to g: for a kept row (t[i] >= 0, scale[i] != 0)",
		"g_t = scale·(pt + q) and g_other = −g_t (q = eps/2 = eps − eps/2, p_other = −pt); 0 for the others.")
	g.gp = Load(Param("g").Base(), GP64()).(reg.GPVirtual)
	tp := Load(Param("t").Base(), GP64()).(reg.GPVirtual)
	n := Load(Param("t").Len(), GP64()).(reg.GPVirtual)
	pp := Load(Param("pt").Base(), GP64()).(reg.GPVirtual)
	sp := Load(Param("scale").Base(), GP64()).(reg.GPVirtual)
	g.qv = t.loadParamF32("q")
	g.sign = t.cu("signBit", 0x80000000)
	g.zero = t.zero()
	if t.zmm {
		lo, hi := make([]uint32, 16), make([]uint32, 16)
		for l := range 16 {
			lo[l] = uint32(l/2 + 16*(l%2))
			hi[l] = uint32(8 + l/2 + 16*(l%2))
		}
		idxLo, idxHi := t.vec(), t.vec()
		VMOVDQU32(u32Table("gradPairLo", lo), idxLo)
		VMOVDQU32(u32Table("gradPairHi", hi), idxHi)
		g.idxLo, g.idxHi = idxLo, idxHi
	}

	Label(lbl("Loop"))
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(lbl("Tail")))
	tv := t.vec()
	if t.zmm {
		VMOVDQU32(Mem{Base: tp}, tv)
	} else {
		VMOVDQU(Mem{Base: tp}, tv)
	}
	g.block(tv, Mem{Base: pp}, Mem{Base: sp}, nil, nil)
	ADDQ(U32(t.bytes()), tp)
	ADDQ(U32(t.bytes()), pp)
	ADDQ(U32(t.bytes()), sp)
	ADDQ(U32(2*t.bytes()), g.gp)
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(lbl("Loop")))

	Label(lbl("Tail"))
	TESTQ(n, n)
	JZ(LabelRef(lbl("Done")))
	Comment("The last n < lanes rows: masked loads, and stores of their 2n elements")
	mask := t.tailMask(n)
	tv = t.loadTail(Mem{Base: tp}, mask)
	ptv := t.loadTail(Mem{Base: pp}, mask)
	scv := t.loadTail(Mem{Base: sp}, mask)
	n2 := GP64()
	LEAQ(Mem{Base: n, Index: n, Scale: 1}, n2)
	var s0, s1 Op
	if t.zmm {
		bits := GP32()
		MOVL(U32(0xFFFFFFFF), bits)
		BZHIL(n2.As32(), bits, bits)
		k0, k1 := K(), K()
		KMOVW(bits, k0)
		SHRL(U8(16), bits)
		KMOVW(bits, k1)
		s0, s1 = k0, k1
	} else {
		s0 = n2 // block stores the first 2n elements in pieces: no masked store (see tier.go)
	}
	g.block(tv, ptv, scv, s0, s1)

	Label(lbl("Done"))
	VZEROUPPER()
	RET()
}

// gradPairsGen holds the state of gradPairs being generated.
type gradPairsGen struct {
	t            tier
	gp           reg.GPVirtual
	qv, zero     reg.VecVirtual
	sign         Op
	idxLo, idxHi Op // AVX-512: the VPERMT2PS indices that interleave two vectors
}

// lbl is the label s of the kernel.
func (g *gradPairsGen) lbl(s string) string { return "gradPairs" + g.t.suffix + s }

// block computes lanes rows from tv, pt and scale (registers or memory), and stores their 2·lanes
// gradient elements at g, all of them when store0 is nil, else the first 2n: through the opmasks
// store0 and store1 on AVX-512, in pieces on AVX2, where store0 is the register holding 2n.
func (g *gradPairsGen) block(tv reg.VecVirtual, ptOp, scOp Op, store0, store1 Op) {
	t, lbl, gp, qv, sign, zero, idxLo, idxHi := g.t, g.lbl, g.gp, g.qv, g.sign, g.zero, g.idxLo, g.idxHi
	a, s, v0, v1 := t.vec(), t.vec(), t.vec(), t.vec()
	if t.zmm {
		Comment("kept = t >= 0 && scale != 0; a = scale·(pt + q), 0 where dropped")
		k := K()
		VPCMPD(U8(5), zero, tv, k) // t >= 0
		VCMPPS(U8(4), scOp, zero, k, k)
		VADDPS(ptOp, qv, a)
		VMULPS_Z(scOp, a, k, a)
		Comment("class 0 gets a when t = 0 and −a when t = 1; class 1 the opposite")
		VPSLLD(U8(31), tv, s)
		VPXORD_Z(s, a, k, v0)
		VPXORD_Z(sign, v0, k, v1)
		Comment("interleave: row i's pair is (v0[i], v1[i])")
		o0, o1 := t.vec(), v0
		VMOVAPS(v0, o0)
		VPERMT2PS(v1, idxLo, o0)
		VPERMT2PS(v1, idxHi, o1)
		if store0 == nil {
			VMOVUPS(o0, Mem{Base: gp})
			VMOVUPS(o1, Mem{Base: gp, Disp: t.bytes()})
		} else {
			VMOVUPS(o0, store0, Mem{Base: gp})
			VMOVUPS(o1, store1, Mem{Base: gp, Disp: t.bytes()})
		}
		return
	}
	Comment("dropped = t < 0 || scale == 0; a = scale·(pt + q)")
	dead, z := t.vec(), t.vec()
	VPSRAD(U8(31), tv, dead)
	VCMPPS(U8(0), scOp, zero, z)
	VPOR(z, dead, dead)
	VADDPS(ptOp, qv, a)
	VMULPS(scOp, a, a)
	Comment("class 0 gets a when t = 0 and −a when t = 1; class 1 the opposite; 0 where dropped")
	VPSLLD(U8(31), tv, s)
	VXORPS(s, a, v0)
	VANDNPS(v0, dead, v0)
	VXORPS(sign, v0, v1)
	VANDNPS(v1, dead, v1)
	Comment("interleave: row i's pair is (v0[i], v1[i])")
	lo, hi, o0, o1 := t.vec(), t.vec(), t.vec(), t.vec()
	VUNPCKLPS(v1, v0, lo) // rows 0, 1 | 4, 5
	VUNPCKHPS(v1, v0, hi) // rows 2, 3 | 6, 7
	VPERM2F128(U8(0x20), hi, lo, o0)
	VPERM2F128(U8(0x31), hi, lo, o1)
	if store0 == nil {
		VMOVUPS(o0, Mem{Base: gp})
		VMOVUPS(o1, Mem{Base: gp, Disp: t.bytes()})
		return
	}
	Comment("the first 2n < 16 elements: o0 whole or in part, then o1 in part")
	n2 := store0.(reg.GPVirtual)
	CMPQ(n2, U8(t.lanes))
	JAE(LabelRef(lbl("TailHigh")))
	t.storeTail(o0, Mem{Base: gp}, n2, nil)
	JMP(LabelRef(lbl("Done")))
	Label(lbl("TailHigh"))
	VMOVUPS(o0, Mem{Base: gp})
	SUBQ(U8(t.lanes), n2)
	t.storeTail(o1, Mem{Base: gp, Disp: t.bytes()}, n2, nil)
}

// genGradFlat emits gradFlat: row-major, small C, lanes rows (lanes·C elements, C vectors) at a
// time; a block of dropped rows is only zeros. Lane l of the block's vector k holds element k·lanes + l, which belongs to
// row (k·lanes + l)/C and column (k·lanes + l) mod C: tab holds, per k, the row indices (VPERMPS
// picks the row's statistics with them) and the column indices (compared with the row's target).
func genGradFlat(t tier) {
	g := &gradFlatGen{t: t}
	lbl := g.lbl
	t.text("gradFlat", "func(g, x []float32, t []int32, m, ls, pt, scale []float32, tab []int32, c int, q, tq float32)",
		"writes the gradient of the len(t) rows of x, c classes each, to g as gradRows does; tab holds,",
		"for each k < c, the row and the column of the lanes of the k-th vector of a block of rows.")
	var tp, n, mp, lp, pp, sp reg.GPVirtual
	g.gp, g.xp, tp, n, mp, lp, pp, sp = loadGradArgs()
	g.qv = t.loadParamF32("q")
	g.tqv = t.loadParamF32("tq")
	g.ec = t.loadExpConsts()
	g.sign = t.cu("signBit", 0x80000000)
	if t.zmm {
		g.zero = t.zero()
		g.minus1 = t.u32("allOnes", 0xFFFFFFFF)
	}

	load := func(m Mem) reg.VecVirtual {
		r := t.vec()
		VMOVUPS(m, r)
		return r
	}
	Label(lbl("Block"))
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(lbl("Tail")))
	g.block(load(Mem{Base: tp}), load(Mem{Base: sp}), load(Mem{Base: mp}), load(Mem{Base: lp}), load(Mem{Base: pp}), nil)
	Label(lbl("Next"))
	for _, p := range []reg.GPVirtual{tp, sp, mp, lp, pp} {
		ADDQ(U32(t.bytes()), p)
	}
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(lbl("Block")))

	Label(lbl("Drop"))
	Comment("Every row of the block dropped: zeros")
	nb := Load(Param("c"), GP64()).(reg.GPVirtual)
	SHLQ(U8(map[int]uint8{8: 5, 16: 6}[t.lanes]), nb) // c vectors
	ADDQ(nb, g.xp)
	t.zeroFill(lbl(""), g.gp, nb)
	JMP(LabelRef(lbl("Next")))

	Label(lbl("Tail"))
	TESTQ(n, n)
	JZ(LabelRef(lbl("Done")))
	mask := t.tailMask(n)
	ld := func(p reg.GPVirtual) reg.VecVirtual { return t.loadTail(Mem{Base: p}, mask) }
	g.block(ld(tp), ld(sp), ld(mp), ld(lp), ld(pp), n)

	Label(lbl("Done"))
	VZEROUPPER()
	RET()
}

// gradFlatGen holds the state of gradFlat being generated.
type gradFlatGen struct {
	t            tier
	gp, xp       reg.GPVirtual // the gradient and the logits, advanced a vector at a time
	qv, tqv      reg.VecVirtual
	ec           expConsts
	sign         Op
	zero, minus1 reg.VecVirtual // AVX-512
}

// lbl is the label s of the kernel.
func (g *gradFlatGen) lbl(s string) string { return "gradFlat" + g.t.suffix + s }

// flatBlock is what every vector of a block of gradFlat needs: tab, the targets T (−1 in a
// dropped row), the rows' −m, ls and scale, and the target's gradient gt.
type flatBlock struct {
	tab               reg.GPVirtual
	T, mv, lv, sv, gt reg.VecVirtual
}

// block computes the rows whose t, scale, m, ls, pt are in the given registers: every vector of
// the block when rows is nil, else the first rows·C elements (rows < lanes).
func (g *gradFlatGen) block(tv, sv, mv, lv, ptv reg.VecVirtual, rows reg.GPVirtual) {
	t, lbl, zero := g.t, g.lbl, g.zero
	b := &flatBlock{mv: mv, lv: lv, sv: sv}
	b.tab = Load(Param("tab").Base(), GP64()).(reg.GPVirtual)
	Comment("T = t for a kept row, −1 for a dropped one (t < 0 or scale = 0)")
	b.T = t.vec()
	if t.zmm {
		kl := K()
		VPCMPD(U8(5), zero, tv, kl) // t >= 0
		VCMPPS(U8(4), sv, zero, kl, kl)
		if rows == nil {
			KORTESTW(kl, kl)
			JZ(LabelRef(lbl("Drop")))
		}
		VPBLENDMD(tv, g.minus1, kl, b.T)
	} else {
		z, dead := t.vec(), t.vec()
		VXORPS(z, z, z)
		VCMPPS(U8(0), sv, z, z)
		VPSRAD(U8(31), tv, dead)
		VPOR(z, dead, dead)
		VPOR(dead, tv, b.T)
		if rows == nil {
			all := GP32()
			VMOVMSKPS(b.T, all)
			CMPL(all, U32(0xFF))
			JE(LabelRef(lbl("Drop")))
		}
	}
	Comment("−m, and the target's gradient scale·(pt + tq)")
	VXORPS(g.sign, mv, mv)
	b.gt = t.vec()
	VADDPS(ptv, g.tqv, b.gt)
	VMULPS(sv, b.gt, b.gt)

	next := func() {
		ADDQ(U32(t.bytes()), g.xp)
		ADDQ(U32(t.bytes()), g.gp)
		ADDQ(U32(2*t.bytes()), b.tab)
	}
	if rows == nil {
		k := Load(Param("c"), GP64()).(reg.GPVirtual)
		Label(lbl("Vec"))
		e := g.vec(b, Mem{Base: g.xp})
		VMOVUPS(e, Mem{Base: g.gp})
		next()
		DECQ(k)
		JNZ(LabelRef(lbl("Vec")))
		return
	}
	Comment("The last rows: rows·C elements, the last vector masked")
	left := Load(Param("c"), GP64()).(reg.GPVirtual)
	IMULQ(rows, left)
	Label(lbl("TailVec"))
	CMPQ(left, U32(t.lanes))
	JB(LabelRef(lbl("TailPart")))
	e := g.vec(b, Mem{Base: g.xp})
	VMOVUPS(e, Mem{Base: g.gp})
	next()
	SUBQ(U32(t.lanes), left)
	JMP(LabelRef(lbl("TailVec")))
	Label(lbl("TailPart"))
	TESTQ(left, left)
	JZ(LabelRef(lbl("Done")))
	mask := t.tailMask(left)
	x := t.loadTail(Mem{Base: g.xp}, mask)
	e = g.vec(b, x)
	t.storeTail(e, Mem{Base: g.gp}, left, mask)
}

// vec computes the vector at x whose row and column indices are at tab, into a new register.
func (g *gradFlatGen) vec(b *flatBlock, x Op) reg.VecVirtual {
	t, zero, tab := g.t, g.zero, b.tab
	idx, p, d, e, tt := t.vec(), t.vec(), t.vec(), t.vec(), t.vec()
	if t.zmm {
		VMOVDQU32(Mem{Base: tab}, idx)
	} else {
		VMOVDQU(Mem{Base: tab}, idx)
	}
	Comment("each lane's row: d = (x − m) − ls, e = scale·(exp(d) − q)")
	VPERMPS(b.mv, idx, p)
	VADDPS(x, p, d)
	VPERMPS(b.lv, idx, p)
	VSUBPS(p, d, d)
	t.exp(g.ec, d, e)
	VSUBPS(g.qv, e, e)
	VPERMD(b.T, idx, tt)
	VPERMPS(b.sv, idx, p)
	if t.zmm {
		Comment("0 in a dropped row; the target's gradient in the target column")
		kl, kt := K(), K()
		VPCMPD(U8(5), zero, tt, kl)
		VMULPS_Z(p, e, kl, e)
		VPCMPEQD(Mem{Base: tab, Disp: t.bytes()}, tt, kt)
		VPERMPS(b.gt, idx, kt, e)
		return e
	}
	VMULPS(p, e, e)
	Comment("0 in a dropped row; the target's gradient in the target column")
	dead := t.vec()
	VPSRAD(U8(31), tt, dead)
	VANDNPS(e, dead, e)
	VPCMPEQD(Mem{Base: tab, Disp: t.bytes()}, tt, tt)
	VPERMPS(b.gt, idx, p)
	VBLENDVPS(tt, p, e, e)
	return e
}

// genGradPlanar emits gradPlanar: one block of len(t) positions of a planar image (the Go glue
// cuts an image into blocks, so that the block's statistics stay in L1), lanes positions a vector,
// the last vector of each plane masked. The class planes are far apart (stride), so every plane's
// part of the block is a short stream of its own: two planes are walked at once, and the next
// two planes' logits are prefetched, one plane pair ahead.
func genGradPlanar(t tier) {
	g := &gradPlanarGen{t: t}
	lbl := g.lbl
	t.text("gradPlanar", "func(g, x []float32, t []int32, m, ls, pt, scale []float32, c, stride int, q, tq float32)",
		"writes the gradient of the len(t) positions of the planar x (class j of position p at",
		"x[j·stride + p]) to g, in the same layout: as gradRows, per position.")
	g.gO, g.xo, g.tp, g.full, g.mp, g.lp, g.pp, g.sp = loadGradArgs()
	jc := Load(Param("c"), GP64()).(reg.GPVirtual) // classes left
	g.stride = Load(Param("stride"), GP64()).(reg.GPVirtual)
	SHLQ(U8(2), g.stride)
	g.qv = t.loadParamF32("q")
	g.tqv = t.loadParamF32("tq")
	g.ec = t.loadExpConsts()
	g.jv = t.zero() // the class index, in every lane
	if t.zmm {
		g.zero = t.zero()
	}
	g.ones = t.cu("gradOne32", 1)
	Comment("full = the bytes of the unmasked vectors of a plane")
	SHLQ(U8(2), g.full)
	ANDQ(U32(^uint32(t.bytes()-1)), g.full)
	g.o = GP64()

	Label(lbl("Pairs"))
	CMPQ(jc, U8(2))
	JB(LabelRef(lbl("Last")))
	g.pass(2)
	SUBQ(U8(2), jc)
	JMP(LabelRef(lbl("Pairs")))
	Label(lbl("Last"))
	Comment("An odd class count leaves one plane")
	TESTQ(jc, jc)
	JZ(LabelRef(lbl("Done")))
	g.pass(1)
	Label(lbl("Done"))
	VZEROUPPER()
	RET()
}

// gradPlanarGen holds the state of gradPlanar being generated.
type gradPlanarGen struct {
	t                    tier
	xo, gO               reg.GPVirtual  // the current planes of x and g, at the block's start
	tp, full, mp, lp, pp reg.GPVirtual  // full: the bytes of the unmasked vectors of a plane
	sp, stride, o        reg.GPVirtual  // o: the byte offset in the block
	qv, tqv, jv, zero    reg.VecVirtual // jv: the class index, in every lane
	ec                   expConsts
	ones                 Op
}

// lbl is the label s of the kernel.
func (g *gradPlanarGen) lbl(s string) string { return "gradPlanar" + g.t.suffix + s }

// planarShared holds what every plane of a vector of positions needs: the target's gradient
// scale·(pt + tq), and the targets with the lanes to zero (t < 0).
type planarShared struct {
	gt   reg.VecVirtual
	tv   Op // the targets (AVX-512: as they were given, memory or register)
	live Op // AVX-512: the opmask of t >= 0; AVX2: the vector of t < 0
}

// prep computes the planarShared of the targets T, the scales S and the pt P.
func (g *gradPlanarGen) prep(T, S, P Op) planarShared {
	t := g.t
	sh := planarShared{gt: t.vec()}
	Comment("the target's gradient scale·(pt + tq); the lanes of t < 0")
	VADDPS(P, g.tqv, sh.gt)
	VMULPS(S, sh.gt, sh.gt)
	if t.zmm {
		sh.tv = T // compared from memory
		k := K()
		VPCMPD(U8(2), T, g.zero, k) // 0 <= t
		sh.live = k
		return sh
	}
	tv := t.vec()
	if m, ok := T.(Mem); ok {
		VMOVDQU(m, tv)
	} else {
		tv = T.(reg.VecVirtual)
	}
	sh.tv = tv
	dead := t.vec()
	VPSRAD(U8(31), tv, dead)
	sh.live = dead
	return sh
}

// vec computes lanes positions of class jv from their logits x (in a register) and their
// statistics (memory operands, or registers in the tail).
func (g *gradPlanarGen) vec(x reg.VecVirtual, M, L, S Op, sh planarShared, jv reg.VecVirtual) reg.VecVirtual {
	t := g.t
	d, e := t.vec(), t.vec()
	Comment("e = scale·(exp((x − m) − ls) − q), 0 where t < 0, the target's gradient where t = j")
	VSUBPS(M, x, d)
	VSUBPS(L, d, d)
	t.exp(g.ec, d, e)
	VSUBPS(g.qv, e, e)
	if t.zmm {
		VMULPS_Z(S, e, sh.live, e)
		kt := K()
		VPCMPEQD(sh.tv, jv, kt)
		VMOVAPS(sh.gt, kt, e)
		return e
	}
	VMULPS(S, e, e)
	VANDNPS(e, sh.live, e)
	m := t.vec()
	VPCMPEQD(jv, sh.tv, m)
	VBLENDVPS(m, sh.gt, e, e)
	return e
}

// pass emits the loop over the block for the planes (1 or 2) of consecutive classes from jv on,
// at xo and gO, and leaves xo, gO and jv at the planes after them.
func (g *gradPlanarGen) pass(planes int) {
	t, lbl, o, xo, gO, stride := g.t, g.lbl, g.o, g.xo, g.gO, g.stride
	sfx := string(rune('0' + planes))
	jvs := []reg.VecVirtual{g.jv}
	if planes == 2 {
		j1 := t.vec()
		VPADDD(g.ones, g.jv, j1)
		jvs = append(jvs, j1)
	}
	plane := func(base reg.GPVirtual, k int) Mem {
		if k == 0 {
			return Mem{Base: base}
		}
		return Mem{Base: base, Index: stride, Scale: 1}
	}
	at := func(p reg.GPVirtual) Mem { return Mem{Base: p, Index: o, Scale: 1} }
	XORQ(o, o)
	xn := GP64()
	LEAQ(Mem{Base: xo, Index: stride, Scale: uint8(planes)}, xn)
	Label(lbl("Vec" + sfx))
	CMPQ(o, g.full)
	JAE(LabelRef(lbl("Tail" + sfx)))
	sh := g.prep(at(g.tp), at(g.sp), at(g.pp))
	for k := range planes {
		prefetchT0(plane(xn, k))
		x := t.vec()
		VMOVUPS(plane(xo, k), x)
		e := g.vec(x, at(g.mp), at(g.lp), at(g.sp), sh, jvs[k])
		VMOVUPS(e, plane(gO, k))
	}
	for _, r := range []reg.GPVirtual{o, xo, gO, xn} {
		ADDQ(U32(t.bytes()), r)
	}
	JMP(LabelRef(lbl("Vec" + sfx)))

	Label(lbl("Tail" + sfx))
	Comment("The planes' last positions, masked")
	rem := Load(Param("t").Len(), GP64()).(reg.GPVirtual)
	ANDQ(U32(t.lanes-1), rem)
	JZ(LabelRef(lbl("Next" + sfx)))
	mask := t.tailMask(rem)
	ld := func(m Mem) reg.VecVirtual { return t.loadTail(m, mask) }
	T, M, L, S, P := ld(at(g.tp)), ld(at(g.mp)), ld(at(g.lp)), ld(at(g.sp)), ld(at(g.pp))
	sh = g.prep(T, S, P)
	for k := range planes {
		e := g.vec(ld(plane(xo, k)), M, L, S, sh, jvs[k])
		t.storeTail(e, plane(gO, k), rem, mask)
	}

	Label(lbl("Next" + sfx))
	Comment("back to the block's start, on to the next planes")
	SUBQ(o, xo)
	SUBQ(o, gO)
	for range planes {
		ADDQ(stride, xo)
		ADDQ(stride, gO)
		VPADDD(g.ones, g.jv, g.jv)
	}
}
