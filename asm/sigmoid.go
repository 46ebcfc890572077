package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The kernels of Sigmoid batches: every logit z is a binary sample with target y (0 or 1, or
// negative: ignored), so the work is a flat elementwise pass, vectorised across samples. With the
// sign bit of the target moved to bit 31 (VPSLLD $31: 0x80000000 for y = 1), d = z XOR it is z for
// a negative and −z for a positive, and −|d| = z OR the sign bit. Per vector:
//
//	loss = max(d, 0) + log1p(e^{−|d|}) − ε/2·d   (softplus(d), smoothed; ε·d then halved, so
//	                                               that a subnormal ε/2 is never formed)
//	grad = ±(σ(d) − ε/2)·scale,  σ(d) = 1/(1 + e^{−|d|}) for d >= 0, e^{−|d|}/(1 + e^{−|d|}) below
//
// with the shared exp sequence and log1pUnit, the log1p of an argument in [0, 1] (one of each per
// logit; the gradient an exp and a division). z − z (0, or NaN for a NaN or ±Inf logit) is added to the loss, so that a bad logit
// gives a NaN loss; ignored samples get fill. An iteration takes several vectors (AVX-512: 4,
// AVX2: 2), emitted phase by phase so that the out-of-order core has independent exp and log1p
// chains side by side. The last n < lanes samples take masked loads (AVX-512 opmasks, AVX2
// VMASKMOVPS/VPMASKMOVD: masked-off lanes read 0, a valid sample) and stores of their lanes only
// (AVX-512 opmasks, AVX2 storeTail's pieces: a VMASKMOVPS store is microcoded on AMD), so every
// length runs in the kernel. The gradient kernels read each logit before they write its gradient, so g may
// be x itself.

// sigKind selects a Sigmoid kernel.
type sigKind int

const (
	sigLoss         sigKind = iota // the losses
	sigLSE                         // softplus(z)
	sigGrad                        // the gradient, for per-sample scales
	sigLossGrad                    // the losses and the gradient for one scale s0 (ForwardBackward's fused pass)
	sigLossRank                    // the losses and NegPosRatio's ranks (the positives NaN)
	sigLossGradRank                // sigLossGrad and sigLossRank in one
)

// fused reports a kind that writes the gradient for one scale s0 with the losses.
func (k sigKind) fused() bool { return k == sigLossGrad || k == sigLossGradRank }

// ranks reports a kind that writes NegPosRatio's ranks with the losses.
func (k sigKind) ranks() bool { return k == sigLossRank || k == sigLossGradRank }

// smoothed reports a kind that writes losses with their label smoothing (all but sigLSE and sigGrad).
func (k sigKind) smoothed() bool { return k != sigLSE && k != sigGrad }

func genSigmoid(t tier) {
	genSig(t, sigLoss)
	genSig(t, sigLSE)
	genSig(t, sigGrad)
	genSig(t, sigLossGrad)
	genSig(t, sigLossRank)
	genSig(t, sigLossGradRank)
}

// sigGen holds the state of one Sigmoid kernel being generated.
type sigGen struct {
	t                   tier
	kind                sigKind
	lbl                 string // kernel name with the tier suffix, for labels
	loss, grad, targets bool
	dst, gp, tp, sp, n  reg.GPVirtual // the losses, the gradient, the targets, the scales, the samples left
	rp                  reg.GPVirtual // sigLossRank: the ranks
	xp                  reg.GPVirtual
	groups              int // vectors an iteration takes

	ec                  expConsts
	lc                  log1pUnitConsts
	sign, half, one     Op
	nan                 Op // sigLossRank: the quiet NaN of the positives' ranks
	zero                reg.VecVirtual
	fill, epsv, hev, s0 Op             // broadcast parameters (registers, or frame slots: spillParams); hev = ε/2
	tmax, lsum          reg.VecVirtual // the checks: the largest target, the sum of the losses stored
}

// sigChain is one vector of samples in flight.
type sigChain struct {
	z, sg, d, na, e, acc reg.VecVirtual
	tv                   reg.VecVirtual // AVX2: the targets, whose sign bit marks the ignored
	kIgn                 reg.Register   // AVX-512: the ignored lanes
}

// genSig emits the Sigmoid kernel kind of tier t.
func genSig(t tier, kind sigKind) {
	g := &sigGen{t: t, kind: kind,
		loss: kind != sigGrad, grad: kind == sigGrad || kind.fused(), targets: kind != sigLSE}
	g.text()
	g.prologue()
	g.consts()
	if g.loss {
		Comment("the checks: tmax = the lanes' largest target (0 to start: a tail's masked-off lanes read 0), lsum = the sum of the losses stored")
		g.lsum = t.zero()
		if g.targets {
			g.tmax = t.zero()
		}
	}

	g.groups = 2
	if t.zmm {
		g.groups = 4
		if kind == sigLossRank {
			// 4 vectors with their ranks' signs, the checks' two accumulators and the constants
			// need more than 32 registers; spilling exp's constants to frame slots (not 64-byte
			// aligned) instead cost sigLossRank a third of its speed (Forward with NegPosRatio on
			// 4M logits: 5,800 against 4,000–4,300 MB/s, Zen 5 EPYC)
			g.groups = 3
		}
	}
	if kind.fused() && t.zmm {
		g.groups /= 2
	}
	lbl := g.lbl
	if kind.smoothed() {
		Comment("without smoothing (ε = ±0) the loop leaves out its two instructions")
		e := GP32()
		MOVL(paramAddr("eps"), e)
		SHLL(U8(1), e)
		JNZ(LabelRef(lbl + "SmoothLoop"))
		g.loops(lbl+"Plain", false)
		g.loops(lbl+"Smooth", true)
	} else {
		g.loops(lbl, false)
	}
	Label(lbl + "Done")
	if g.loss {
		var tmax Op // sigLSE reads no targets: it returns nan alone
		if g.targets {
			tmax = g.tmax
		}
		t.returnRowChecks(tmax, g.lsum)
	}
	VZEROUPPER()
	RET()
}

// text starts the kernel.
func (g *sigGen) text() {
	t := g.t
	var name string
	switch g.kind {
	case sigLoss:
		name = "sigLoss"
		t.text(name, "func(loss, x []float32, t []int32, eps, fill float32) (tmax int32, nan bool)",
			"sets loss[i] to the sigmoid cross-entropy of the logit x[i] with target t[i] (0 or 1) and label",
			"smoothing eps, for the len(t) samples: fill where t[i] < 0, NaN where x[i] is not finite. It",
			"returns tmax, the largest t[i] (0 when all are below), and nan, some loss written may be NaN",
			"(false: none is).")
	case sigLSE:
		name = "sigLSE"
		t.text(name, "func(dst, x []float32) (nan bool)",
			"sets dst[i] = softplus(x[i]) = log(1 + e^x[i]), NaN where x[i] is not finite, for the len(dst)",
			"samples, and returns nan, some value written may be NaN (false: none is).")
	case sigGrad:
		name = "sigGrad"
		t.text(name, "func(g, x []float32, t []int32, scale []float32, eps float32)",
			"sets g[i] = scale[i]·(σ(x[i]) − y'), y' = (1−eps)·t[i] + eps/2, where t[i] >= 0 and scale[i] != 0,",
			"and 0 elsewhere, for the len(t) samples. g may be x.")
	case sigLossGrad:
		name = "sigLossGrad"
		t.text(name, "func(loss, g, x []float32, t []int32, eps, fill, s0 float32) (tmax int32, nan bool)",
			"is sigLoss that also sets g[i] = s0·(σ(x[i]) − y') where t[i] >= 0 and 0 elsewhere; g may be x.")
	case sigLossRank:
		name = "sigLossRank"
		t.text(name, "func(loss, rank, x []float32, t []int32, eps, fill float32) (tmax int32, nan bool)",
			"is sigLoss that also sets NegPosRatio's ranks: rank[i] = NaN for a positive (t[i] = 1), loss[i]",
			"for every other sample (fill for an ignored one).")
	case sigLossGradRank:
		name = "sigLossGradRank"
		t.text(name, "func(loss, rank, g, x []float32, t []int32, eps, fill, s0 float32) (tmax int32, nan bool)",
			"is sigLossGrad that also sets the ranks of sigLossRank.")
	}
	g.lbl = name + t.suffix
}

// prologue loads the parameters' bases and the sample count.
func (g *sigGen) prologue() {
	ld := func(c gotypes.Component) reg.GPVirtual { return Load(c, GP64()).(reg.GPVirtual) }
	switch g.kind {
	case sigLSE:
		g.dst, g.n = ld(Param("dst").Base()), ld(Param("dst").Len())
	case sigLoss:
		g.dst = ld(Param("loss").Base())
	case sigGrad:
		g.gp, g.sp = ld(Param("g").Base()), ld(Param("scale").Base())
	case sigLossGrad:
		g.dst, g.gp = ld(Param("loss").Base()), ld(Param("g").Base())
	case sigLossRank:
		g.dst, g.rp = ld(Param("loss").Base()), ld(Param("rank").Base())
	case sigLossGradRank:
		g.dst, g.rp, g.gp = ld(Param("loss").Base()), ld(Param("rank").Base()), ld(Param("g").Base())
	}
	g.xp = ld(Param("x").Base())
	if g.targets {
		g.tp, g.n = ld(Param("t").Base()), ld(Param("t").Len())
	}
}

// spillParams moves the broadcast parameters to 32-byte aligned frame slots, for the fused AVX2
// kernels: two vectors of samples in flight with their gradients, and the checks' accumulators,
// need more than AVX2's 16 registers otherwise, and every use of these is an operand that may be
// memory (a multiply's, a subtraction's, VBLENDVPS's second source).
func (g *sigGen) spillParams() {
	slots := GP64()
	LEAQ(AllocLocal(5*32), slots)
	ADDQ(U8(31), slots)
	ANDQ(I8(-32), slots)
	i := 0
	for _, p := range []*Op{&g.fill, &g.epsv, &g.hev, &g.s0} {
		if *p == nil {
			continue
		}
		m := Mem{Base: slots, Disp: 32 * i}
		VMOVAPS(*p, m)
		*p = m
		i++
	}
}

// consts loads the constants and the broadcast parameters.
func (g *sigGen) consts() {
	t, kind := g.t, g.kind
	g.ec = t.loadExpConsts()
	if g.loss {
		g.lc = t.loadLog1pUnitConsts()
		if t.zmm {
			slots := GP64()
			LEAQ(AllocLocal(7*t.bytes()), slots)
			t.spillLog1pUnitConsts(&g.lc, slots)
		}
	}
	g.sign = t.cu("signBit", 0x80000000)
	g.zero = t.zero()
	if kind != sigLSE {
		g.half = t.cf("half", 0.5)
	}
	if kind.smoothed() {
		g.fill = t.loadParamF32("fill")
		g.epsv = t.loadParamF32("eps")
	}
	if g.grad {
		Comment("he = ε/2, the smoothing of the gradient")
		he := t.loadParamF32("eps")
		VMULPS(g.half, he, he)
		g.hev = he
	}
	if kind.fused() {
		g.s0 = t.loadParamF32("s0")
	}
	if !t.zmm && kind.fused() {
		g.spillParams()
	}
	if kind.ranks() {
		g.nan = t.cu("quietNaN", 0x7fc00000)
	}
	if g.grad {
		g.one = t.cf("one", 1)
		if t.zmm {
			g.one = g.ec.one
		}
	}
}

// loops emits the loops over the vectors of samples, with label prefix pfx.
func (g *sigGen) loops(pfx string, smooth bool) {
	t, n := g.t, g.n
	Label(pfx + "Loop")
	CMPQ(n, U32(g.groups*t.lanes))
	JB(LabelRef(pfx + "One"))
	g.body(g.groups, nil, smooth)
	JMP(LabelRef(pfx + "Loop"))
	Label(pfx + "One")
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(pfx + "Tail"))
	g.body(1, nil, smooth)
	JMP(LabelRef(pfx + "One"))
	Label(pfx + "Tail")
	TESTQ(n, n)
	JZ(LabelRef(g.lbl + "Done"))
	g.body(1, t.tailMask(n), smooth)
	JMP(LabelRef(g.lbl + "Done"))
}

