package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// genPlanar emits the planar ([images][classes][positions]) cross-entropy and log-sum-exp kernels
// of tier t.
//
// Planar logits put every class in a contiguous plane, so the kernels vectorise across positions.
// For a vector of positions, a max pass takes the vertical VMAXPS of the c planes, then an exp
// pass keeps, per lane, S = the sum of e^(z_j − m) over the other classes, dt = z_t − m (picked by
// comparing the lane's target with the class index: a mask, never a subtraction, so tiny losses
// stay exact) and, with label smoothing, neg = 2ε/C·Σ_j (z_j/2 − m/2) and the half gap
// z_t/2 − m/2 in place of dt, as the rows' kernels keep them. A finish turns these into losses
// with vector code only: log1p, the loss (ceLoss, as the rows'), the ignored samples, the
// gradient's statistics.
//
// Two things decide the speed. The exp pass must not read the planes a second time: their stride
// is usually a multiple of 4 KiB (a 512×1024 image's is 2 MiB), so the c lines of one vector of
// positions share an L1 set, which holds 12 of them, and the second reading misses. The max pass
// therefore copies what it reads to a scratch block on the stack. And the finish, a long chain of
// dependent instructions, must not stand between two exp passes, which are otherwise independent
// and keep the FMA units busy: with C <= planarChunk (Cityscapes' 19, VOC's 21) positions go in
// blocks of planarBlock vectors: a max pass reads a run of planarBlock vectors from every plane,
// the exp passes run back to back (prefetching the next block's planes) and the finishes come
// last, together.
// Larger C goes one vector at a time, its first planarCopy classes from the scratch block. The
// last positions go through masked loads, and stores of exactly their number (opmask stores on
// AVX-512, pieces on AVX2): no byte past them is read or written.
func genPlanar(t tier) {
	genPlanarKernel(t, planarCE)
	genPlanarKernel(t, planarCESmooth)
	genPlanarKernel(t, planarLSE)
}

type planarMode int

const (
	planarCE       planarMode = iota // cross-entropy, no smoothing
	planarCESmooth                   // cross-entropy with label smoothing (eps > 0)
	planarLSE                        // log-sum-exp
)

// planarChunk is how many classes a lane sums in float32 before it adds the partial sum into a
// float64 accumulator: a float32 sum of k positive terms is within (k−1)·2^-24 of the exact
// value, far inside the 1e-5 bound for 32 terms whatever C is. C <= planarChunk never touches the
// float64 accumulators.
const planarChunk = 32

// planarCopy is how many class planes the one-vector path copies to the scratch block (a
// multiple of planarChunk); the exp pass reads the classes past it from the planes again.
const (
	planarCopy     = 1 << planarCopyLog2
	planarCopyLog2 = 7
)

// planarBlock is how many vectors of positions a block holds (C <= planarChunk).
const planarBlock = 8

// A block's scratch slot per vector: m, S, dt (with smoothing the half gap), e^dt, neg, then the
// planarChunk class vectors.
const (
	slotM = iota
	slotS
	slotDt
	slotE
	slotNeg
	slotClasses
	slotVecs = slotClasses + planarChunk
)

// planarGen holds the state of one kernel being generated.
type planarGen struct {
	t     tier
	mode  planarMode
	name  string        // kernel name with the tier suffix, for labels
	lossp reg.GPVirtual // loss (or dst) base
	xp    reg.GPVirtual // x base
	tp    reg.GPVirtual // targets base (CE)
	off   reg.GPVirtual // byte offset of the current vector within loss, t and every plane
	n     reg.GPVirtual // positions left
	c     reg.GPVirtual // classes
	sb    reg.GPVirtual // stride in bytes

	// Constants of the exp pass: registers on AVX-512, memory operands on AVX2.
	allOnes, zeroVec Op
	// Broadcast parameters, on the stack: fill; with smoothing 0.5, 2ε/C and −2(1 − ε).
	fill, half, k, gapW Mem

	scratch Mem // the block's slots, or the one-vector path's planarCopy class vectors
	acc64   Mem // float64 accumulators of S (and neg): 2 vectors each
}

