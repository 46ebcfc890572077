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
// chains side by side. AVX-512 finishes the last n < 16 samples with opmask loads and stores;
// AVX2 takes whole vectors only, and the Go glue runs the last ones through a padded copy (no
// masked stores). The gradient kernels read each logit before they write its gradient, so g may
// be x itself.

// sigKind selects a Sigmoid kernel.
type sigKind int

const (
	sigLoss     sigKind = iota // the losses
	sigLSE                     // softplus(z)
	sigGrad                    // the gradient, for per-sample scales
	sigLossGrad                // the losses and the gradient for one scale s0 (ForwardBackward's fused pass)
)

func genSigmoid(t tier) {
	genSig(t, sigLoss)
	genSig(t, sigLSE)
	genSig(t, sigGrad)
	genSig(t, sigLossGrad)
}

func genSig(t tier, kind sigKind) {
	var name string
	tail := "; len(t) is a multiple of the lanes."
	if t.zmm {
		tail = "."
	}
	switch kind {
	case sigLoss:
		name = "sigLoss"
		t.text(name, "func(loss, x []float32, t []int32, eps, fill float32)",
			"sets loss[i] to the sigmoid cross-entropy of the logit x[i] with target t[i] (0 or 1) and label",
			"smoothing eps, for the len(t) samples: fill where t[i] < 0, NaN where x[i] is not finite"+tail)
	case sigLSE:
		name = "sigLSE"
		tl := "; len(dst) is a multiple of the lanes."
		if t.zmm {
			tl = "."
		}
		t.text(name, "func(dst, x []float32)",
			"sets dst[i] = softplus(x[i]) = log(1 + e^x[i]), NaN where x[i] is not finite, for the len(dst)",
			"samples"+tl)
	case sigGrad:
		name = "sigGrad"
		t.text(name, "func(g, x []float32, t []int32, scale []float32, eps float32)",
			"sets g[i] = scale[i]·(σ(x[i]) − y'), y' = (1−eps)·t[i] + eps/2, where t[i] >= 0 and scale[i] != 0,",
			"and 0 elsewhere, for the len(t) samples"+tail+" g may be x.")
	case sigLossGrad:
		name = "sigLossGrad"
		t.text(name, "func(loss, g, x []float32, t []int32, eps, fill, s0 float32)",
			"is sigLoss that also sets g[i] = s0·(σ(x[i]) − y') where t[i] >= 0 and 0 elsewhere; g may be x.")
	}
	lbl := name + t.suffix
	loss, grad, targets := kind != sigGrad, kind == sigGrad || kind == sigLossGrad, kind != sigLSE

	var dst, gp, tp, sp, n reg.GPVirtual
	ld := func(c gotypes.Component) reg.GPVirtual { return Load(c, GP64()).(reg.GPVirtual) }
	switch kind {
	case sigLSE:
		dst, n = ld(Param("dst").Base()), ld(Param("dst").Len())
	case sigLoss:
		dst = ld(Param("loss").Base())
	case sigGrad:
		gp, sp = ld(Param("g").Base()), ld(Param("scale").Base())
	case sigLossGrad:
		dst, gp = ld(Param("loss").Base()), ld(Param("g").Base())
	}
	xp := ld(Param("x").Base())
	if targets {
		tp, n = ld(Param("t").Base()), ld(Param("t").Len())
	}

	ec := t.loadExpConsts()
	var lc log1pUnitConsts
	if loss {
		lc = t.loadLog1pUnitConsts()
		if t.zmm {
			slots := GP64()
			LEAQ(AllocLocal(7*t.bytes()), slots)
			t.spillLog1pUnitConsts(&lc, slots)
		}
	}
	sign := t.cu("signBit", 0x80000000)
	zero := t.zero()
	var fill, epsv, hev, s0 reg.VecVirtual
	var half Op
	if kind != sigLSE {
		half = t.cf("half", 0.5)
	}
	if kind == sigLoss || kind == sigLossGrad {
		fill = t.loadParamF32("fill")
		epsv = t.loadParamF32("eps")
	}
	if grad {
		Comment("he = ε/2, the smoothing of the gradient")
		hev = t.loadParamF32("eps")
		VMULPS(half, hev, hev)
	}
	if kind == sigLossGrad {
		s0 = t.loadParamF32("s0")
	}
	var one Op
	if grad {
		one = t.cf("one", 1)
		if t.zmm {
			one = ec.one
		}
	}

	// chain is one vector of samples in flight.
	type chain struct {
		z, sg, d, na, e, acc reg.VecVirtual
		tv                   reg.VecVirtual // AVX2: the targets, whose sign bit marks the ignored
		kIgn                 reg.Register   // AVX-512: the ignored lanes
	}
	// body emits g vectors of samples at the current pointers; tail, if not nil, is the opmask of
	// the lanes of a last partial vector (AVX-512).
	body := func(g int, tail Op, smooth bool) {
		cs := make([]chain, g)
		at := func(p reg.GPVirtual, i int) Mem { return Mem{Base: p, Disp: i * t.bytes()} }
		for i := range cs {
			c := &cs[i]
			c.z = t.vec()
			if tail != nil {
				VMOVUPS_Z(at(xp, i), tail, c.z)
			} else {
				VMOVUPS(at(xp, i), c.z)
			}
			if targets {
				c.sg = t.vec()
				Comment("sg = the target's bit 0 in the sign bit: d = z XOR sg is z for a negative, −z for a positive")
				c.tv = t.vec()
				switch {
				case tail != nil:
					VMOVDQU32_Z(at(tp, i), tail, c.tv)
				case t.zmm:
					VMOVDQU32(at(tp, i), c.tv)
				default:
					VMOVDQU(at(tp, i), c.tv)
				}
				VPSLLD(U8(31), c.tv, c.sg)
				if t.zmm && kind != sigGrad {
					c.kIgn = K()
					VPMOVD2M(c.tv, c.kIgn)
				}
			}
			c.na = t.vec()
			VORPS(sign, c.z, c.na) // −|z| = −|d|
			c.d = c.z
			if targets {
				c.d = t.vec()
				VXORPS(c.sg, c.z, c.d)
			}
			if loss {
				Comment("acc = max(d, 0) + 0·z (NaN for a NaN or ±Inf logit)")
				c.acc = t.vec()
				VMAXPS(zero, c.d, c.acc)
				VFMADD231PS(zero, c.z, c.acc)
				if smooth {
					Comment("smoothing: acc −= (ε·d)/2")
					ed := t.vec()
					VMULPS(epsv, c.d, ed)
					VFNMADD231PS(half, ed, c.acc)
				}
			}
		}
		for i := range cs {
			cs[i].e = t.vec()
			t.exp(ec, cs[i].na, cs[i].e)
		}
		if grad {
			for i := range cs {
				c := &cs[i]
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
				VSUBPS(hev, r, r)
				VXORPS(c.sg, r, r)
				Comment("g = scale·v where the sample is kept, else 0")
				switch {
				case kind == sigLossGrad && t.zmm:
					VMULPS(s0, r, r)
					VMOVAPS(zero, c.kIgn, r)
				case kind == sigLossGrad:
					VMULPS(s0, r, r)
					VBLENDVPS(c.tv, zero, r, r)
				case t.zmm:
					sc := t.vec()
					if tail != nil {
						VMOVUPS_Z(at(sp, i), tail, sc)
					} else {
						VMOVUPS(at(sp, i), sc)
					}
					keep := K()
					VPCMPD(U8(5), zero, c.tv, keep)     // t >= 0
					VCMPPS(U8(4), zero, sc, keep, keep) // scale != 0
					VMULPS_Z(sc, r, keep, r)
				default:
					sc, dead := t.vec(), t.vec()
					VMOVUPS(at(sp, i), sc)
					VCMPPS(U8(cmpEQ), zero, sc, dead)
					VPOR(c.tv, dead, dead) // the sign bit: t < 0 or scale == 0
					VMULPS(sc, r, r)
					VBLENDVPS(dead, zero, r, r)
				}
				if tail != nil {
					VMOVUPS(r, tail, at(gp, i))
				} else {
					VMOVUPS(r, at(gp, i))
				}
			}
		}
		if loss {
			for i := range cs {
				c := &cs[i]
				l1 := t.vec()
				t.log1pUnit(lc, c.e, l1)
				VADDPS(l1, c.acc, c.acc)
				if kind != sigLSE {
					Comment("fill where t < 0")
					if t.zmm {
						VMOVAPS(fill, c.kIgn, c.acc)
					} else {
						VBLENDVPS(c.tv, fill, c.acc, c.acc)
					}
				}
				if tail != nil {
					VMOVUPS(c.acc, tail, at(dst, i))
				} else {
					VMOVUPS(c.acc, at(dst, i))
				}
			}
		}
		if tail != nil {
			return
		}
		for _, p := range []reg.GPVirtual{dst, gp, xp, tp, sp} {
			if p != nil {
				ADDQ(U32(g*t.bytes()), p)
			}
		}
		SUBQ(U32(g*t.lanes), n)
	}

	groups := 2
	if t.zmm {
		groups = 4
	}
	if kind == sigLossGrad {
		groups /= 2
	}
	// loops emits the loops over the vectors of samples, with label prefix pfx.
	loops := func(pfx string, smooth bool) {
		Label(pfx + "Loop")
		CMPQ(n, U32(groups*t.lanes))
		JB(LabelRef(pfx + "One"))
		body(groups, nil, smooth)
		JMP(LabelRef(pfx + "Loop"))
		Label(pfx + "One")
		CMPQ(n, U32(t.lanes))
		JB(LabelRef(pfx + "Tail"))
		body(1, nil, smooth)
		JMP(LabelRef(pfx + "One"))
		Label(pfx + "Tail")
		if t.zmm {
			TESTQ(n, n)
			JZ(LabelRef(lbl + "Done"))
			body(1, t.tailMask(n), smooth)
		}
		JMP(LabelRef(lbl + "Done"))
	}
	if kind == sigLoss || kind == sigLossGrad {
		Comment("without smoothing (ε = ±0) the loop leaves out its two instructions")
		e := GP32()
		MOVL(paramAddr("eps"), e)
		SHLL(U8(1), e)
		JNZ(LabelRef(lbl + "SmoothLoop"))
		loops(lbl+"Plain", false)
		loops(lbl+"Smooth", true)
	} else {
		loops(lbl, false)
	}
	Label(lbl + "Done")
	VZEROUPPER()
	RET()
}
