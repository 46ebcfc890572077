package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// genCE emits the cross-entropy and log-sum-exp kernels of tier t, and the row-at-a-time
// cross-entropy kernels fused with the gradient (ForwardBackward's ceGradRows).
func genCE(t tier) {
	genRowsLarge(t, rowsCE, false)
	genRowsLarge(t, rowsCESpread, false)
	genRowsLarge(t, rowsLSE, false)
	genPairs(t, pairsCE)
	genPairs(t, pairsCEStats)
	genPairs(t, pairsLSE)
	genSmall(t)
	genFinish(t)
	genRowsLarge(t, rowsCE, true)
	genRowsLarge(t, rowsCESpread, true)
}

// rowsKind selects what genRowsLarge sums along each row.
type rowsKind int

const (
	rowsCE       rowsKind = iota // Σ_{j≠t} e^{z_j−m}
	rowsCESpread                 // the same, and k·Σ_j (z_j − m)/2
	rowsLSE                      // Σ_j e^{z_j−m}
)

// rowsGen holds the state of one row-at-a-time kernel (genRowsLarge) being generated.
type rowsGen struct {
	t            tier
	kind         rowsKind
	grad         bool
	spread, drop bool   // rowsCESpread; the drop prediction, and its flags in neg (grad, rowsCE)
	lbl          string // kernel name with the tier suffix, for labels

	sumP, mxP, row, stride reg.Register // stride: bytes per row
	rows, tP, spP, ztP     reg.GPVirtual
	gd                     reg.GPVirtual // g − x: the gradient of the logit at p is at p + gd
	gs                     gradState

	ec       expConsts
	negInf   Op
	p, n, tg reg.GPVirtual // the vector's address, the lanes left, the target (−1 in the second range)

	mx    [4]reg.VecVirtual // the max pass's accumulators; the row's maximum in the low lane of mx[0]
	m     reg.VecVirtual    // the maximum, broadcast
	zt    reg.VecVirtual    // the target's logit (XMM)
	acc   [4]reg.VecVirtual // the exp-sum pass's float32 accumulators
	sum64 reg.VecVirtual    // their float64 sum

	// The spread: float32 accumulators sp, their float64 sum sp64, m/2, k and 1/2.
	sp          []reg.VecVirtual
	sp64, mhalf reg.VecVirtual
	kf, half    Op
}

// genRowsLarge emits the row-at-a-time reductions for large C: per row a max pass (four
// accumulators, masked tail), then an exp-sum pass over the row with the target excluded: the two
// ranges [0, t) and (t, C) are summed one after the other, so a tiny loss is never the difference of
// two sums. Every exp is added into one of four float32 accumulators, which are flushed into
// float64 lanes every 32 vectors and at the end of a range: each float32 partial sum holds at most 8
// terms, so the row sum is exact to a few float32 roundings whatever C is; it is rounded to float32
// once, at the end. The exp pass, which is bound by arithmetic, prefetches the same lines of the
// next row into L2, so that the next max pass does not wait on memory (this halved the time of
// 256 × 32,000 logits). ceFinish then finishes the rows a vector at a time.
//
// With grad (ceRowsLargeGrad, ceRowsLargeSpreadGrad) the kernel also writes the gradient of the
// row, ForwardBackward's forward and backward in one reading of the logits: the exp pass stores
// each e^{z_j−m} into the row of g as it sums it; then e^{z_t−m} completes the row's sum S, and a
// pass over the row of g, which is still in L1 or L2, turns it into s0·e/S + nq = s0·(softmax − q)
// (nq = −s0·q). The target's element holds s0·(p_t − q) then; the Go glue overwrites it with the
// exact s0·(pt + ε − q) once ceFinish has computed pt. An ignored row's gradient is zeroed. Without
// the spread, a row whose loss log(S/e^{z_t−m}) is below a limit ln e0 given by the glue (a row it
// predicts the selection will drop) gets zeros instead, while it is still in cache, and neg[i] = 1
// records it (0 for the other rows): zeroing it after the selection would cost a second write to
// memory. g must not overlap x (ForwardBackward in place does not fuse): on AVX2 the tail of a range
// is stored as a whole vector that also covers lanes before it or after it in the row.
func genRowsLarge(t tier, kind rowsKind, grad bool) {
	g := &rowsGen{t: t, kind: kind, grad: grad, spread: kind == rowsCESpread, drop: grad && kind == rowsCE}
	g.text()
	g.prologue()
	g.maxPasses()
	g.expSetup()
	g.expPass()
	g.store()
	g.epilogue()
}

// text starts the kernel.
func (g *rowsGen) text() {
	t := g.t
	var name string
	switch g.kind {
	case rowsCE:
		name = "ceRowsLarge"
		if g.grad {
			break
		}
		t.text(name, "func(s, zt, neg, mx []float32, x []float32, t []int32, c int, k float32)",
			"sets, for each row i of the row-major [len(t)][c] logits x with t[i] >= 0,",
			"mx[i] = m = max_j x[i][j], s[i] = Σ_{j≠t[i]} e^{x[i][j]−m} and zt[i] = x[i][t[i]];",
			"rows with t[i] < 0 are skipped. neg and k are not used.")
	case rowsCESpread:
		name = "ceRowsLargeSpread"
		if g.grad {
			break
		}
		t.text(name, "func(s, zt, neg, mx []float32, x []float32, t []int32, c int, k float32)",
			"is ceRowsLarge that also sets neg[i] = k·Σ_j (x[i][j] − m)/2, −ε/C times the spread for k = 2ε/C.",
			"Each term is k·(x/2 − m/2), which cannot overflow.")
	case rowsLSE:
		name = "lseRowsLarge"
		t.text(name, "func(s, mx []float32, x []float32, c int)",
			"sets, for each of the len(mx) rows of the row-major [len(mx)][c] logits x,",
			"mx[i] = m = max_j x[i][j] and s[i] = Σ_j e^{x[i][j]−m}.")
	}
	if g.grad {
		name += "Grad"
		doc := []string{"is " + name[:len(name)-4] + " that also writes the gradient of every row to the row-major g (the layout of x,",
			"which g must not overlap: a tail may be stored as a whole vector over other lanes of the row):",
			"g[i][j] = s0·e^{x[i][j]−m}/S + nq, S = Σ_j e^{x[i][j]−m}, for a row with t[i] >= 0 (the glue",
			"overwrites the target's element), and 0 for a row with t[i] < 0."}
		if g.kind == rowsCE {
			doc = append(doc, "A row with S < e0·e^{x[i][t[i]]−m} gets zeros and drop[i] = 1 (the other valid rows drop[i] = 0);",
				"drop takes the place of ceRowsLargeSpread's neg, which a kernel without smoothing has no use for.")
		} else {
			doc = append(doc, "e0 is not read.")
		}
		t.text(name, "func(s, zt, "+g.sumParam()+", mx []float32, x []float32, t []int32, c int, k float32, g []float32, s0, nq, e0 float32)", doc...)
	}
	g.lbl = name + t.suffix
}

// sumParam names the kernel's third slice by what it receives: neg, the smoothing's weighted sum
// of the row (k·Σ_j (x[i][j]/2 − m/2)), or, in the fused kernel without smoothing, drop, the
// rows it predicted dropped.
func (g *rowsGen) sumParam() string {
	if g.grad && g.kind == rowsCE {
		return "drop"
	}
	return "neg"
}

// prologue loads the parameters and the constants, and starts the row loop: an ignored row is
// skipped.
func (g *rowsGen) prologue() {
	t, lbl := g.t, g.lbl
	g.sumP = Load(Param("s").Base(), GP64())
	g.mxP = Load(Param("mx").Base(), GP64())
	g.row = Load(Param("x").Base(), GP64())
	g.stride = Load(Param("c"), GP64())
	SHLQ(U8(2), g.stride) // bytes per row
	g.rows, g.tP, g.spP, g.ztP = GP64(), GP64(), GP64(), GP64()
	if g.kind == rowsLSE {
		Load(Param("mx").Len(), g.rows)
	} else {
		Load(Param("t").Len(), g.rows)
		Load(Param("t").Base(), g.tP)
		Load(Param("zt").Base(), g.ztP)
	}
	if g.spread || g.drop {
		Load(Param(g.sumParam()).Base(), g.spP)
	}
	if g.grad {
		g.gd = GP64()
		gradRowAddr(g.row, g.gd)
		SUBQ(g.row, g.gd)
		g.gs = gradState{pend: GP64(), r: t.vec(), nq: t.vec()}
		XORQ(g.gs.pend, g.gs.pend)
		VXORPS(g.gs.r, g.gs.r, g.gs.r)
		VXORPS(g.gs.nq, g.gs.nq, g.gs.nq)
	}

	g.ec = t.loadExpConsts()
	g.negInf = t.cu("negInf", 0xff800000)
	g.p, g.n, g.tg = GP64(), GP64(), GP64()

	Label(lbl + "Row")
	TESTQ(g.rows, g.rows)
	JZ(LabelRef(lbl + "Done"))
	if g.kind != rowsLSE {
		Comment("an ignored row (t < 0) is skipped: its logits are never read")
		MOVLQSX(Mem{Base: g.tP}, g.tg)
		TESTQ(g.tg, g.tg)
		if g.grad {
			JS(LabelRef(lbl + "Ignored"))
		} else {
			JS(LabelRef(lbl + "Next"))
		}
	}
}