func (g *planarGen) ce() bool     { return g.mode != planarLSE }
func (g *planarGen) smooth() bool { return g.mode == planarCESmooth }

func genPlanarKernel(t tier, mode planarMode) {
	g := &planarGen{t: t, mode: mode}
	switch mode {
	case planarCE, planarCESmooth:
		name := "cePlanar"
		doc := "is cePlanar for eps == 0 (eps is not read)."
		if mode == planarCESmooth {
			name = "cePlanarSmooth"
			doc = "is cePlanar for eps > 0."
		}
		g.name = name + t.suffix
		t.textFrame(0, name, "func(loss, m, ls, pt []float32, x []float32, t []int32, c, stride int, eps, fill float32)",
			doc,
			"len(t) positions of a planar image: class j of position p is x[j*stride+p]; m, ls and pt",
			"receive the gradient's statistics when len(m) > 0. Requires len(t) >= 1, c >= 1.")
	case planarLSE:
		g.name = "lsePlanar" + t.suffix
		t.textFrame(0, "lsePlanar", "func(dst, x []float32, c, stride int)",
			"sets dst[p] = log Σ_j exp(x[j*stride+p]) for the len(dst) >= 1 positions.")
	}
	g.prologue()
	g.body()
}

func (g *planarGen) label(s string) string { return g.name + s }

func (g *planarGen) labelRef(s string) LabelRef { return LabelRef(g.label(s)) }

// loadGP loads a scalar parameter component into a new 64-bit register.
func loadGP(c gotypes.Component) reg.GPVirtual { return Load(c, GP64()).(reg.GPVirtual) }

// prologue loads the parameters. The exp and log1p constants are loaded where they are used
// (AVX-512 broadcasts them into registers, AVX2 reads them from memory): AVX-512 has registers
// for one set or the other, not for both.
func (g *planarGen) prologue() {
	t := g.t
	g.xp = loadGP(Param("x").Base())
	g.c = loadGP(Param("c"))
	g.sb = loadGP(Param("stride"))
	SHLQ(U8(2), g.sb)
	if g.ce() {
		g.lossp = loadGP(Param("loss").Base())
		g.tp = loadGP(Param("t").Base())
		g.n = loadGP(Param("t").Len())
	} else {
		g.lossp = loadGP(Param("dst").Base())
		g.n = loadGP(Param("dst").Len())
	}
	g.off = GP64()
	XORQ(g.off, g.off)
	g.acc64 = AllocLocal(g.accVecs() * t.bytes())
	g.scratch = AllocLocal(max(planarCopy, planarBlock*slotVecs) * t.bytes())
	if g.ce() {
		g.allOnes = t.cu("allOnes", 0xFFFFFFFF)
		if !t.zmm {
			g.zeroVec = t.cu("zero", 0)
		}
		g.fill = g.broadcastToStack(paramF32("fill"))
	}
	if g.smooth() {
		Comment("0.5, k = 2ε/C and −2(1 − ε), for neg = k·Σ_j (z_j/2 − m/2) and the smoothed loss of ceLoss")
		e := paramF32("eps")
		cf := XMM()
		VXORPS(cf, cf, cf)
		VCVTSI2SSQ(g.c, cf, cf)
		k := XMM()
		VADDSS(e, e, k)
		VDIVSS(cf, k, k) // 2ε/C
		gw := XMM()
		VMOVSS(constMem("one", 0x3f800000), gw)
		VSUBSS(gw, e, gw) // ε − 1
		VADDSS(gw, gw, gw)
		hoc := XMM()
		VMOVSS(constMem("half", 0x3f000000), hoc)
		g.half = g.broadcastToStack(hoc)
		g.k = g.broadcastToStack(k)
		g.gapW = g.broadcastToStack(gw)
	}
}

// broadcastToStack broadcasts the low float32 of x into a vector-wide stack slot: the finish reads
// it as a memory operand, which costs no register.
func (g *planarGen) broadcastToStack(x reg.VecVirtual) Mem {
	v := g.t.broadcastF32(x)
	m := AllocLocal(g.t.bytes())
	VMOVUPS(v, m)
	return m
}

