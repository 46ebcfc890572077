package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// expConsts are the registers the exp sequence reads; load them once, outside the loops.
type expConsts struct {
	log2e, magic, ln2hi, ln2lo, c5, c4, c3, c2, c1, cutoff, one Op
}

func (t tier) loadExpConsts() expConsts {
	c := expConsts{
		log2e: t.cf("expLog2e", 0x1.715476p+0),
		ln2hi: t.cf("expMinusLn2Hi", -0x1.62E400p-1),
		ln2lo: t.cf("expMinusLn2Lo", -0x1.7F7D1Cp-20),
		c5:    t.cf("expC5", 0x1.0F9F9Cp-7),
		c4:    t.cf("expC4", 0x1.573A1Ap-5),
		c3:    t.cf("expC3", 0x1.555A80p-3),
		c2:    t.cf("expC2", 0x1.FFFDC6p-2),
		c1:    t.cf("expC1", 0x1.FFFFF6p-1),
	}
	// Every set (generic, AVX2, AVX-512, NEON) flushes e^x to exactly 0 below the same cut-off, so
	// a masked class (−Inf) and a far-negative one are exactly 0 everywhere and tiny losses tie alike.
	c.cutoff = t.cf("expCutoff", -0x1.5D589Ep6) // ln of the smallest normal float32
	if t.zmm {
		c.one = t.cf("one", 1)
	} else {
		c.magic = t.cf("expMagicBias", 0x1.8000FEp23) // 1.5·2^23 + 127
	}
	return c
}

// exp sets d = e^x for x <= 0 (or NaN, which stays NaN), XNNPACK's rr2_p5 scheme: n = round(x/ln2),
// r = x − n·ln2 with ln2 in two parts, e^r = 1 + r·p(r) with a degree-5 minimax p, times 2^n.
// AVX2 builds 2^n in the exponent bits from a magic-bias rounding; AVX-512 rounds with VRNDSCALEPS
// and scales with VSCALEFPS. Both flush to exactly 0 where x is below the cut-off (ln of the
// smallest normal float32, as the generic and NEON sets do; VSCALEFPS alone would give subnormals,
// and 2^-149 for x = −Inf). x is left unchanged; d must differ from x.
func (t tier) exp(c expConsts, x, d reg.VecVirtual) {
	n, p := t.vec(), t.vec()
	var r reg.VecVirtual // the reduced argument, updated in place
	if t.zmm {
		Comment("exp: n = round(x·log2e), r = x − n·ln2 (lanes below the cut-off, −Inf among them, are zeroed at the end)")
		VMULPS(c.log2e, x, n)
		VRNDSCALEPS(U8(0), n, n)
		r = t.vec()
		VMOVAPS(x, r)
	} else {
		Comment("exp: n = round(x·log2e) by the magic bias, s = 2^n from its bits, r = x − n·ln2")
		VMOVAPS(c.magic, n)
		VFMADD231PS(c.log2e, x, n)
		VPSLLD(U8(23), n, d) // d = s = 2^n
		VSUBPS(c.magic, n, n)
		r = t.vec()
		VMOVAPS(x, r)
	}
	VFMADD231PS(c.ln2hi, n, r)
	VFMADD231PS(c.ln2lo, n, r)
	Comment("p = c1 + r·(c2 + r·(c3 + r·(c4 + r·c5)))")
	VMOVAPS(c.c5, p)
	VFMADD213PS(c.c4, r, p)
	VFMADD213PS(c.c3, r, p)
	VFMADD213PS(c.c2, r, p)
	VFMADD213PS(c.c1, r, p)
	if t.zmm {
		Comment("e^x = (1 + r·p)·2^n where x is not below the cut-off (NaN kept), else 0")
		keep := K()
		VCMPPS(U8(5), c.cutoff, x, keep) // NLT_US: x >= cut-off, or NaN
		VFMADD213PS(c.one, r, p)
		VSCALEFPS_Z(n, p, keep, d)
	} else {
		Comment("e^x = s + (r·s)·p, flushed to 0 below the cut-off")
		VMULPS(d, r, r)
		VFMADD231PS(r, p, d)
		m := t.vec()
		VCMPPS(U8(1), c.cutoff, x, m) // x < cutoff (false for NaN)
		VANDNPS(d, m, d)
	}
}