// maxPasses emits the row's max pass (with grad, a second one that also finishes the gradient of
// the row before), then reduces the maximum, stores it and broadcasts it into m, and loads zt.
func (g *rowsGen) maxPasses() {
	t, lbl := g.t, g.lbl
	Comment("m = max of the row: four accumulators, then one vector at a time, then a masked tail")
	MOVQ(g.row, g.p)
	MOVQ(g.stride, g.n)
	SHRQ(U8(2), g.n)
	g.mx = [4]reg.VecVirtual{t.vec(), t.vec(), t.vec(), t.vec()}
	for _, a := range g.mx {
		VMOVUPS(g.negInf, a)
	}
	if g.grad {
		Comment("the gradient of the row before waits for its final pass, which goes with this max pass")
		TESTQ(g.gs.pend, g.gs.pend)
		JZ(LabelRef(lbl + "Max4"))
		prev := GP64()
		LEAQ(Mem{Base: g.row, Index: g.gd, Scale: 1}, prev)
		SUBQ(g.stride, prev)
		XORQ(g.gs.pend, g.gs.pend)
		g.maxPass("Norm", prev)
	}
	g.maxPass("", nil)
	mx := g.mx
	Label(lbl + "MaxDone")
	VMAXPS(mx[1], mx[0], mx[0])
	VMAXPS(mx[3], mx[2], mx[2])
	VMAXPS(mx[2], mx[0], mx[0])
	t.hmax(mx[0])
	VMOVSS(mx[0].AsX(), Mem{Base: g.mxP})
	g.m = t.broadcastF32(mx[0].AsX().(reg.VecVirtual))
	if g.kind != rowsLSE {
		g.zt = XMM()
		VMOVSS(Mem{Base: g.row, Index: g.tg, Scale: 4}, g.zt)
		VMOVSS(g.zt, Mem{Base: g.ztP})
	}
}

// maxPass emits the max pass; with prev set, the pass also turns the gradient of the row before,
// at prev (advanced with p), into its final values (gradState.norm), vector for vector.
func (g *rowsGen) maxPass(sfx string, prev reg.GPVirtual) {
	t, lbl, p, n, mx := g.t, g.lbl, g.p, g.n, g.mx
	norm := func(disp int, mask Op) {
		if prev != nil {
			g.gs.norm(t, Mem{Base: prev, Disp: disp}, mask, n)
		}
	}
	step := func(b int) {
		ADDQ(U32(b), p)
		if prev != nil {
			ADDQ(U32(b), prev)
		}
	}
	Label(lbl + "Max4" + sfx)
	CMPQ(n, U32(4*t.lanes))
	JB(LabelRef(lbl + "Max1" + sfx))
	for i, a := range mx {
		VMAXPS(Mem{Base: p, Disp: i * t.bytes()}, a, a)
		norm(i*t.bytes(), nil)
	}
	step(4 * t.bytes())
	SUBQ(U32(4*t.lanes), n)
	JMP(LabelRef(lbl + "Max4" + sfx))
	Label(lbl + "Max1" + sfx)
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(lbl + "MaxTail" + sfx))
	VMAXPS(Mem{Base: p}, mx[0], mx[0])
	norm(0, nil)
	step(t.bytes())
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(lbl + "Max1" + sfx))
	Label(lbl + "MaxTail" + sfx)
	TESTQ(n, n)
	JZ(LabelRef(lbl + "MaxDone"))
	mask := t.tailMask(n)
	if t.zmm {
		VMAXPS(Mem{Base: p}, mx[1], mask, mx[1]) // masked-off lanes keep mx[1] and are not read
	} else {
		x := t.loadTail(Mem{Base: p}, mask)
		VBLENDVPS(mask, x, mx[1], x) // masked-off lanes take mx[1]
		VMAXPS(x, mx[1], mx[1])
	}
	norm(0, mask)
	if sfx != "" {
		JMP(LabelRef(lbl + "MaxDone"))
	}
}

// expSetup allocates the exp-sum pass's accumulators and, with the spread, starts it with the
// target's term and sets up its constants.
func (g *rowsGen) expSetup() {
	t := g.t
	Comment("the exp-sum pass: float32 accumulators acc, flushed into the float64 lanes of sum64")
	g.acc = [4]reg.VecVirtual{t.vec(), t.vec(), t.vec(), t.vec()}
	g.sum64 = t.vec()
	VXORPS(g.sum64, g.sum64, g.sum64)
	if !g.spread {
		return
	}
	g.sp = []reg.VecVirtual{t.vec()}
	if t.zmm {
		g.sp = append(g.sp, t.vec())
	}
	g.sp64 = t.vec()
	Comment("the spread starts with the target's term k·(zt − m)/2, in float64")
	zd, md, kd := XMM(), XMM(), XMM()
	VCVTSS2SD(g.zt, zd, zd)
	VCVTSS2SD(g.mx[0].AsX(), md, md)
	VSUBSD(md, zd, zd)
	VMOVSS(paramAddr("k"), kd)
	VMULSS(constMem("half", 0x3f000000), kd, kd)
	VCVTSS2SD(kd, kd, kd)
	VMULSD(kd, zd, zd)
	VXORPS(g.sp64, g.sp64, g.sp64)
	VMOVSD(zd, g.sp64.AsX(), g.sp64.AsX())
	g.half = t.cf("half", 0.5)
	g.mhalf = t.vec()
	VMULPS(g.half, g.m, g.mhalf)
	if t.zmm {
		kr := t.vec()
		VBROADCASTSS(paramAddr("k"), kr)
		g.kf = kr
	} else {
		kk := t.vec()
		VBROADCASTSS(paramAddr("k"), kk)
		km := AllocLocal(t.bytes())
		VMOVUPS(kk, km)
		g.kf = km
	}
}

func (g *rowsGen) zeroAcc() {
	for _, a := range g.acc {
		VXORPS(a, a, a)
	}
	if g.spread {
		for _, a := range g.sp {
			VXORPS(a, a, a)
		}
	}
}

// widenAdd adds the float32 lanes of v (clobbered) into the float64 lanes of d.
func (t tier) widenAdd(v, d reg.VecVirtual) {
	if t.zmm {
		w := ZMM()
		VCVTPS2PD(v.AsY(), w)
		VADDPD(w, d, d)
		hi := YMM()
		VEXTRACTF32X8(U8(1), v, hi)
		VCVTPS2PD(hi, w)
		VADDPD(w, d, d)
	} else {
		w := YMM()
		VCVTPS2PD(v.AsX(), w)
		VADDPD(w, d, d)
		hi := XMM()
		VEXTRACTF128(U8(1), v, hi)
		VCVTPS2PD(hi, w)
		VADDPD(w, d, d)
	}
}

// flush adds the float32 accumulators into the float64 sums and zeroes them.
func (g *rowsGen) flush() {
	acc := g.acc
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	g.t.widenAdd(acc[0], g.sum64)
	if g.spread {
		for _, a := range g.sp[1:] {
			VADDPS(a, g.sp[0], g.sp[0])
		}
		g.t.widenAdd(g.sp[0], g.sp64)
	}
	g.zeroAcc()
}

// expTerm returns e^{x−m} of the vector x, which becomes x − m, or with the spread x/2 − m/2:
// x − m is then computed as 2·(x/2 − m/2), the same value (halving is exact), and the half
// difference cannot overflow.
func (g *rowsGen) expTerm(x reg.VecVirtual) reg.VecVirtual {
	t := g.t
	e := t.vec()
	d := x
	if g.spread {
		VFMSUB132PS(g.half, g.mhalf, x) // x/2 − m/2
		d = t.vec()
		VADDPS(x, x, d)
	} else {
		VSUBPS(g.m, x, x)
	}
	t.exp(g.ec, d, e)
	return e
}

// term adds e^{x−m} of the vector at src into acc[a] (and k·(x − m)/2 into an sp); mask, if
// not nil, keeps only the n lanes of a tail.
func (g *rowsGen) term(src Mem, a int, mask Op) {
	t, acc, spread := g.t, g.acc, g.spread
	x := t.vec()
	if mask == nil {
		VMOVUPS(src, x)
	} else {
		x = t.loadTail(src, mask)
	}
	e := g.expTerm(x)
	if g.grad {
		g.storeGrad(e, src, mask)
	}
	var s reg.VecVirtual
	if spread {
		s = g.sp[a%len(g.sp)]
	}
	switch {
	case mask == nil:
		VADDPS(e, acc[a], acc[a])
		if spread {
			VFMADD231PS(g.kf, x, s)
		}
	case t.zmm:
		VADDPS(e, acc[a], mask, acc[a])
		if spread {
			VFMADD231PS(g.kf, x, mask, s)
		}
	default:
		VANDPS(mask, e, e)
		VADDPS(e, acc[a], acc[a])
		if spread {
			VANDPS(mask, x, x)
			VFMADD231PS(g.kf, x, s)
		}
	}
}