// mem returns the operand at base + off.
func (g *planarGen) mem(base reg.GPVirtual) Mem {
	return Mem{Base: base, Index: g.off, Scale: 1}
}

// body emits the loops: blocks while C <= planarChunk, then single vectors, then one masked
// vector for the last positions.
func (g *planarGen) body() {
	t := g.t
	CMPQ(g.c, U32(planarChunk))
	JA(g.labelRef("Loop"))
	Label(g.label("BlockLoop"))
	CMPQ(g.n, U32(planarBlock*t.lanes))
	JB(g.labelRef("Loop"))
	g.block()
	SUBQ(U32(planarBlock*t.lanes), g.n)
	JMP(g.labelRef("BlockLoop"))

	Label(g.label("Loop"))
	CMPQ(g.n, U32(t.lanes))
	JB(g.labelRef("Tail"))
	g.vector(nil)
	ADDQ(U32(t.bytes()), g.off)
	SUBQ(U32(t.lanes), g.n)
	JMP(g.labelRef("Loop"))

	Label(g.label("Tail"))
	TESTQ(g.n, g.n)
	JZ(g.labelRef("Done"))
	mask := t.tailMask(g.n)
	if t.zmm {
		g.vector(mask)
	} else {
		// The AVX2 mask waits on the stack, reloaded where it is used: the vector needs the registers.
		m := AllocLocal(32)
		VMOVDQU(mask, m)
		g.vector(m)
	}
	Label(g.label("Done"))
	VZEROUPPER()
	RET()
}

// tmask returns the tail mask as a register operand (an opmask on AVX-512, a vector reloaded from
// the stack on AVX2).
func (g *planarGen) tmask(tail Op) Op {
	if g.t.zmm {
		return tail
	}
	r := g.t.vec()
	VMOVDQU(tail, r)
	return r
}

// load loads a vector from m, through the tail mask when there is one (masked-off lanes read as 0
// and are not touched).
func (g *planarGen) load(m Mem, tail Op) reg.VecVirtual {
	if tail == nil {
		r := g.t.vec()
		VMOVUPS(m, r)
		return r
	}
	return g.t.loadTail(m, g.tmask(tail))
}

// loadInt loads int32 targets, through the tail mask when there is one.
func (g *planarGen) loadInt(m Mem, tail Op) reg.VecVirtual {
	r := g.t.vec()
	switch {
	case tail == nil && g.t.zmm:
		VMOVDQU32(m, r)
	case tail == nil:
		VMOVDQU(m, r)
	case g.t.zmm:
		VMOVDQU32_Z(m, tail, r)
	default:
		VPMASKMOVD(m, g.tmask(tail), r)
	}
	return r
}

// store stores v to m; with a tail, only its g.n lanes: through the opmask on AVX-512, in pieces
// on AVX2 (storeTail: no masked store, see tier.go).
func (g *planarGen) store(v reg.VecVirtual, m Mem, tail Op) {
	switch {
	case tail == nil:
		VMOVUPS(v, m)
	case g.t.zmm:
		g.t.storeTail(v, m, g.n, tail)
	default:
		g.t.storeTail(v, m, g.n, nil)
	}
}

// reductions are one vector's lane reductions in the exp pass.
type reductions struct {
	S, dt, tv reg.VecVirtual // dt (with smoothing the half gap zt/2 − m/2), tv: cross-entropy only
	neg, hm   reg.VecVirtual // smoothing only; hm = 0.5·m
}

// startReductions zeroes the reductions and loads the targets at g.off into tv (m: the maxima).
func (g *planarGen) startReductions(tail Op, m reg.VecVirtual) reductions {
	t := g.t
	r := reductions{S: t.zero()}
	if g.ce() {
		r.dt = t.zero()
		r.tv = g.loadInt(g.mem(g.tp), tail)
	}
	if g.smooth() {
		r.neg = t.zero()
		r.hm = t.vec()
		VMULPS(g.half, m, r.hm)
	}
	return r
}