// at is the i-th vector at p.
func (g *sigGen) at(p reg.GPVirtual, i int) Mem { return Mem{Base: p, Disp: i * g.t.bytes()} }

// store stores r as the i-th vector at p, or, with tail, its first g.n lanes (tail the mask of
// tailMask(g.n)).
func (g *sigGen) store(r reg.VecVirtual, p reg.GPVirtual, i int, tail Op) {
	switch {
	case tail == nil:
		VMOVUPS(r, g.at(p, i))
	case g.t.zmm:
		VMOVUPS(r, tail, g.at(p, i))
	default:
		g.t.storeTail(r, g.at(p, i), g.n, tail)
	}
}

// body emits n vectors of samples at the current pointers, phase by phase; tail, if not nil, is
// the mask of the lanes of a last partial vector (tailMask).
func (g *sigGen) body(n int, tail Op, smooth bool) {
	t := g.t
	cs := make([]sigChain, n)
	for i := range cs {
		g.load(&cs[i], i, tail, smooth)
	}
	for i := range cs {
		cs[i].e = t.vec()
		t.exp(g.ec, cs[i].na, cs[i].e)
	}
	if g.grad {
		for i := range cs {
			g.gradient(&cs[i], i, tail)
		}
	}
	if g.loss {
		for i := range cs {
			g.storeLoss(&cs[i], i, tail)
		}
	}
	if tail != nil {
		return
	}
	for _, p := range []reg.GPVirtual{g.dst, g.rp, g.gp, g.xp, g.tp, g.sp} {
		if p != nil {
			ADDQ(U32(n*t.bytes()), p)
		}
	}
	SUBQ(U32(n*t.lanes), g.n)
}