// storeGrad stores term's e, of the vector at src (the n lanes of mask, if not nil), into the
// row's gradient.
func (g *rowsGen) storeGrad(e reg.VecVirtual, src Mem, mask Op) {
	t, lbl := g.t, g.lbl
	gm := src
	gm.Index, gm.Scale = g.gd, 1
	switch {
	case mask == nil:
		VMOVUPS(e, gm)
	case t.zmm:
		t.storeTail(e, gm, g.n, mask)
	default:
		// Reached when the range ends in the row's first vector (tailEnd takes the others):
		// with C >= lanes that is the first range, and a whole vector from the row's start
		// stays in the row; its lanes past the range, the target's and the second range's,
		// are written again later. With C < lanes, pieces. No masked store (see tier.go).
		pieces, stored := label(lbl+"Pieces"), label(lbl+"Stored")
		CMPQ(g.stride, U32(t.bytes()))
		JB(LabelRef(pieces))
		VMOVUPS(e, gm)
		JMP(LabelRef(stored))
		Label(pieces)
		t.storeTail(e, gm, g.n, mask)
		Label(stored)
	}
}

// tailEnd is term for the n lanes of a tail through the whole vector at q that ends where the
// tail ends (AVX2 with grad): it stores the vector's gradient whole, then moves the tail's lanes
// (its top n) down to lanes 0..n−1, where term's masked load has them, so that the sums are bit
// for bit those of the kernel without the gradient.
func (g *rowsGen) tailEnd(q reg.GPVirtual) {
	t, acc := g.t, g.acc
	x := t.vec()
	VMOVUPS(Mem{Base: q}, x)
	e := g.expTerm(x)
	VMOVUPS(e, Mem{Base: q, Index: g.gd, Scale: 1})
	nv, iota, mask, perm := t.broadcastGP(g.n), t.vec(), t.vec(), t.vec()
	VMOVDQU(constIota(8), iota)
	VPCMPGTD(iota, nv, mask) // lanes below n
	VPSUBD(nv, iota, perm)   // lane i takes lane i − n + 8 (VPERMPS reads 3 bits)
	VPERMPS(e, perm, e)
	VANDPS(mask, e, e)
	VADDPS(e, acc[1], acc[1])
	if g.spread {
		VPERMPS(x, perm, x)
		VANDPS(mask, x, x)
		VFMADD231PS(g.kf, x, g.sp[1%len(g.sp)])
	}
}

// expPass emits the exp-sum pass over the row: the range [0, t), then (t, c) (the log-sum-exp:
// the whole row), four vectors at a time with a flush every 32 vectors, then one at a time, then
// the tail.
func (g *rowsGen) expPass() {
	t, lbl, p, n, tg, row, stride := g.t, g.lbl, g.p, g.n, g.tg, g.row, g.stride
	g.zeroAcc()
	MOVQ(row, p)
	if g.kind == rowsLSE {
		MOVQ(stride, n)
		SHRQ(U8(2), n)
	} else {
		Comment("first range: [0, t)")
		MOVQ(tg, n)
	}
	cnt := GP64()
	Label(lbl + "Range")
	CMPQ(n, U32(4*t.lanes))
	JB(LabelRef(lbl + "Exp1"))
	MOVL(U32(8), cnt.As32())
	Label(lbl + "Exp4")
	for i := range 4 {
		if i*t.bytes()%64 == 0 {
			// the same line of the next row, into L2: its max pass then does not wait on memory
			prefetchT1(Mem{Base: p, Index: stride, Scale: 1, Disp: i * t.bytes()})
		}
		g.term(Mem{Base: p, Disp: i * t.bytes()}, i, nil)
	}
	ADDQ(U32(4*t.bytes()), p)
	SUBQ(U32(4*t.lanes), n)
	DECL(cnt.As32())
	JZ(LabelRef(lbl + "Flush"))
	CMPQ(n, U32(4*t.lanes))
	JAE(LabelRef(lbl + "Exp4"))
	Label(lbl + "Flush")
	g.flush()
	JMP(LabelRef(lbl + "Range"))
	Label(lbl + "Exp1")
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(lbl + "ExpTail"))
	g.term(Mem{Base: p}, 0, nil)
	ADDQ(U32(t.bytes()), p)
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(lbl + "Exp1"))
	Label(lbl + "ExpTail")
	TESTQ(n, n)
	JZ(LabelRef(lbl + "RangeDone"))
	if g.grad && !t.zmm {
		Comment("the vector ending at the range's end, when it starts in the row: its lanes before the",
			"tail get again the values they have (every lane is computed alone; the target's is set",
			"later), and no masked store (see tier.go)")
		q := GP64()
		LEAQ(Mem{Base: p, Index: n, Scale: 4, Disp: -t.bytes()}, q)
		CMPQ(q, row)
		JB(LabelRef(lbl + "ExpTailShort"))
		g.tailEnd(q)
		JMP(LabelRef(lbl + "RangeDone"))
		Label(lbl + "ExpTailShort")
	}
	g.term(Mem{Base: p}, 1, t.tailMask(n))
	Label(lbl + "RangeDone")
	g.flush()
	if g.kind != rowsLSE {
		Comment("second range: (t, c); tg = −1 marks it as started")
		TESTQ(tg, tg)
		JS(LabelRef(lbl + "Store"))
		LEAQ(Mem{Base: row, Index: tg, Scale: 4, Disp: 4}, p)
		MOVQ(stride, n)
		SHRQ(U8(2), n)
		SUBQ(tg, n)
		DECQ(n)
		MOVQ(I32(-1), tg)
		JMP(LabelRef(lbl + "Range"))
	}
}

// store emits the end of a row: its sums rounded to float32 and stored, the gradient's
// (rowGrad), and the step to the next row.
func (g *rowsGen) store() {
	t, lbl := g.t, g.lbl
	Label(lbl + "Store")
	t.hsum64(g.sum64)
	VCVTSD2SS(g.sum64.AsX(), g.sum64.AsX(), g.sum64.AsX())
	VMOVSS(g.sum64.AsX(), Mem{Base: g.sumP})
	if g.spread {
		t.hsum64(g.sp64)
		VCVTSD2SS(g.sp64.AsX(), g.sp64.AsX(), g.sp64.AsX())
		VMOVSS(g.sp64.AsX(), Mem{Base: g.spP})
	}
	if g.grad {
		var flag reg.GPVirtual
		if g.drop {
			flag = g.spP
		}
		t.rowGrad(g.ec, lbl, g.row, g.stride, g.gd, g.tP, flag, Mem{Base: g.mxP}, Mem{Base: g.ztP}, g.sum64.AsX().(reg.VecVirtual), g.gs)
	}

	Label(lbl + "Next")
	ADDQ(g.stride, g.row)
	ADDQ(U8(4), g.sumP)
	ADDQ(U8(4), g.mxP)
	if g.kind != rowsLSE {
		ADDQ(U8(4), g.tP)
	}
	if g.kind != rowsLSE {
		ADDQ(U8(4), g.ztP)
	}
	if g.spread || g.drop {
		ADDQ(U8(4), g.spP)
	}
	DECQ(g.rows)
	JMP(LabelRef(lbl + "Row"))
}

// epilogue emits the ignored rows' zero gradient and the kernel's end, where the gradient of the
// last row gets its final pass.
func (g *rowsGen) epilogue() {
	t, lbl := g.t, g.lbl
	if g.grad {
		Label(lbl + "Ignored")
		g.gs.finish(t, lbl+"IgnNorm", g.row, g.stride, g.gd)
		Comment("an ignored row's gradient is 0")
		LEAQ(Mem{Base: g.row, Index: g.gd, Scale: 1}, g.p)
		MOVQ(g.stride, g.n)
		t.zeroFill(lbl+"Ign", g.p, g.n)
		JMP(LabelRef(lbl + "Next"))
	}

	Label(lbl + "Done")
	if g.grad {
		g.gs.finish(t, lbl+"LastNorm", g.row, g.stride, g.gd)
	}
	VZEROUPPER()
	RET()
}

// gradRowAddr sets p to the address of the gradient of the logit at x: g + (x − x's base).
func gradRowAddr(x reg.Register, p reg.GPVirtual) {
	Load(Param("g").Base(), p)
	ADDQ(x, p)
	xb, err := Param("x").Base().Resolve()
	check(err == nil, "%v", err)
	SUBQ(xb.Addr, p)
}