// classStep adds class j's logits x (a register it overwrites) to the reductions:
// S += e^(x − m) where the target is not j (everywhere for log-sum-exp), dt = x − m where it is;
// with smoothing, as the rows' kernels do (smallGen.classLoop), x − m is 2·(x/2 − m/2) (the same
// value: halving is exact), the half difference, which cannot overflow (logits of opposite signs
// near the largest float), feeds neg += 2ε/C·(x/2 − m/2), and the target's goes to dt; tv (t − j,
// 0 on the target class) steps to the next class.
func (g *planarGen) classStep(ec expConsts, x, m reg.VecVirtual, r reductions) {
	t := g.t
	d := x // z_j − m <= 0 (NaN for a NaN logit, a +Inf maximum or an all −Inf position)
	if g.smooth() {
		VFMSUB132PS(g.half, r.hm, x) // x/2 − m/2, rounded once
		VFMADD231PS(g.k, x, r.neg)
		d = t.vec()
		VADDPS(x, x, d)
	} else {
		VSUBPS(m, x, x)
	}
	e := t.vec()
	t.exp(ec, d, e)
	switch {
	case !g.ce():
		VADDPS(e, r.S, r.S)
	case t.zmm:
		keq, kne := K(), K()
		VPTESTNMD(r.tv, r.tv, keq)
		VPTESTMD(r.tv, r.tv, kne)
		VADDPS(e, r.S, kne, r.S) // S += e on the lanes whose target is not j
		VMOVAPS(x, keq, r.dt)    // dt = z_j − m on the lanes whose target is j
		VPADDD(g.allOnes, r.tv, r.tv)
	default:
		keq := t.vec()
		VPCMPEQD(g.zeroVec, r.tv, keq)
		VANDNPS(e, keq, e) // e = 0 on the lanes whose target is j
		VADDPS(e, r.S, r.S)
		VBLENDVPS(keq, x, r.dt, r.dt) // dt = z_j − m there
		VPADDD(g.allOnes, r.tv, r.tv)
	}
}