// load emits the first phase of the vector of samples i: the logits and targets, d, −|d| and the
// loss's first terms.
func (g *sigGen) load(c *sigChain, i int, tail Op, smooth bool) {
	t, zero := g.t, g.zero
	if tail != nil {
		c.z = t.loadTail(g.at(g.xp, i), tail)
	} else {
		c.z = t.vec()
		VMOVUPS(g.at(g.xp, i), c.z)
	}
	if g.targets {
		c.sg = t.vec()
		Comment("sg = the target's bit 0 in the sign bit: d = z XOR sg is z for a negative, −z for a positive")
		c.tv = t.vec()
		switch {
		case tail != nil && t.zmm:
			VMOVDQU32_Z(g.at(g.tp, i), tail, c.tv)
		case tail != nil:
			VPMASKMOVD(g.at(g.tp, i), tail, c.tv)
		case t.zmm:
			VMOVDQU32(g.at(g.tp, i), c.tv)
		default:
			VMOVDQU(g.at(g.tp, i), c.tv)
		}
		VPSLLD(U8(31), c.tv, c.sg)
		if g.loss {
			VPMAXSD(c.tv, g.tmax, g.tmax)
		}
		if t.zmm && g.kind != sigGrad {
			c.kIgn = K()
			VPMOVD2M(c.tv, c.kIgn)
		}
	}
	c.na = t.vec()
	VORPS(g.sign, c.z, c.na) // −|z| = −|d|
	c.d = c.z
	if g.targets {
		c.d = t.vec()
		VXORPS(c.sg, c.z, c.d)
	}
	if g.loss {
		Comment("acc = max(d, 0) + 0·z (NaN for a NaN or ±Inf logit)")
		c.acc = t.vec()
		VMAXPS(zero, c.d, c.acc)
		VFMADD231PS(zero, c.z, c.acc)
		if smooth {
			Comment("smoothing: acc −= (ε·d)/2")
			ed := t.vec()
			VMULPS(g.epsv, c.d, ed)
			VFNMADD231PS(g.half, ed, c.acc)
		}
	}
}