// logConsts are the registers the log1p sequence reads.
type logConsts struct {
	one, sqrtHalf, ln2hi, ln2lo, half, inf Op
	p                                      [9]Op
}

func (t tier) loadLogConsts() logConsts {
	c := logConsts{
		one:      t.cf("one", 1),
		sqrtHalf: t.cu("logSqrtHalfBits", 0x3f3504f3),
		ln2hi:    t.cf("logLn2Hi", 0.693359375),
		ln2lo:    t.cf("logLn2Lo", -2.12194440e-4),
		half:     t.cf("half", 0.5),
		inf:      t.cu("posInf", 0x7f800000),
	}
	// Cephes logf: log(1+r) = r − r²/2 + r³·P(r) for r in [√½−1, √2−1].
	for i, v := range []float32{7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
		1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1} {
		c.p[i] = t.cf(constName("logP", i), v)
	}
	return c
}

func constName(prefix string, i int) string { return prefix + string(rune('0'+i)) }

// log1p sets d = log(1 + u) for u >= 0 (NaN stays NaN, +Inf gives +Inf), within a few ulp:
// w = 1 + u is split as 2^k·f with f in [√½, √2), log f comes from the Cephes polynomial, and the
// rounding error c = (1 + u) − w, found exactly by Fast2Sum, is added back as c/w. u is left
// unchanged; d must differ from u.
func (t tier) log1p(c logConsts, u, d reg.VecVirtual) {
	w, k, f, z, y, cw := t.vec(), t.vec(), t.vec(), t.vec(), t.vec(), t.vec()
	Comment("log1p: w = 1 + u, cw = (1 + u) − w exactly (Fast2Sum: the larger operand first)")
	VADDPS(c.one, u, w)
	big, small := t.vec(), t.vec()
	VMAXPS(c.one, u, big)
	VMINPS(c.one, u, small)
	VSUBPS(big, w, cw)
	VSUBPS(cw, small, cw)
	Comment("cw = cw / w, a correction far below an ulp of the result")
	VDIVPS(w, cw, cw)
	Comment("w = 2^k·f, f in [√½, √2): k from the exponent bits offset by √½")
	VPSUBD(c.sqrtHalf, w, k)
	VPSRAD(U8(23), k, k)
	VPSLLD(U8(23), k, f)
	VPSUBD(f, w, f)
	VCVTDQ2PS(k, k)
	VSUBPS(c.one, f, f)
	Comment("log f = f − f²/2 + f³·P(f)")
	VMULPS(f, f, z)
	VMOVAPS(c.p[0], y)
	for i := 1; i < 9; i++ {
		VFMADD213PS(c.p[i], f, y)
	}
	VMULPS(f, y, y)
	VMULPS(z, y, y)
	VFMADD231PS(c.ln2lo, k, y)
	VFNMADD231PS(c.half, z, y)
	VADDPS(cw, y, y)
	VADDPS(f, y, y)
	VMOVAPS(y, d)
	VFMADD231PS(c.ln2hi, k, d)
	Comment("log1p(+Inf) = +Inf (the split above makes it NaN)")
	if t.zmm {
		m := K()
		VCMPPS(U8(0), c.inf, u, m)
		VMOVAPS(c.inf, m, d)
	} else {
		m := t.vec()
		VCMPPS(U8(0), c.inf, u, m)
		VBLENDVPS(m, c.inf, d, d)
	}
}

// log1pUnitQ are the coefficients q0..q7 of log1p(u) = u + u·(u·Q(u)), Q(u) = Σ q_i·u^i, for u in
// [0, 1] (log1pUnit). They minimise the relative error of the degree-9 polynomial u·(1 + u·Q(u))
// on [0, 1]: a Remez exchange in float64 on the weighted error u²/log1p(u)·(Q(u) − (log1p(u) − u)/u²)
// (an equioscillating fit), the coefficients then rounded
// to float32 one at a time, q0 first, each rounding followed by a new exchange for the ones after
// it (3.3e-8 relative with the float32 coefficients, evaluated exactly). Evaluated as below (Horner
// with FMAs, then (Q·u)·u + u fused), the result is within 1.52 ulp of log1p on every float32 in
// [0, 1] (TestLog1pUnitExhaustive), and u itself for a tiny u: nothing is lost to 1 + u.
var log1pUnitQ = [8]float32{-0x1.ffff14p-2, 0x1.5535dep-2, -0x1.fd1368p-3, 0x1.884554p-3,
	-0x1.19af8ep-3, 0x1.44707ap-4, -0x1.eca398p-6, 0x1.5fa0dap-8}