// block emits one block of planarBlock vectors of positions at g.off, for C <= planarChunk, and
// advances g.off past it:
//   - the max pass reads planarBlock consecutive vectors of every plane, keeps their maxima in
//     registers and copies them to the vectors' scratch slots;
//   - the exp pass of each vector reads its slot and leaves S, dt, e^dt and neg there,
//     prefetching plane j of the next block as it goes;
//   - the finish of each vector reads them back, with the log1p constants loaded once.
func (g *planarGen) block() {
	t := g.t
	const U = planarBlock
	slot := slotVecs * t.bytes()
	sv := func(s reg.GPVirtual, u, i int) Mem { return Mem{Base: s, Disp: u*slot + i*t.bytes()} }

	Comment("Block max pass: m_u = max_j x[j*stride+p], the planes copied to the slots")
	q, s, cnt := GP64(), GP64(), GP64()
	LEAQ(g.mem(g.xp), q)
	LEAQ(g.scratch, s)
	var ms [U]reg.VecVirtual
	for u := range U {
		ms[u] = t.vec()
		VMOVUPS(Mem{Base: q, Disp: u * t.bytes()}, ms[u])
		VMOVUPS(ms[u], sv(s, u, slotClasses))
	}
	MOVQ(g.c, cnt)
	DECQ(cnt)
	JZ(g.labelRef("BlockMaxDone"))
	Label(g.label("BlockMaxLoop"))
	ADDQ(g.sb, q)
	ADDQ(U32(t.bytes()), s)
	for u := range U {
		x := t.vec()
		VMOVUPS(Mem{Base: q, Disp: u * t.bytes()}, x)
		VMAXPS(x, ms[u], ms[u])
		VMOVUPS(x, sv(s, u, slotClasses))
	}
	DECQ(cnt)
	JNZ(g.labelRef("BlockMaxLoop"))
	Label(g.label("BlockMaxDone"))
	LEAQ(g.scratch, s)
	for u := range U {
		VMOVUPS(ms[u], sv(s, u, slotM))
	}

	Comment("Block exp pass, one vector u at a time; pf prefetches plane j of the next block")
	ub := GP64()
	MOVQ(U32(U), ub)
	Label(g.label("BlockExp"))
	m := t.vec()
	VMOVUPS(sv(s, 0, slotM), m)
	ec := t.loadExpConsts()
	r := g.startReductions(nil, m)
	qq, pf := GP64(), GP64()
	LEAQ(sv(s, 0, slotClasses), qq)
	LEAQ(Mem{Base: g.xp, Index: g.off, Scale: 1, Disp: U * t.bytes()}, pf)
	MOVQ(g.c, cnt)
	Label(g.label("BlockClass"))
	prefetchT0(Mem{Base: pf})
	x := t.vec()
	VMOVUPS(Mem{Base: qq}, x)
	g.classStep(ec, x, m, r)
	ADDQ(U32(t.bytes()), qq)
	ADDQ(g.sb, pf)
	DECQ(cnt)
	JNZ(g.labelRef("BlockClass"))
	VMOVUPS(r.S, sv(s, 0, slotS))
	if g.ce() {
		e := g.expDt(ec, r.dt)
		VMOVUPS(r.dt, sv(s, 0, slotDt))
		VMOVUPS(e, sv(s, 0, slotE))
	}
	if g.smooth() {
		VMOVUPS(r.neg, sv(s, 0, slotNeg))
	}
	ADDQ(U32(t.bytes()), g.off)
	ADDQ(U32(slot), s)
	DECQ(ub)
	JNZ(g.labelRef("BlockExp"))

	Comment("Block finish, one vector u at a time")
	SUBQ(U32(U*t.bytes()), g.off)
	LEAQ(g.scratch, s)
	MOVQ(U32(U), ub)
	lc := t.loadLogConsts()
	Label(g.label("BlockFinish"))
	m = t.vec()
	VMOVUPS(sv(s, 0, slotM), m)
	S := t.vec()
	VMOVUPS(sv(s, 0, slotS), S)
	if g.ce() {
		dt, e := t.vec(), t.vec()
		VMOVUPS(sv(s, 0, slotDt), dt)
		VMOVUPS(sv(s, 0, slotE), e)
		var neg reg.VecVirtual
		if g.smooth() {
			neg = t.vec()
			VMOVUPS(sv(s, 0, slotNeg), neg)
		}
		g.finishCE(nil, lc, m, S, dt, e, neg, "Block")
	} else {
		g.finishLSE(nil, lc, m, S)
	}
	ADDQ(U32(t.bytes()), g.off)
	ADDQ(U32(slot), s)
	DECQ(ub)
	JNZ(g.labelRef("BlockFinish"))
}

// vector emits the whole computation of one vector of positions at g.off (tail: its mask, or nil
// for a full vector), for any C.
func (g *planarGen) vector(tail Op) {
	sfx := "Full"
	if tail != nil {
		sfx = "Tail"
	}
	q, s, cnt := GP64(), GP64(), GP64()
	m := g.vectorMax(tail, sfx, q, s, cnt)
	g.vectorExp(tail, sfx, m, q, cnt)
}