// gradState is the gradient of a row of ceRowsLargeGrad that waits for its final pass: pend is
// nonzero when one does, the row before the current one; it becomes g·r + nq.
type gradState struct {
	pend  reg.GPVirtual
	r, nq reg.VecVirtual
}

// norm emits the final pass over the vector at m (its first n lanes, through mask, when mask is
// set). The tail is stored in pieces on AVX2 (no masked store, see tier.go): unlike the exp pass it
// cannot take a whole vector ending at the row's end, which would scale lanes scaled already, and
// its length is the same in every row, so the pieces' branches are predicted.
func (gs gradState) norm(t tier, m Mem, mask Op, n reg.GPVirtual) {
	var v reg.VecVirtual
	if mask == nil {
		v = t.vec()
		VMOVUPS(m, v)
	} else {
		v = t.loadTail(m, mask)
	}
	VFMADD213PS(gs.nq, gs.r, v)
	if mask == nil {
		VMOVUPS(v, m)
	} else {
		t.storeTail(v, m, n, mask)
	}
}

// finish emits the final pass over the row before row, if one waits (labels start with lbl): for
// the last row, and for the row before an ignored one, which has no max pass to go with.
func (gs gradState) finish(t tier, lbl string, row, stride reg.Register, gd reg.GPVirtual) {
	TESTQ(gs.pend, gs.pend)
	JZ(LabelRef(lbl + "Done"))
	XORQ(gs.pend, gs.pend)
	Comment("the final pass over the gradient of the row before, on its own")
	p, n := GP64(), GP64()
	LEAQ(Mem{Base: row, Index: gd, Scale: 1}, p)
	SUBQ(stride, p)
	MOVQ(stride, n)
	SHRQ(U8(2), n)
	Label(lbl + "4")
	CMPQ(n, U32(4*t.lanes))
	JB(LabelRef(lbl + "1"))
	for i := range 4 {
		gs.norm(t, Mem{Base: p, Disp: i * t.bytes()}, nil, nil)
	}
	ADDQ(U32(4*t.bytes()), p)
	SUBQ(U32(4*t.lanes), n)
	JMP(LabelRef(lbl + "4"))
	Label(lbl + "1")
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(lbl + "Tail"))
	gs.norm(t, Mem{Base: p}, nil, nil)
	ADDQ(U32(t.bytes()), p)
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(lbl + "1"))
	Label(lbl + "Tail")
	TESTQ(n, n)
	JZ(LabelRef(lbl + "Done"))
	gs.norm(t, Mem{Base: p}, t.tailMask(n), n)
	Label(lbl + "Done")
}

// rowGrad emits the end of a row of ceRowsLargeGrad, whose gradient (at the logits' addresses + gd)
// holds e^{z_j−m} but at the target t (the Mem at tP): with e_t = e^{zt−m} (m and zt in memory) and
// the row's other terms s (float32, the low lane of sx), S = s + e_t; the row's gradient is to
// become g·(s0/S) + nq, which gs holds until the final pass, during the next row's max pass (or
// gradState.finish): the row is still in L1 or L2 then, and the pass, which is all loads and
// stores, fills the gaps of the max pass. With flag (the row's neg) set, a row with S < e0·e_t gets
// zeros instead and flag 1, and the others flag 0.
func (t tier) rowGrad(ec expConsts, lbl string, row, stride reg.Register, gd, tP, flag reg.GPVirtual, m, zt Mem, sx reg.VecVirtual, gs gradState) {
	Comment("the gradient: e_t = e^{zt−m} completes S; r = s0/S")
	d, et, mv := t.vec(), t.vec(), t.vec()
	VBROADCASTSS(zt, d)
	VBROADCASTSS(m, mv)
	VSUBPS(mv, d, d)
	t.exp(ec, d, et)
	S, r := XMM(), XMM()
	VADDSS(et.AsX(), sx, S)
	if flag != nil {
		Comment("a row predicted dropped (S < e0·e_t: its loss is below ln e0) gets zeros")
		lim := XMM()
		VMOVSS(paramAddr("e0"), lim)
		VMULSS(et.AsX(), lim, lim)
		VUCOMISS(S, lim)
		JA(LabelRef(lbl + "GradDrop"))
		MOVL(U32(0), Mem{Base: flag})
	}
	VMOVSS(paramAddr("s0"), r)
	VDIVSS(S, r, r)
	VBROADCASTSS(r, gs.r)
	VBROADCASTSS(paramAddr("nq"), gs.nq)
	p, tg := GP64(), GP64()
	LEAQ(Mem{Base: row, Index: gd, Scale: 1}, p)
	MOVLQSX(Mem{Base: tP}, tg)
	VMOVSS(et.AsX(), Mem{Base: p, Index: tg, Scale: 4})
	MOVL(U32(1), gs.pend.As32())
	if flag != nil {
		JMP(LabelRef(lbl + "GradDone"))
		Label(lbl + "GradDrop")
		MOVL(U32(0x3f800000), Mem{Base: flag}) // 1.0
		n := GP64()
		LEAQ(Mem{Base: row, Index: gd, Scale: 1}, p)
		MOVQ(stride, n)
		t.zeroFill(lbl+"Drop", p, n)
		Comment("nothing waits (r and nq are set for the register allocator only)")
		XORQ(gs.pend, gs.pend)
		VXORPS(gs.r, gs.r, gs.r)
		VXORPS(gs.nq, gs.nq, gs.nq)
	}
	Label(lbl + "GradDone")
}

// hsum64 adds the float64 lanes of v into its low lane.
func (t tier) hsum64(v reg.VecVirtual) {
	if t.zmm {
		hi := YMM()
		VEXTRACTF64X4(U8(1), v, hi)
		VADDPD(hi, v.AsY(), v.AsY())
	}
	hi := XMM()
	if t.zmm {
		VEXTRACTF64X2(U8(1), v.AsY(), hi) // EVEX: v may be one of Y16–Y31
	} else {
		VEXTRACTF128(U8(1), v.AsY(), hi)
	}
	VADDPD(hi, v.AsX(), v.AsX())
	VUNPCKHPD(v.AsX(), v.AsX(), hi)
	VADDSD(hi, v.AsX(), v.AsX())
}

// pairsKind selects what genPairs computes for each row of a C = 2 batch.
type pairsKind int

const (
	pairsCE      pairsKind = iota // the loss
	pairsCEStats                  // the loss and the gradient's statistics
	pairsLSE                      // log(e^{z_0} + e^{z_1})
)

// pairsGen holds the state of one C = 2 kernel (genPairs) being generated.
type pairsGen struct {
	t      tier
	ce, st bool   // cross-entropy (not the log-sum-exp); with the statistics
	lbl    string // kernel name with the tier suffix, for labels

	dst, n, tp, mP, lsP, ptP reg.GPVirtual
	xp                       reg.Register
	fill                     reg.VecVirtual

	ec         expConsts
	lc         logConsts
	sign, oneI Op
	zero       reg.VecVirtual
	tmax, lsum Op // the checks (ce): the largest target, the sum of the losses; AVX2: frame slots
}

// pairRows is the state of one vector of rows of a C = 2 kernel.
type pairRows struct {
	z0, z1, d, m, loss, tv, na, e, l1 reg.VecVirtual
	kIgn                              reg.Register
}

// genPairs emits the C = 2 kernels, vectorised across rows: vectors of rows (8 or 16 rows each),
// their logits deinterleaved into z0 and z1 (VSHUFPS and VPERMPD on AVX2, two VPERMI2PS on
// AVX-512). An iteration takes 3 vectors (AVX2; 2 with the statistics, which need more of its 16
// registers) or 4 (AVX-512; 3 with the statistics), emitted phase by phase, so that the core has
// independent exp and log1p chains side by side (AVX2 ce2Rows at 3 against 2: +20%, 0.72 → 0.87
// rows/ns, 64K rows, 11 alternated rounds, AMD EPYC Zen 5). With d = z_other − z_target (negating z1 − z0 where the target is 1), the loss is
// softplus(d) = max(d, 0) + log1p(e^{−|d|}), with the shared exp and log1p sequences; adding
// m − m (m = max(z0, z1): 0, or NaN when m is ±Inf or NaN) makes a bad row NaN, and ignored rows
// (t < 0) get fill. No scalar work is done per row. The row count must be a multiple of the lanes:
// the Go wrapper runs the last rows through a padded copy.
func genPairs(t tier, kind pairsKind) {
	g := &pairsGen{t: t, ce: kind != pairsLSE, st: kind == pairsCEStats}
	g.text(kind)
	g.prologue()
	groups := 3
	if g.st {
		groups = 2 // AVX2's 16 registers
	}
	if t.zmm {
		groups = 4
		if g.st {
			groups = 3
		}
	}
	lbl, n := g.lbl, g.n
	Label(lbl + "Loop")
	CMPQ(n, U32(groups*t.lanes))
	JB(LabelRef(lbl + "One"))
	g.body(groups)
	JMP(LabelRef(lbl + "Loop"))
	Label(lbl + "One")
	TESTQ(n, n)
	JZ(LabelRef(lbl + "Done"))
	g.body(1)
	JMP(LabelRef(lbl + "One"))
	Label(lbl + "Done")
	if g.ce {
		t.returnRowChecks(g.tmax, g.lsum)
	}
	VZEROUPPER()
	RET()
}