// log1pUnitConsts are the registers (or, after spillLog1pUnitConsts, memory operands) log1pUnit reads.
type log1pUnitConsts struct{ q [8]Op }

func (t tier) loadLog1pUnitConsts() log1pUnitConsts {
	var c log1pUnitConsts
	for i, v := range log1pUnitQ {
		c.q[i] = t.cf(constName("log1pUnitQ", i), v)
	}
	return c
}

// spillLog1pUnitConsts moves the constants of log1pUnit that are a first (memory-capable) operand,
// q0..q6, to the vector slots at base (AVX-512: 7 slots, not aligned to the vector), as
// spillLogConsts does. q7, which VMOVAPS reads, stays in its register.
func (t tier) spillLog1pUnitConsts(c *log1pUnitConsts, base reg.GPVirtual) {
	if !t.zmm {
		return
	}
	for i := range c.q[:7] {
		m := Mem{Base: base, Disp: i * t.bytes()}
		VMOVUPS(c.q[i], m)
		c.q[i] = m
	}
}

// log1pUnit sets d = log(1 + u) for u in [0, 1] (NaN stays NaN), within 1.52 ulp: the polynomial
// u + (u·Q(u))·u of log1pUnitQ, no division and no exponent split; 10 instructions where log1p
// takes 33. u is left unchanged; d must differ from u.
func (t tier) log1pUnit(c log1pUnitConsts, u, d reg.VecVirtual) {
	Comment("log1p of u in [0, 1]: d = Q(u) by Horner, then d = (d·u)·u + u")
	VMOVAPS(c.q[7], d)
	for i := 6; i >= 0; i-- {
		VFMADD213PS(c.q[i], u, d)
	}
	VMULPS(u, d, d)
	VFMADD213PS(u, u, d)
}

// genMath emits exp, log1p and log1pUnit over slices for the tests: they check every float32 of the range.
func genMath(t tier) {
	for _, fn := range []struct {
		name, doc string
		body      func(x, d reg.VecVirtual)
	}{
		{"expf", "sets dst[i] = e^x[i] for x[i] <= 0, len(dst) == len(x) a multiple of the lanes.", nil},
		{"log1pf", "sets dst[i] = log(1 + x[i]) for x[i] >= 0, len(dst) == len(x) a multiple of the lanes.", nil},
		{"log1pUnitf", "sets dst[i] = log(1 + x[i]) for x[i] in [0, 1], len(dst) == len(x) a multiple of the lanes.", nil},
	} {
		t.text(fn.name, "func(dst, x []float32)", fn.doc)
		dst := Load(Param("dst").Base(), GP64())
		src := Load(Param("x").Base(), GP64())
		n := Load(Param("x").Len(), GP64())
		var body func(x, d reg.VecVirtual)
		switch fn.name {
		case "expf":
			c := t.loadExpConsts()
			body = func(x, d reg.VecVirtual) { t.exp(c, x, d) }
		case "log1pf":
			c := t.loadLogConsts()
			body = func(x, d reg.VecVirtual) { t.log1p(c, x, d) }
		default:
			c := t.loadLog1pUnitConsts()
			body = func(x, d reg.VecVirtual) { t.log1pUnit(c, x, d) }
		}
		Label(fn.name + t.suffix + "Loop")
		CMPQ(n, U32(t.lanes))
		JB(LabelRef(fn.name + t.suffix + "Done"))
		x, d := t.vec(), t.vec()
		VMOVUPS(Mem{Base: src}, x)
		body(x, d)
		VMOVUPS(d, Mem{Base: dst})
		ADDQ(U32(t.bytes()), src)
		ADDQ(U32(t.bytes()), dst)
		SUBQ(U32(t.lanes), n)
		JMP(LabelRef(fn.name + t.suffix + "Loop"))
		Label(fn.name + t.suffix + "Done")
		VZEROUPPER()
		RET()
	}
}