// vectorMax emits vector's max pass (labels with sfx), which copies the first planarCopy planes to
// the scratch block, and returns the maximum. q, s and cnt are free for it to use.
func (g *planarGen) vectorMax(tail Op, sfx string, q, s, cnt reg.GPVirtual) reg.VecVirtual {
	t := g.t
	lbl := func(name string) LabelRef { return LabelRef(g.label(sfx + name)) }
	label := func(name string) { Label(g.label(sfx + name)) }

	Comment("Max pass: m = max_j x[j*stride+p], two accumulators; the first planarCopy planes are",
		"copied to the scratch block, where the exp pass finds them in L1")
	LEAQ(g.mem(g.xp), q)
	LEAQ(g.scratch, s)
	m0 := g.load(Mem{Base: q}, tail)
	VMOVUPS(m0, Mem{Base: s})
	m1 := t.vec()
	VMOVAPS(m0, m1)
	ADDQ(g.sb, q)
	ADDQ(U32(t.bytes()), s)
	Comment("cnt = min(c, planarCopy) − 1 planes to copy after the first")
	MOVQ(g.c, cnt)
	CMPQ(cnt, U32(planarCopy))
	JBE(lbl("CopyLen"))
	MOVQ(U32(planarCopy), cnt)
	label("CopyLen")
	DECQ(cnt)
	copyPlane := func(m Mem, acc reg.VecVirtual, dst Mem) {
		x := g.load(m, tail)
		VMAXPS(x, acc, acc)
		VMOVUPS(x, dst)
	}
	TESTQ(U32(1), cnt)
	JZ(lbl("MaxPairs"))
	copyPlane(Mem{Base: q}, m1, Mem{Base: s})
	ADDQ(g.sb, q)
	ADDQ(U32(t.bytes()), s)
	label("MaxPairs")
	SHRQ(U8(1), cnt)
	JZ(lbl("MaxRest"))
	label("MaxLoop")
	copyPlane(Mem{Base: q}, m0, Mem{Base: s})
	copyPlane(Mem{Base: q, Index: g.sb, Scale: 1}, m1, Mem{Base: s, Disp: t.bytes()})
	LEAQ(Mem{Base: q, Index: g.sb, Scale: 2}, q)
	ADDQ(U32(2*t.bytes()), s)
	DECQ(cnt)
	JNZ(lbl("MaxLoop"))
	label("MaxRest")
	Comment("The planes past planarCopy, if any, are only reduced")
	MOVQ(g.c, cnt)
	SUBQ(U32(planarCopy), cnt)
	JBE(lbl("MaxDone"))
	label("MaxRestLoop")
	switch {
	case tail == nil:
		VMAXPS(Mem{Base: q}, m0, m0)
	case t.zmm:
		VMAXPS(Mem{Base: q}, m0, tail, m0) // masked-off lanes keep 0 and are not read
	default:
		VMAXPS(g.load(Mem{Base: q}, tail), m0, m0)
	}
	ADDQ(g.sb, q)
	DECQ(cnt)
	JNZ(lbl("MaxRestLoop"))
	label("MaxDone")
	m := m0
	VMAXPS(m1, m, m)
	return m
}

// vectorExp emits vector's exp pass and finish (labels with sfx), m the maximum; q and cnt are
// free for it to use.
func (g *planarGen) vectorExp(tail Op, sfx string, m reg.VecVirtual, q, cnt reg.GPVirtual) {
	t := g.t
	lbl := func(name string) LabelRef { return LabelRef(g.label(sfx + name)) }
	label := func(name string) { Label(g.label(sfx + name)) }

	Comment("Exp pass: q walks the scratch copy (step: a vector), then the planes past planarCopy",
		"(step: the stride); the sums go to float64 every planarChunk classes when C > planarChunk")
	ec := t.loadExpConsts()
	step := GP64()
	LEAQ(g.scratch, q)
	MOVQ(U32(t.bytes()), step)
	r := g.startReductions(tail, m)
	jrem := GP64()
	MOVQ(g.c, jrem)
	CMPQ(g.c, U32(planarChunk))
	JBE(lbl("Chunk"))
	Comment("C > planarChunk: clear the float64 accumulators")
	z := t.zero()
	for i := 0; i < g.accVecs(); i++ {
		VMOVUPD(z, g.acc(i))
	}
	label("Chunk")
	Comment("After planarCopy classes (a multiple of planarChunk), switch q to the planes")
	MOVQ(g.c, cnt)
	SUBQ(jrem, cnt)
	CMPQ(cnt, U32(planarCopy))
	JNE(lbl("ChunkLen"))
	LEAQ(g.mem(g.xp), q)
	MOVQ(g.sb, step)
	SHLQ(U8(planarCopyLog2), step)
	ADDQ(step, q)
	MOVQ(g.sb, step)
	label("ChunkLen")
	Comment("cnt = min(jrem, planarChunk) classes in this chunk")
	MOVQ(jrem, cnt)
	CMPQ(jrem, U32(planarChunk))
	JBE(lbl("Class"))
	MOVQ(U32(planarChunk), cnt)
	label("Class")
	SUBQ(cnt, jrem)
	label("ClassLoop")
	g.classStep(ec, g.load(Mem{Base: q}, tail), m, r)
	ADDQ(step, q)
	DECQ(cnt)
	JNZ(lbl("ClassLoop"))
	TESTQ(jrem, jrem)
	JZ(lbl("Chunks"))
	Comment("Another chunk follows: move the float32 partial sums into the float64 accumulators")
	g.flush(r.S, 0)
	VXORPS(r.S, r.S, r.S)
	if g.smooth() {
		g.flush(r.neg, 2)
		VXORPS(r.neg, r.neg, r.neg)
	}
	JMP(lbl("Chunk"))
	label("Chunks")
	CMPQ(g.c, U32(planarChunk))
	JBE(lbl("Finish"))
	Comment("C > planarChunk: add the last chunk and round the float64 sums to float32")
	g.flush(r.S, 0)
	g.unflush(r.S, 0)
	if g.smooth() {
		g.flush(r.neg, 2)
		g.unflush(r.neg, 2)
	}
	label("Finish")
	if g.ce() {
		e := g.expDt(ec, r.dt)
		g.finishCE(tail, t.loadLogConsts(), m, r.S, r.dt, e, r.neg, sfx)
	} else {
		g.finishLSE(tail, t.loadLogConsts(), m, r.S)
	}
}