// text starts the kernel.
func (g *pairsGen) text(kind pairsKind) {
	t := g.t
	var name string
	switch kind {
	case pairsCE:
		name = "ce2Rows"
		t.text(name, "func(loss []float32, x []float32, t []int32, fill float32) (tmax int32, nan bool)",
			"sets loss[i] to the cross-entropy of row i of the row-major [len(t)][2] logits x, fill",
			"where t[i] < 0 and NaN for a row with a NaN or +Inf or two −Inf; len(t) is a multiple of the lanes.",
			"It returns tmax, the largest t[i] (at least −1), and nan, some loss written may be NaN (false:",
			"none is); it reads no memory by target (t[i] = 1 is the second logit, any other the first).")
	case pairsCEStats:
		name = "ce2RowsStats"
		var a attr.Attribute = NOSPLIT
		if t.zmm {
			a = 0 // the frame (spilled constants and the checks' slots) is too large for NOSPLIT
		}
		t.textFrame(a, name, "func(loss, m, ls, pt []float32, x []float32, t []int32, fill float32) (tmax int32, nan bool)",
			"is ce2Rows that also sets m[i], ls[i] = log(Σ_j e^{x_ij − m_i}) and pt[i] = p_t − 1 (0, 0, 0",
			"where t[i] < 0).")
	case pairsLSE:
		name = "lse2Rows"
		t.text(name, "func(dst []float32, x []float32)",
			"sets dst[i] = log(e^{x[2i]} + e^{x[2i+1]}) (NaN for a NaN, a +Inf or two −Inf) for the",
			"len(dst) rows of x; len(dst) is a multiple of the lanes.")
	}
	g.lbl = name + t.suffix
}

// prologue loads the parameters and the constants.
func (g *pairsGen) prologue() {
	t := g.t
	if g.ce {
		g.dst = Load(Param("loss").Base(), GP64()).(reg.GPVirtual)
		g.n = Load(Param("loss").Len(), GP64()).(reg.GPVirtual)
	} else {
		g.dst = Load(Param("dst").Base(), GP64()).(reg.GPVirtual)
		g.n = Load(Param("dst").Len(), GP64()).(reg.GPVirtual)
	}
	g.xp = Load(Param("x").Base(), GP64())
	if g.ce {
		g.tp = Load(Param("t").Base(), GP64()).(reg.GPVirtual)
		g.fill = t.vec()
		VBROADCASTSS(paramAddr("fill"), g.fill)
	}
	if g.st {
		g.mP = Load(Param("m").Base(), GP64()).(reg.GPVirtual)
		g.lsP = Load(Param("ls").Base(), GP64()).(reg.GPVirtual)
		g.ptP = Load(Param("pt").Base(), GP64()).(reg.GPVirtual)
	}
	g.ec = t.loadExpConsts()
	g.lc = t.sharedLogConsts(g.ec)
	if t.zmm {
		slots := GP64() // 12 vector slots on the stack
		LEAQ(AllocLocal(12*t.bytes()), slots)
		t.spillLogConsts(&g.lc, slots, 0)
	}
	g.sign = t.cu("signBit", 0x80000000)
	g.zero = t.zero()
	if g.ce {
		g.oneI = t.cu("oneInt", 1)
		Comment("the checks: tmax = the lanes' largest target (−1 to start), lsum = the sum of the losses")
		tm, ls := t.u32("allOnes", 0xFFFFFFFF), t.zero()
		if t.zmm && !g.st {
			g.tmax, g.lsum = tm, ls
		} else {
			// AVX2's 16 registers (and AVX-512's with the statistics) hold the vectors of rows in
			// flight: the checks wait in two aligned frame slots, updated once a vector (a chain
			// of a few cycles an iteration of ~90)
			B := t.bytes()
			slots := GP64()
			LEAQ(AllocLocal(3*B), slots)
			ADDQ(U8(B-1), slots)
			ANDQ(I8(-B), slots)
			g.tmax, g.lsum = Mem{Base: slots}, Mem{Base: slots, Disp: B}
			VMOVUPS(tm, g.tmax.(Mem))
			VMOVUPS(ls, g.lsum.(Mem))
		}
	}
}

// accumulate is the tier's accumulate.
func (g *pairsGen) accumulate(acc Op, v reg.VecVirtual, op func(a, b, d Op)) {
	g.t.accumulate(acc, v, op)
}

// accumulate folds v into the check acc (a register, or a frame slot: loaded, combined, stored)
// with op, VPMAXSD for the targets or VADDPS for the losses.
func (t tier) accumulate(acc Op, v reg.VecVirtual, op func(a, b, d Op)) {
	if m, ok := acc.(Mem); ok {
		a := t.vec()
		op(m, v, a)
		VMOVUPS(a, m)
		return
	}
	op(v, acc, acc)
}

func vpmaxsd(a, b, d Op) { VPMAXSD(a, b, d) }
func vaddps(a, b, d Op)  { VADDPS(a, b, d) }

// body emits the computation of n vectors of rows, phase by phase, so that the out-of-order
// core sees n independent chains side by side.
func (g *pairsGen) body(n int) {
	t := g.t
	rs := make([]pairRows, n)
	for i := range rs {
		g.load(&rs[i], i)
	}
	for i := range rs {
		rs[i].e = t.vec()
		t.exp(g.ec, rs[i].na, rs[i].e)
	}
	for i := range rs {
		rs[i].l1 = t.vec()
		t.log1p(g.lc, rs[i].e, rs[i].l1)
	}
	for i := range rs {
		g.finish(&rs[i], i)
	}
	B := t.bytes()
	ADDQ(U32(2*n*B), g.xp)
	ADDQ(U32(n*B), g.dst)
	if g.ce {
		ADDQ(U32(n*B), g.tp)
	}
	if g.st {
		ADDQ(U32(n*B), g.mP)
		ADDQ(U32(n*B), g.lsP)
		ADDQ(U32(n*B), g.ptP)
	}
	SUBQ(U32(n*t.lanes), g.n)
}

// load emits the first phase of the vector of rows i: the logits deinterleaved, d, m, the loss's
// first terms and −|d|.
func (g *pairsGen) load(r *pairRows, i int) {
	t, sign, zero := g.t, g.sign, g.zero
	xm := func(half int) Mem { return Mem{Base: g.xp, Disp: (2*i + half) * t.bytes()} }
	Comment("z0, z1 = the first and second logits of the rows")
	r.z0, r.z1 = t.vec(), t.vec()
	a := t.vec()
	VMOVUPS(xm(0), a)
	if t.zmm {
		VMOVDQU32(pairIndex("pairsEven", 0), r.z0)
		VPERMI2PS(xm(1), a, r.z0)
		VMOVDQU32(pairIndex("pairsOdd", 1), r.z1)
		VPERMI2PS(xm(1), a, r.z1)
	} else {
		VSHUFPS(U8(0x88), xm(1), a, r.z0) // rows 0 1 4 5 | 2 3 6 7
		VPERMPD(U8(0xD8), r.z0, r.z0)
		VSHUFPS(U8(0xDD), xm(1), a, r.z1)
		VPERMPD(U8(0xD8), r.z1, r.z1)
	}
	r.d, r.m, r.loss = t.vec(), t.vec(), t.vec()
	VSUBPS(r.z0, r.z1, r.d) // z1 − z0
	VMAXPS(r.z1, r.z0, r.m)
	Comment("loss starts as m − m: 0, or NaN for a row whose maximum is ±Inf or NaN")
	VSUBPS(r.m, r.m, r.loss)
	if g.ce {
		Comment("d = z_other − z_target: negate z1 − z0 where the target is 1")
		r.tv = t.vec()
		tm := Mem{Base: g.tp, Disp: i * t.bytes()}
		if t.zmm {
			VMOVDQU32(tm, r.tv)
			g.accumulate(g.tmax, r.tv, vpmaxsd)
			k1 := K()
			VPCMPEQD(g.oneI, r.tv, k1)
			VXORPS(sign, r.d, k1, r.d)
			r.kIgn = K()
			VPMOVD2M(r.tv, r.kIgn)
		} else {
			VMOVDQU(tm, r.tv)
			g.accumulate(g.tmax, r.tv, vpmaxsd)
			s := t.vec()
			VPCMPEQD(g.oneI, r.tv, s)
			VANDPS(sign, s, s)
			VXORPS(s, r.d, r.d)
		}
		Comment("loss += max(d, 0)")
		mx := t.vec()
		VMAXPS(zero, r.d, mx)
		VADDPS(mx, r.loss, r.loss)
	} else {
		Comment("lse = m + (m − m) + log1p(e^{−|z1 − z0|})")
		VADDPS(r.m, r.loss, r.loss)
	}
	if g.st {
		Comment("statistics: m (0 for an ignored row)")
		t.zeroIgnored(r.tv, r.kIgn, zero, r.m)
		VMOVUPS(r.m, Mem{Base: g.mP, Disp: i * t.bytes()})
	}
	r.na = t.vec()
	VORPS(sign, r.d, r.na) // −|d|
}