// gradient emits the gradient of the vector of samples i, once e = e^{−|d|} is computed.
func (g *sigGen) gradient(c *sigChain, i int, tail Op) {
	t, zero, one := g.t, g.zero, g.one
	Comment("σ(d) = r = 1/(1 + e) for d >= 0, e·r below (d's sign: z's XOR sg's)")
	w, r, er := t.vec(), t.vec(), t.vec()
	VADDPS(one, c.e, w)
	VMOVUPS(one, r)
	VDIVPS(w, r, r)
	VMULPS(r, c.e, er)
	if t.zmm {
		kn := K()
		VPMOVD2M(c.d, kn)
		VMOVAPS(er, kn, r)
	} else {
		VBLENDVPS(c.d, er, r, r)
	}
	Comment("v = ±(σ(d) − ε/2): negated for a positive")
	VSUBPS(g.hev, r, r)
	VXORPS(c.sg, r, r)
	Comment("g = scale·v where the sample is kept, else 0")
	switch {
	case g.kind.fused() && t.zmm:
		VMULPS(g.s0, r, r)
		VMOVAPS(zero, c.kIgn, r)
	case g.kind.fused():
		VMULPS(g.s0, r, r)
		VBLENDVPS(c.tv, zero, r, r)
	case t.zmm:
		sc := t.vec()
		if tail != nil {
			VMOVUPS_Z(g.at(g.sp, i), tail, sc)
		} else {
			VMOVUPS(g.at(g.sp, i), sc)
		}
		keep := K()
		VPCMPD(U8(5), zero, c.tv, keep)     // t >= 0
		VCMPPS(U8(4), zero, sc, keep, keep) // scale != 0
		VMULPS_Z(sc, r, keep, r)
	default:
		sc, dead := t.vec(), t.vec()
		if tail != nil {
			sc = t.loadTail(g.at(g.sp, i), tail)
		} else {
			VMOVUPS(g.at(g.sp, i), sc)
		}
		VCMPPS(U8(cmpEQ), zero, sc, dead)
		VPOR(c.tv, dead, dead) // the sign bit: t < 0 or scale == 0
		VMULPS(sc, r, r)
		VBLENDVPS(dead, zero, r, r)
	}
	g.store(r, g.gp, i, tail)
}