// expDt returns e^dt for the reductions' dt (with smoothing, the half gap: e^{2·dt}).
func (g *planarGen) expDt(ec expConsts, dt reg.VecVirtual) reg.VecVirtual {
	t := g.t
	d := dt
	if g.smooth() {
		d = t.vec()
		VADDPS(dt, dt, d)
	}
	e := t.vec()
	t.exp(ec, d, e)
	return e
}

// accVecs is how many float64 vectors the accumulators take: S and, when smoothing, neg.
func (g *planarGen) accVecs() int {
	if g.smooth() {
		return 4
	}
	return 2
}

// acc is float64 accumulator vector i.
func (g *planarGen) acc(i int) Mem { return g.acc64.Offset(i * g.t.bytes()) }

// flush adds the float32 lanes of v into float64 accumulator vectors i and i+1.
func (g *planarGen) flush(v reg.VecVirtual, i int) {
	lo, hi := g.t.vec(), g.t.vec()
	if g.t.zmm {
		h := YMM()
		VCVTPS2PD(v.AsY(), lo)
		VEXTRACTF32X8(U8(1), v, h)
		VCVTPS2PD(h, hi)
	} else {
		h := XMM()
		VCVTPS2PD(v.AsX(), lo)
		VEXTRACTF128(U8(1), v, h)
		VCVTPS2PD(h, hi)
	}
	VADDPD(g.acc(i), lo, lo)
	VADDPD(g.acc(i+1), hi, hi)
	VMOVUPD(lo, g.acc(i))
	VMOVUPD(hi, g.acc(i+1))
}

// unflush sets v to float64 accumulator vectors i and i+1 rounded to float32.
func (g *planarGen) unflush(v reg.VecVirtual, i int) {
	lo := g.t.vec()
	if g.t.zmm {
		hi := YMM()
		VCVTPD2PS(g.acc(i), lo.AsY())
		VCVTPD2PS(g.acc(i+1), hi)
		VINSERTF32X8(U8(1), hi, lo, v)
		return
	}
	hi := XMM()
	VCVTPD2PSY(g.acc(i), lo.AsX())
	VCVTPD2PSY(g.acc(i+1), hi)
	VINSERTF128(U8(1), hi, lo, v)
}