// finish emits the last phase of the vector of rows i, once e = e^{−|d|} and l1 = log1p(e) are
// computed: the loss (fill where t < 0) and the statistics.
func (g *pairsGen) finish(r *pairRows, i int) {
	t, sign, zero, lc := g.t, g.sign, g.zero, g.lc
	VADDPS(r.l1, r.loss, r.loss)
	if g.ce {
		if t.zmm {
			VMOVAPS(g.fill, r.kIgn, r.loss)
		} else {
			VBLENDVPS(r.tv, g.fill, r.loss, r.loss) // fill where t < 0
		}
		g.accumulate(g.lsum, r.loss, vaddps)
	}
	VMOVUPS(r.loss, Mem{Base: g.dst, Disp: i * t.bytes()})
	if !g.st {
		return
	}
	Comment("ls = log1p(u), u = e^{−|d|}; pt = p_t − 1 = −1/(1 + u), or −u/(1 + u) when the target is the larger")
	t.zeroIgnored(r.tv, r.kIgn, zero, r.l1)
	VMOVUPS(r.l1, Mem{Base: g.lsP, Disp: i * t.bytes()})
	q := t.vec()
	VMOVUPS(lc.one, q)
	w := t.vec()
	VADDPS(lc.one, r.e, w)
	VDIVPS(w, q, q)
	VXORPS(sign, q, q)
	if t.zmm {
		le := K()
		VCMPPS(U8(cmpLE), zero, r.d, le)
		VMULPS(r.e, q, le, q)
	} else {
		le := t.vec()
		VCMPPS(U8(cmpLE), zero, r.d, le)
		VMULPS(r.e, q, r.e)
		VBLENDVPS(le, r.e, q, q)
	}
	t.zeroIgnored(r.tv, r.kIgn, zero, q)
	VMOVUPS(q, Mem{Base: g.ptP, Disp: i * t.bytes()})
}

// zeroIgnored zeroes the lanes of v whose target (tv on AVX2, the opmask kIgn on AVX-512) is negative.
func (t tier) zeroIgnored(tv reg.VecVirtual, kIgn reg.Register, zero, v reg.VecVirtual) {
	if t.zmm {
		VMOVAPS(zero, kIgn, v)
	} else {
		VBLENDVPS(tv, zero, v, v)
	}
}

// pairIndex is the 64-byte VPERMI2PS index vector 2i + first, i = 0..15: the even or odd elements of
// two concatenated vectors.
func pairIndex(name string, first int) Mem {
	return intTable(name, func(i int) int { return 2*i + first })
}

// intTable is a 64-byte table of the int32 values f(i), i = 0..15 (AVX2 reads the first 8).
func intTable(name string, f func(i int) int) Mem {
	w := make([]uint32, 16)
	for i := range w {
		w[i] = uint32(f(i))
	}
	return u32Table(name, w)
}

// spillLogConsts moves the log1p constants that are only ever a first (memory-capable) operand to
// the vector slots at base, base+1 vector, ...: on AVX-512 the exp and log1p constants and a
// kernel's state do not fit in the 32 registers together. AVX2 constants are in memory already.
func (t tier) spillLogConsts(lc *logConsts, base reg.GPVirtual, first int) int {
	if !t.zmm {
		return first
	}
	slot := func(op *Op) {
		m := Mem{Base: base, Disp: first * t.bytes()}
		VMOVUPS(*op, m)
		*op = m
		first++
	}
	for i := 1; i < len(lc.p); i++ {
		slot(&lc.p[i])
	}
	slot(&lc.ln2hi)
	slot(&lc.ln2lo)
	slot(&lc.half)
	slot(&lc.sqrtHalf)
	return first
}

// lossTerms are what ceLoss reads. The gap between the target logit and the maximum comes either
// as m and zt (the rows), or as dt = zt − m and, with smoothing, its half hg = zt/2 − m/2 (the
// planar kernels; hg as the rows would compute it: zt·0.5 − m·0.5, rounded once).
type lossTerms struct {
	ls     reg.VecVirtual // log Σ_j e^{z_j−m}
	m, zt  reg.VecVirtual // the maximum and the target logit, or nil
	dt, hg reg.VecVirtual // zt − m and zt/2 − m/2, or nil
	neg    reg.VecVirtual // ε/C·Σ_j (z_j − m) = 2ε/C·Σ_j (z_j/2 − m/2); nil: no smoothing
	half   Op             // 0.5 (read with m and zt)
	gapW   Op             // −2(1 − ε) (read with neg)
	// scratch, when not nil, is a vector the caller no longer needs, used for the gap.
	scratch reg.VecVirtual
}

// ceLoss emits the loss of a softmax cross-entropy from in: the one place the generator writes
// it, for the rows (finishRows) and the planar kernels (planarGen.finishCE). Without smoothing
//
//	loss = ls + (m − zt)  (ls − dt: the same value),
//
// with smoothing ε (when in.neg is not nil)
//
//	loss = (1−ε)·(ls + m − zt) + ε·ls − neg = ls − neg − 2(1−ε)·(zt/2 − m/2),
//
// which takes m − zt as 2·(m/2 − zt/2) and so cannot overflow where the smoothed loss is finite:
// −neg, (1−ε)·(m − zt) and ls are its nonnegative parts. plain emits the loss without smoothing;
// with flag (and plain), the smoothed one replaces it where flag != 0 (a branch to skip, a label
// of the caller's), and without flag it is emitted unconditionally. It returns the loss.
func (t tier) ceLoss(in lossTerms, plain bool, flag reg.GPVirtual, skip string) reg.VecVirtual {
	var loss reg.VecVirtual
	g := in.scratch
	if g == nil && (plain && in.dt == nil || in.neg != nil && in.hg == nil) {
		g = t.vec() // for the gap from m and zt
	}
	if plain {
		loss = t.vec()
		if in.dt != nil {
			VSUBPS(in.dt, in.ls, loss)
		} else {
			VSUBPS(in.zt, in.m, g) // m − zt
			VADDPS(in.ls, g, loss)
		}
	}
	if in.neg == nil {
		return loss
	}
	Comment("smoothing: loss = (1−ε)·(ls + m − zt) + ε·ls − neg = ls − neg − 2(1−ε)·(zt/2 − m/2)")
	if flag != nil {
		TESTQ(flag, flag)
		JZ(LabelRef(skip))
	}
	sm := t.vec()
	VSUBPS(in.neg, in.ls, sm)
	hg := in.hg
	if hg == nil {
		mh := t.vec()
		VMULPS(in.half, in.m, mh)
		VMOVAPS(in.zt, g)
		VFMSUB132PS(in.half, mh, g) // zt/2 − m/2
		hg = g
	}
	VFMADD231PS(in.gapW, hg, sm)
	if !plain {
		return sm
	}
	VMOVAPS(sm, loss)
	if flag != nil {
		Label(skip)
	}
	return loss
}

// finishConsts are what finishRows reads besides the exp and log1p constants.
type finishConsts struct {
	sign, fill Op
	gapW, k    Op // smoothing: −2(1 − ε), 2ε/C (memory)
	zero       reg.VecVirtual
}

// finishRows turns a vector of rows' reductions into their losses, the vector form of finishCE:
// s = Σ_{j≠t} e^{z_j−m}, m the maximum, zt the target logit, neg = ε/C·Σ_j (z_j − m) (read only
// when smoothFlag != 0), tv the targets.
//
//	u = e^{zt−m} (1 when the target holds the maximum), a = s + (u − 1) = Σ_j e^{z_j−m} − 1,
//	ls = log1p(a), loss: ceLoss (smoothed when smoothFlag != 0),
//
// plus m − m (NaN when m is not finite); fill where t < 0. a is exact when the target holds the
// maximum (u − 1 = 0), so a tiny loss log1p(s) keeps its digits; otherwise s >= 1 and nothing
// cancels. It returns loss, ls, and a for the statistics (pt = −s/(1 + a)).
func (t tier) finishRows(ec expConsts, lc logConsts, fc finishConsts, s, m, zt, neg, tv reg.VecVirtual, smoothFlag reg.GPVirtual, lbl string) (loss, ls, a reg.VecVirtual) {
	Comment("finish: u = e^{zt−m}, a = s + (u − 1), ls = log1p(a), loss = ls + (m − zt)")
	g, u := t.vec(), t.vec()
	VSUBPS(m, zt, g) // zt − m
	t.exp(ec, g, u)
	a = t.vec()
	VSUBPS(lc.one, u, a)
	VADDPS(s, a, a)
	ls = t.vec()
	t.log1p(lc, a, ls)
	in := lossTerms{ls: ls, m: m, zt: zt, half: lc.half, gapW: fc.gapW, scratch: g}
	if smoothFlag != nil {
		in.neg = neg
	}
	loss = t.ceLoss(in, true, smoothFlag, lbl)
	Comment("loss += m − m (NaN for a bad row); fill where t < 0")
	VSUBPS(m, m, g)
	VADDPS(g, loss, loss)
	if t.zmm {
		k := K()
		VPMOVD2M(tv, k)
		VMOVAPS(fc.fill, k, loss)
	} else {
		VBLENDVPS(tv, fc.fill, loss, loss)
	}
	return loss, ls, a
}