// storeLoss emits the end of the loss of the vector of samples i: log1p(e) added, fill where
// t < 0, stored.
func (g *sigGen) storeLoss(c *sigChain, i int, tail Op) {
	t := g.t
	l1 := t.vec()
	t.log1pUnit(g.lc, c.e, l1)
	VADDPS(l1, c.acc, c.acc)
	if g.kind != sigLSE {
		Comment("fill where t < 0")
		if t.zmm {
			VMOVAPS(g.fill, c.kIgn, c.acc)
		} else {
			VBLENDVPS(c.tv, g.fill, c.acc, c.acc)
		}
	}
	VADDPS(c.acc, g.lsum, g.lsum)
	g.store(c.acc, g.dst, i, tail)
	if g.kind.ranks() {
		g.storeRank(c, i, tail)
	}
}

// storeRank emits the rank of the vector of samples i once its loss is stored: NaN for a
// positive (sg's sign bit, the target's bit 0, where the sample is not ignored), the loss
// otherwise.
func (g *sigGen) storeRank(c *sigChain, i int, tail Op) {
	t := g.t
	Comment("rank: NaN for a positive, the loss otherwise")
	if t.zmm {
		kSg, kPos := K(), K()
		VPMOVD2M(c.sg, kSg)
		KANDNW(kSg, c.kIgn, kPos) // a positive: sg's sign and not ignored
		VMOVAPS(g.nan, kPos, c.acc)
	} else {
		m := t.vec()
		VPANDN(c.sg, c.tv, m) // the sign bit: sg's and not tv's (a positive)
		VBLENDVPS(m, g.nan, c.acc, c.acc)
	}
	g.store(c.acc, g.rp, i, tail)
}