// finishCE turns one vector's reductions into losses and statistics, given e = e^{zt−m} (exactly
// 1 when the target holds the maximum, dt = 0):
//
//	ls = log1p(S + (e − 1)): log1p(S) when dt = 0, which keeps tiny losses exact; otherwise the
//	     maximum is another class's, so S >= 1 and the loss is above log 2: the rounding of e − 1
//	     does not matter
//	loss: ceLoss, from dt = zt − m without smoothing; with smoothing (neg not nil) from neg and
//	     dt, the half gap zt/2 − m/2 there, as the rows' finish (finishRows) has them
//	pt = −S / (S + e)
//
// A NaN logit, a +Inf maximum or an all −Inf position made some z_j − m NaN, which reached S (or
// dt, on the target class), and so the loss. Ignored positions (t < 0) get fill and zero
// statistics. sfx makes the labels unique.
func (g *planarGen) finishCE(tail Op, lc logConsts, m, S, dt, e, neg reg.VecVirtual, sfx string) {
	t := g.t
	Comment("Finish: u = S + (e − 1), ls = log1p(u), loss (ceLoss), pt = −S / (S + e)")
	total := t.vec()
	VADDPS(S, e, total)
	u := t.vec()
	VSUBPS(lc.one, e, u)
	VADDPS(S, u, u)
	pt := t.vec()
	VDIVPS(total, S, pt) // negated with the statistics
	ls := t.vec()
	t.log1p(lc, u, ls)
	in := lossTerms{ls: ls, dt: dt}
	if g.smooth() {
		in = lossTerms{ls: ls, hg: dt, neg: neg, gapW: g.gapW}
	}
	loss := t.ceLoss(in, !g.smooth(), nil, "")
	Comment("Ignored positions (t < 0) get fill")
	tg := g.loadInt(g.mem(g.tp), tail)
	noStats := g.label(sfx + "NoStats")
	if t.zmm {
		inv, valid := K(), K()
		VPMOVD2M(tg, inv)
		VMOVUPS(g.fill, inv, loss)
		g.store(loss, g.mem(g.lossp), tail)
		stn := loadGP(Param("m").Len())
		TESTQ(stn, stn)
		JZ(LabelRef(noStats))
		mp := loadGP(Param("m").Base())
		Comment("Statistics m, ls, pt; zero for ignored positions")
		KNOTW(inv, valid)
		VMOVAPS_Z(m, valid, m)
		g.store(m, g.mem(mp), tail)
		VMOVAPS_Z(ls, valid, ls)
		lsp := loadGP(Param("ls").Base())
		g.store(ls, g.mem(lsp), tail)
		VXORPS_Z(t.cu("signBit", 0x80000000), pt, valid, pt)
		ptp := loadGP(Param("pt").Base())
		g.store(pt, g.mem(ptp), tail)
	} else {
		VBLENDVPS(tg, g.fill, loss, loss) // loss = fill where the sign bit of t is set
		g.store(loss, g.mem(g.lossp), tail)
		stn := loadGP(Param("m").Len())
		TESTQ(stn, stn)
		JZ(LabelRef(noStats))
		mp := loadGP(Param("m").Base())
		Comment("Statistics m, ls, pt; zero for ignored positions")
		VPSRAD(U8(31), tg, tg) // all ones where t < 0
		VANDNPS(m, tg, m)
		g.store(m, g.mem(mp), tail)
		VANDNPS(ls, tg, ls)
		lsp := loadGP(Param("ls").Base())
		g.store(ls, g.mem(lsp), tail)
		VXORPS(t.cu("signBit", 0x80000000), pt, pt)
		VANDNPS(pt, tg, pt)
		ptp := loadGP(Param("pt").Base())
		g.store(pt, g.mem(ptp), tail)
	}
	Label(noStats)
}

// finishLSE stores m + log1p(S − 1): S >= 1 holds the maximum's e^0 = 1 (NaN for a bad position).
func (g *planarGen) finishLSE(tail Op, lc logConsts, m, S reg.VecVirtual) {
	t := g.t
	Comment("Finish: dst = m + log1p(S − 1)")
	u := t.vec()
	VSUBPS(lc.one, S, u)
	ls := t.vec()
	t.log1p(lc, u, ls)
	VADDPS(m, ls, ls)
	g.store(ls, g.mem(g.lossp), tail)
}