// storeStats stores m, ls and pt = −s/(1 + a), zeroed where t < 0, to the slots at mP, lsP, ptP.
func (t tier) storeStats(lc logConsts, fc finishConsts, m, ls, s, a, tv reg.VecVirtual, mP, lsP, ptP reg.GPVirtual) {
	Comment("statistics: m, ls, pt = −s/(1 + a); 0, 0, 0 where t < 0")
	w, pt := t.vec(), t.vec()
	VADDPS(lc.one, a, w)
	VDIVPS(w, s, pt)
	VXORPS(fc.sign, pt, pt)
	var k reg.Register
	if t.zmm {
		k = K()
		VPMOVD2M(tv, k)
	}
	for _, st := range []struct {
		v reg.VecVirtual
		p reg.GPVirtual
	}{{m, mP}, {ls, lsP}, {pt, ptP}} {
		t.zeroIgnored(tv, k, fc.zero, st.v)
		VMOVUPS(st.v, Mem{Base: st.p})
	}
}

// smallPrefetch is how far ahead of its rows the small-C kernel prefetches, in bytes: several
// blocks of rows at the C up to 24 it takes, a few hundred nanoseconds of work.
var smallPrefetch = 2048

// genSmall emits the kernel for small C (up to a few dozen classes), vectorised across rows like
// the planar layout: for each vector of rows (8 or 16), one gather per class (indices row·C + j)
// transposes the rows into a planar scratch [C][lanes] while the maximum is taken; a second pass
// over the scratch sums e^{z_j−m} with the target lane masked out (and the spread for smoothing); a
// gather picks the target logits, and finishRows finishes every lane at once.
func genSmall(t tier) {
	g := &smallGen{t: t}
	name := "ceSmall"
	t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, c int, eps, fill float32)",
		"sets loss[i] to the cross-entropy of row i of the row-major [len(t)][c] logits x, smoothed",
		"by eps, fill where t[i] < 0, NaN for a bad row; with len(m) > 0 also m[i], ls[i], pt[i].",
		fmt.Sprintf("len(t) is a multiple of the lanes; scratch holds (c + %d)·lanes floats.", smallScratchRows))
	g.lbl = name + t.suffix
	lbl, L, B := g.lbl, t.lanes, t.bytes()
	g.prologue()

	Label(lbl + "Block")
	TESTQ(g.n, g.n)
	JZ(LabelRef(lbl + "Done"))
	g.pass1()
	g.pass2()
	loss, ls, a := t.finishRows(g.ec, g.lc, g.fc, g.s, g.m, g.zt, g.neg, g.tv, g.smooth, lbl+"Plain")
	VMOVUPS(loss, Mem{Base: g.dst})
	Comment("statistics, when len(m) > 0")
	stn := Load(Param("m").Len(), GP64()).(reg.GPVirtual)
	TESTQ(stn, stn)
	JZ(LabelRef(lbl + "Next"))
	t.storeStats(g.lc, g.fc, g.m, ls, g.s, a, g.tv, g.mP, g.lsP, g.ptP)
	ADDQ(U32(B), g.mP)
	ADDQ(U32(B), g.lsP)
	ADDQ(U32(B), g.ptP)
	Label(lbl + "Next")
	ADDQ(g.blk, g.xp)
	ADDQ(U32(B), g.tp)
	ADDQ(U32(B), g.dst)
	SUBQ(U32(L), g.n)
	JMP(LabelRef(lbl + "Block"))
	Label(lbl + "Done")
	VZEROUPPER()
	RET()
}

// smallGen holds the state of ceSmall being generated.
type smallGen struct {
	t   tier
	lbl string // kernel name with the tier suffix, for labels

	dst, n, mP, lsP, ptP, xp, tp, scr, c reg.GPVirtual
	cs                                   reg.GPVirtual // the constant slots, after the planar block
	blk                                  reg.GPVirtual // bytes per vector of rows
	p, q, j                              reg.GPVirtual
	idx                                  reg.VecVirtual // lane·C, the gather indices of class 0
	negInf                               Op

	ec     expConsts
	lc     logConsts
	fc     finishConsts
	smooth reg.GPVirtual

	m, tv, zt, s, neg, jv, mhalf reg.VecVirtual // a vector of rows: maximum, targets, ...
	half                         Op
}

// prologue loads the parameters and the constants.
func (g *smallGen) prologue() {
	t, B := g.t, g.t.bytes()
	g.dst = Load(Param("loss").Base(), GP64()).(reg.GPVirtual)
	g.n = Load(Param("loss").Len(), GP64()).(reg.GPVirtual)
	g.mP = Load(Param("m").Base(), GP64()).(reg.GPVirtual)
	g.lsP = Load(Param("ls").Base(), GP64()).(reg.GPVirtual)
	g.ptP = Load(Param("pt").Base(), GP64()).(reg.GPVirtual)
	g.xp = Load(Param("x").Base(), GP64()).(reg.GPVirtual)
	g.tp = Load(Param("t").Base(), GP64()).(reg.GPVirtual)
	g.scr = Load(Param("scratch").Base(), GP64()).(reg.GPVirtual)
	g.c = Load(Param("c"), GP64()).(reg.GPVirtual)

	Comment("constant slots after the planar block")
	g.cs = GP64()
	MOVQ(g.c, g.cs)
	IMUL3Q(U32(B), g.cs, g.cs)
	ADDQ(g.scr, g.cs)
	g.ec, g.lc, g.fc, g.smooth = t.ceSetup(g.cs, g.c)

	Comment("idx = lane·C, the gather indices of class 0; blk = bytes per vector of rows")
	g.idx = t.vec()
	cv := t.broadcastGP(g.c)
	VPMULLD(intTable("iota16", func(i int) int { return i }), cv, g.idx)
	g.blk = GP64()
	MOVQ(g.c, g.blk)
	IMUL3Q(U32(B), g.blk, g.blk)
	g.negInf = t.cu("negInf", 0xff800000)
	g.p, g.q, g.j = GP64(), GP64(), GP64()
}

// pass1 emits pass 1 over a vector of rows: class j of the rows gathered into the scratch, m the
// running maximum; then the target logits zt.
func (g *smallGen) pass1() {
	t, lbl, B, p, q := g.t, g.lbl, g.t.bytes(), g.p, g.q
	g.m = t.vec()
	VMOVUPS(g.negInf, g.m)
	MOVQ(g.xp, p)
	MOVQ(g.scr, q)
	Comment("pf walks the rows smallPrefetch bytes ahead, one vector's bytes per class: the block's")
	Comment("c·B bytes. Gathers of rows c·4 bytes apart do not train the hardware prefetchers (on AMD")
	Comment("the loop waited on memory for most of its time), so the lines are asked for in advance.")
	Comment("A prefetch past the end of x is harmless: it never faults.")
	pf := g.j
	LEAQ(Mem{Base: g.xp, Disp: smallPrefetch}, pf)
	Comment("pass 1: gather class j of the rows into the scratch, m = running maximum")
	Label(lbl + "Max")
	v := t.vec()
	prefetchT0(Mem{Base: pf})
	t.gather(Mem{Base: p, Index: g.idx, Scale: 4}, v)
	VMOVUPS(v, Mem{Base: q})
	VMAXPS(v, g.m, g.m)
	ADDQ(U8(4), p)
	ADDQ(U32(B), pf)
	ADDQ(U32(B), q)
	CMPQ(q, g.cs) // the gather slots end where the constant slots start
	JNE(LabelRef(lbl + "Max"))

	Comment("zt = the target logits (class 0 for an ignored row)")
	g.tv, g.zt = t.vec(), t.vec()
	t.loadInt(Mem{Base: g.tp}, g.tv)
	ti := t.vec()
	VPMAXSD(g.fc.zero, g.tv, ti)
	VPADDD(g.idx, ti, ti)
	t.gather(Mem{Base: g.xp, Index: ti, Scale: 4}, g.zt)
	t.zeroInt(ti) // keeps ti live past the gather, so the allocator cannot give it zt's register
}

// pass2 emits pass 2 over the scratch, with and without smoothing.
func (g *smallGen) pass2() {
	t, lbl := g.t, g.lbl
	Comment("pass 2: s = Σ_{j≠t} e^{z_j−m}; with smoothing also neg = 2ε/C·Σ_j (z_j/2 − m/2)")
	g.s, g.neg, g.jv = t.vec(), t.vec(), t.vec()
	VXORPS(g.s, g.s, g.s)
	VXORPS(g.neg, g.neg, g.neg)
	t.zeroInt(g.jv)
	g.half = t.cf("half", 0.5)
	g.mhalf = t.vec()
	VMULPS(g.half, g.m, g.mhalf)
	TESTQ(g.smooth, g.smooth)
	JNZ(LabelRef(lbl + "ExpSmooth"))
	g.classLoop(false, lbl+"Exp")
	JMP(LabelRef(lbl + "Finish"))
	Label(lbl + "ExpSmooth")
	g.classLoop(true, lbl+"ExpSmoothLoop")
	Label(lbl + "Finish")
}

// classLoop emits pass 2's class loop; with smoothing, x − m is 2·(x/2 − m/2) (the same value:
// halving is exact), and the half difference, which cannot overflow, feeds neg.
func (g *smallGen) classLoop(sm bool, loop string) {
	t, q, j, s := g.t, g.q, g.j, g.s
	MOVQ(g.scr, q)
	MOVQ(g.c, j)
	Label(loop)
	x, e := t.vec(), t.vec()
	VMOVUPS(Mem{Base: q}, x)
	d := x
	if sm {
		VFMSUB132PS(g.half, g.mhalf, x)
		d = t.vec()
		VADDPS(x, x, d)
	} else {
		VSUBPS(g.m, x, x)
	}
	t.exp(g.ec, d, e)
	if sm {
		VFMADD231PS(g.fc.k, x, g.neg)
	}
	if t.zmm {
		k := K()
		VPCMPD(U8(4), g.jv, g.tv, k) // t != j
		VADDPS(e, s, k, s)
	} else {
		eq := t.vec()
		VPCMPEQD(g.jv, g.tv, eq)
		VANDNPS(e, eq, e)
		VADDPS(e, s, s)
	}
	VPSUBD(t.cu("allOnes", 0xFFFFFFFF), g.jv, g.jv) // j + 1
	ADDQ(U32(t.bytes()), q)
	DECQ(j)
	JNZ(LabelRef(loop))
}

// gather loads the lanes at src (a vector-indexed memory operand, every lane valid) into d.
func (t tier) gather(src Mem, d reg.VecVirtual) {
	if t.zmm {
		k := K()
		KXNORW(k, k, k)
		VGATHERDPS(src, k, d)
		return
	}
	mask := t.vec()
	VPCMPEQD(mask, mask, mask)
	VGATHERDPS(mask, src, d)
	t.zeroInt(mask) // keeps mask live past the gather: its register must differ from d's
}

// sharedLogConsts returns the log1p constants for a kernel that also holds the exp constants: on
// AVX-512 the exp's register of 1 is shared, and the caller moves what it must to memory with
// spillLogConsts.
func (t tier) sharedLogConsts(ec expConsts) logConsts {
	lc := t.loadLogConsts()
	if t.zmm {
		lc.one = ec.one
	}
	return lc
}

// loadInt loads a vector of int32s.
func (t tier) loadInt(src Mem, d reg.VecVirtual) {
	if t.zmm {
		VMOVDQU32(src, d)
	} else {
		VMOVDQU(src, d)
	}
}

// zeroInt zeroes v with an integer instruction.
func (t tier) zeroInt(v reg.VecVirtual) {
	if t.zmm {
		VPXORD(v, v, v)
	} else {
		VPXOR(v, v, v)
	}
}

// ceSetup loads what finishRows reads: the exp and log1p constants (on AVX-512 the log1p ones
// that fit a memory operand go to the vector slots at cs, then −2(1 − ε) and 2ε/C follow them; 16
// slots in all), and returns smooth, nonzero when ε != 0. c holds C.
func (t tier) ceSetup(cs, c reg.GPVirtual) (ec expConsts, lc logConsts, fc finishConsts, smooth reg.GPVirtual) {
	ec = t.loadExpConsts()
	lc = t.sharedLogConsts(ec)
	next := t.spillLogConsts(&lc, cs, 0)
	fc = finishConsts{sign: t.cu("signBit", 0x80000000), zero: t.zero()}
	fill := t.vec()
	VBROADCASTSS(paramAddr("fill"), fill)
	fc.fill = fill
	smooth = GP64()
	{
		e := XMM()
		VMOVSS(paramAddr("eps"), e)
		MOVL(paramAddr("eps"), smooth.As32())
		one, cf := XMM(), XMM()
		VMOVSS(constMem("one", 0x3f800000), one)
		VCVTSI2SSQ(c, cf, cf)
		k := XMM()
		VADDSS(e, e, k)
		VDIVSS(cf, k, cf)   // 2ε/C
		VSUBSS(one, e, one) // ε − 1
		VADDSS(one, one, one)
		for i, v := range []reg.VecVirtual{one, cf} {
			b := t.broadcastF32(v)
			mm := Mem{Base: cs, Disp: (next + i) * t.bytes()}
			VMOVUPS(b, mm)
			if i == 0 {
				fc.gapW = mm
			} else {
				fc.k = mm
			}
		}
	}
	SHLQ(U8(1), smooth) // ε = ±0 counts as no smoothing
	return ec, lc, fc, smooth
}

// genFinish emits ceFinish, which finishes the rows that ceRowsLarge reduced, a vector at a time,
// with finishRows.
func genFinish(t tier) {
	name := "ceFinish"
	t.text(name, "func(loss, m, ls, pt []float32, s, mx, zt, neg []float32, t []int32, scratch []float32, c int, eps, fill float32)",
		"sets loss[i] (and, with len(m) > 0, m[i], ls[i], pt[i]) from the reductions s, mx, zt and",
		"neg of ceRowsLarge (neg read only when eps != 0). len(loss) is a multiple of the lanes;",
		fmt.Sprintf("scratch holds %d·lanes floats.", finishScratchVecs))
	lbl := name + t.suffix
	B := t.bytes()
	dst := Load(Param("loss").Base(), GP64()).(reg.GPVirtual)
	n := Load(Param("loss").Len(), GP64()).(reg.GPVirtual)
	mP := Load(Param("m").Base(), GP64()).(reg.GPVirtual)
	lsP := Load(Param("ls").Base(), GP64()).(reg.GPVirtual)
	ptP := Load(Param("pt").Base(), GP64()).(reg.GPVirtual)
	sP := Load(Param("s").Base(), GP64()).(reg.GPVirtual)
	mxP := Load(Param("mx").Base(), GP64()).(reg.GPVirtual)
	ztP := Load(Param("zt").Base(), GP64()).(reg.GPVirtual)
	negP := Load(Param("neg").Base(), GP64()).(reg.GPVirtual)
	tp := Load(Param("t").Base(), GP64()).(reg.GPVirtual)
	cs := Load(Param("scratch").Base(), GP64()).(reg.GPVirtual)
	c := Load(Param("c"), GP64()).(reg.GPVirtual)
	ec, lc, fc, smooth := t.ceSetup(cs, c)
	stn := Load(Param("m").Len(), GP64()).(reg.GPVirtual)

	Label(lbl + "Loop")
	TESTQ(n, n)
	JZ(LabelRef(lbl + "Done"))
	s, m, zt, neg, tv := t.vec(), t.vec(), t.vec(), t.vec(), t.vec()
	VMOVUPS(Mem{Base: sP}, s)
	VMOVUPS(Mem{Base: mxP}, m)
	VMOVUPS(Mem{Base: ztP}, zt)
	VMOVUPS(Mem{Base: negP}, neg)
	t.loadInt(Mem{Base: tp}, tv)
	loss, ls, a := t.finishRows(ec, lc, fc, s, m, zt, neg, tv, smooth, lbl+"Plain")
	VMOVUPS(loss, Mem{Base: dst})
	TESTQ(stn, stn)
	JZ(LabelRef(lbl + "Next"))
	t.storeStats(lc, fc, m, ls, s, a, tv, mP, lsP, ptP)
	ADDQ(U32(B), mP)
	ADDQ(U32(B), lsP)
	ADDQ(U32(B), ptP)
	Label(lbl + "Next")
	for _, r := range []reg.GPVirtual{dst, sP, mxP, ztP, negP, tp} {
		ADDQ(U32(B), r)
	}
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(lbl + "Loop"))
	Label(lbl + "Done")
	VZEROUPPER()
	RET()
}
