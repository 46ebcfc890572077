package main

import "github.com/ohem-go/ohem/asm/neon"

// The NEON kernels of Sigmoid batches (the amd64 ones are in sigmoid.go, which explains the
// formulas): a flat pass over the samples, one vector of 4 a step, len(t) a multiple of 4 (the Go
// glue, sigmoid_arm64.go, runs the last 1–3 samples through a padded copy, so that no tail vector
// overlaps one already stored: g may be x). Every step is the AVX2 kernel's operation for
// operation, in the same order (the exp of neon_math.go and the log1pUnit below are the AVX2
// sequences), so that both give the same bits (but for the payloads of NaNs).
//
// Registers: V28–V31 the exp's constants, V27 one, V22–V23 log1pUnit's, V14–V21 the kernel's,
// V0–V13 data. (log1pfNEON alone uses the general log1p, with its constants in V22–V27.)

// The log1p constants, loaded by log1pConstsNEON.
const (
	vLogOne   neon.Reg = 27 // 1 in every lane
	vLogSqrtH neon.Reg = 26 // the bits of √½ in every lane
	vLogInf   neon.Reg = 25 // +Inf in every lane
	vLogP0    neon.Reg = 24 // P0..P3 of the Cephes polynomial
	vLogP4    neon.Reg = 23 // P4..P7
	vLogK     neon.Reg = 22 // P8, ln2 (low part), ½, ln2 (high part)
)

// The log1pUnit constants, loaded by log1pUnitConstsNEON: asm/exp.go's log1pUnitQ.
const (
	vUnitQ0 neon.Reg = 23 // q0..q3
	vUnitQ4 neon.Reg = 22 // q4..q7
)

// The kernel constants of the Sigmoid kernels.
const (
	vSigZero neon.Reg = 14
	vSigSign neon.Reg = 15 // the sign bit in every lane
	vSigFill neon.Reg = 16
	vSigEps  neon.Reg = 17
	vSigHalf neon.Reg = 18
	vSigHe   neon.Reg = 19 // ε/2, the gradient's smoothing
	vSigS0   neon.Reg = 20 // the fused kernel's scale
)

// logP are the coefficients of log1p's polynomial (asm/exp.go's loadLogConsts).
var logP = [9]float32{7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
	1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1}

func (f *neonFile) log1pConstsNEON() {
	f.Comment("log1p constants: V27 = 1, V26 = √½ bits, V25 = +Inf, V24 = P0..P3, V23 = P4..P7, V22 = P8, ln2 lo, ½, ln2 hi")
	f.ConstF32(vLogOne, 1)
	f.ConstU32(vLogSqrtH, 0x3f3504f3)
	f.ConstU32(vLogInf, 0x7f800000)
	f.ConstLanes(vLogP0, [4]uint32{f32bits(logP[0]), f32bits(logP[1]), f32bits(logP[2]), f32bits(logP[3])})
	f.ConstLanes(vLogP4, [4]uint32{f32bits(logP[4]), f32bits(logP[5]), f32bits(logP[6]), f32bits(logP[7])})
	f.ConstLanes(vLogK, [4]uint32{f32bits(logP[8]), f32bits(-2.12194440e-4), f32bits(0.5), f32bits(0.693359375)})
}

func (f *neonFile) log1pUnitConstsNEON() {
	f.Comment("log1pUnit constants: V23 = q0..q3, V22 = q4..q7")
	q := log1pUnitQ
	f.ConstLanes(vUnitQ0, [4]uint32{f32bits(q[0]), f32bits(q[1]), f32bits(q[2]), f32bits(q[3])})
	f.ConstLanes(vUnitQ4, [4]uint32{f32bits(q[4]), f32bits(q[5]), f32bits(q[6]), f32bits(q[7])})
}

// log1pUnit returns the register of s (two scratch registers) that holds log(1 + u) for u in
// [0, 1] (NaN stays NaN): asm/exp.go's log1pUnit, the same operations in the same order (Horner
// with fused multiply-adds, then (Q·u)·u + u fused). u is left unchanged.
func (f *neonFile) log1pUnit(u neon.Reg, s [2]neon.Reg) (d neon.Reg) {
	y, y2 := s[0], s[1]
	f.DupLane(y, vUnitQ4, 3)  // y = q7
	for i := 6; i >= 0; i-- { // y = q_i + y·u
		f.DupLane(y2, []neon.Reg{vUnitQ0, vUnitQ4}[i/4], i%4)
		f.Fmla(y2, y, u)
		y, y2 = y2, y
	}
	f.Fmul(y, y, u) // Q·u
	f.Mov(y2, u)
	f.Fmla(y2, y, u) // u + (Q·u)·u
	return y2
}

// log1p returns the register of s (seven scratch registers) that holds log(1 + u), for u >= 0
// (NaN stays NaN, +Inf gives +Inf): asm/exp.go's log1p, the same operations in the same order. u
// is left unchanged.
func (f *neonFile) log1p(u neon.Reg, s [7]neon.Reg) (d neon.Reg) {
	w, a, b, cw, z, y, y2 := s[0], s[1], s[2], s[3], s[4], s[5], s[6]
	f.Fadd(w, u, vLogOne) // w = 1 + u
	f.Fmax(a, u, vLogOne)
	f.Fmin(b, u, vLogOne)
	f.Fsub(cw, w, a)        // Fast2Sum: cw = small − (w − big), the rounding error of w
	f.Fsub(cw, b, cw)       //
	f.Fdiv(cw, cw, w)       // cw / w
	f.SubS(a, w, vLogSqrtH) // k = exponent of w, offset by √½
	f.Sshr(a, a, 23)
	f.Shl(b, a, 23)
	f.SubS(b, w, b)                  // f = w / 2^k in [√½, √2)
	f.Scvtf(a, a)                    // k as a float
	f.Fsub(b, b, vLogOne)            // f − 1
	f.Fmul(z, b, b)                  // z = f²
	f.DupLane(y, vLogP0, 0)          // y = P0
	for i := 1; i < len(logP); i++ { // y = P_i + f·y
		c := []neon.Reg{vLogP0, vLogP4, vLogK}[i/4]
		f.DupLane(y2, c, i%4)
		f.Fmla(y2, b, y)
		y, y2 = y2, y
	}
	f.Fmul(y, y, b)
	f.Fmul(y, y, z)
	f.FmlaLane(y, a, vLogK, 1) // + k·ln2 lo
	f.DupLane(y2, vLogK, 2)
	f.Fmls(y, z, y2) // − z/2
	f.Fadd(y, y, cw)
	f.Fadd(y, y, b)
	f.FmlaLane(y, a, vLogK, 3) // + k·ln2 hi
	f.Fcmeq(w, u, vLogInf)     // log1p(+Inf) = +Inf
	f.Bit(y, vLogInf, w)
	return y
}

// genSigmoidNEON emits log1pfNEON, log1pUnitfNEON and the Sigmoid kernels.
func genSigmoidNEON(f *neonFile) {
	// log1pfNEON, for the log1p test.
	f.Text("log1pfNEON", []string{"dst []float32", "x []float32"}, nil,
		"sets dst[i] = log(1 + x[i]) for x[i] >= 0, len(dst) == len(x) a multiple of 4.")
	f.LdArg("dst", "R0")
	f.LdArg("x", "R1")
	f.LdLen("x", "R2")
	f.log1pConstsNEON()
	f.Label("loop")
	f.Op("CMP $4, R2")
	f.Op("BLT done")
	f.Op("VLD1.P 16(R1), [V0.S4]")
	d := f.log1p(0, [7]neon.Reg{1, 2, 3, 4, 5, 6, 7})
	f.Op("VST1.P [V%d.S4], 16(R0)", d)
	f.Op("SUB $4, R2")
	f.Op("B loop")
	f.Label("done")
	f.Op("RET")

	// log1pUnitfNEON, for the log1pUnit tests.
	f.Text("log1pUnitfNEON", []string{"dst []float32", "x []float32"}, nil,
		"sets dst[i] = log(1 + x[i]) for x[i] in [0, 1], len(dst) == len(x) a multiple of 4.")
	f.LdArg("dst", "R0")
	f.LdArg("x", "R1")
	f.LdLen("x", "R2")
	f.log1pUnitConstsNEON()
	f.Label("loop")
	f.Op("CMP $4, R2")
	f.Op("BLT done")
	f.Op("VLD1.P 16(R1), [V0.S4]")
	d = f.log1pUnit(0, [2]neon.Reg{1, 2})
	f.Op("VST1.P [V%d.S4], 16(R0)", d)
	f.Op("SUB $4, R2")
	f.Op("B loop")
	f.Label("done")
	f.Op("RET")

	for _, kind := range []sigKind{sigLoss, sigLSE, sigGrad, sigLossGrad} {
		genSigNEON(f, kind)
	}
}

func genSigNEON(f *neonFile, kind sigKind) {
	fl := []string{"x []float32"}
	var name string
	switch kind {
	case sigLoss:
		name = "sigLossNEON"
		f.Text(name, []string{"loss []float32", fl[0], "t []int32", "eps float32", "fill float32"}, nil,
			"sets loss[i] to the sigmoid cross-entropy of the logit x[i] with target t[i] (0 or 1) and label",
			"smoothing eps: fill where t[i] < 0, NaN where x[i] is not finite; len(t) is a multiple of 4.")
		f.LdArg("loss", "R0")
	case sigLSE:
		name = "sigLSENEON"
		f.Text(name, []string{"dst []float32", fl[0]}, nil,
			"sets dst[i] = softplus(x[i]) = log(1 + e^x[i]), NaN where x[i] is not finite; len(dst) is a multiple of 4.")
		f.LdArg("dst", "R0")
		f.LdLen("dst", "R3")
	case sigGrad:
		name = "sigGradNEON"
		f.Text(name, []string{"g []float32", fl[0], "t []int32", "scale []float32", "eps float32"}, nil,
			"sets g[i] = scale[i]·(σ(x[i]) − y'), y' = (1−eps)·t[i] + eps/2, where t[i] >= 0 and scale[i] != 0,",
			"and 0 elsewhere; len(t) is a multiple of 4. g may be x.")
		f.LdArg("g", "R4")
		f.LdArg("scale", "R5")
	case sigLossGrad:
		name = "sigLossGradNEON"
		f.Text(name, []string{"loss []float32", "g []float32", fl[0], "t []int32", "eps float32", "fill float32", "s0 float32"}, nil,
			"is sigLossNEON that also sets g[i] = s0·(σ(x[i]) − y') where t[i] >= 0 and 0 elsewhere; g may be x.")
		f.LdArg("loss", "R0")
		f.LdArg("g", "R4")
	}
	loss, grad, targets := kind != sigGrad, kind == sigGrad || kind == sigLossGrad, kind != sigLSE
	f.LdArg("x", "R1")
	if targets {
		f.LdArg("t", "R2")
		f.LdLen("t", "R3")
	}
	f.expConstsNEON()
	if loss {
		f.log1pUnitConstsNEON()
	}
	if grad {
		f.ConstF32(vLogOne, 1)
	}
	f.Zero(vSigZero)
	f.ConstU32(vSigSign, 0x80000000)
	if kind == sigLoss || kind == sigLossGrad {
		f.LdF("fill", vSigFill)
		f.DupLane(vSigFill, vSigFill, 0)
		f.LdF("eps", vSigEps)
		f.DupLane(vSigEps, vSigEps, 0)
		f.ConstF32(vSigHalf, 0.5)
	}
	if grad {
		f.Comment("he = ε/2")
		f.LdF("eps", vSigHe)
		f.DupLane(vSigHe, vSigHe, 0)
		f.ConstF32(13, 0.5)
		f.Fmul(vSigHe, vSigHe, 13)
	}
	if kind == sigLossGrad {
		f.LdF("s0", vSigS0)
		f.DupLane(vSigS0, vSigS0, 0)
	}

	// Data: V0 z, V1 t, V2 d, V3 acc, V4 −|z| (the exp's argument, overwritten), V5 e, V6–V8
	// scratch, V13 the scale or a mask.
	const z, tv, d, acc, na, e neon.Reg = 0, 1, 2, 3, 4, 5
	scratch := [3]neon.Reg{6, 7, 8}
	body := func(smooth bool) {
		f.Op("VLD1.P 16(R1), [V%d.S4]", z)
		if targets {
			f.Op("VLD1.P 16(R2), [V%d.S4]", tv)
			f.Shl(d, tv, 31) // the target's bit 0 in the sign bit
			f.Eor(d, z, d)   // d = z for a negative, −z for a positive
		} else {
			f.Mov(d, z)
		}
		f.Orr(na, z, vSigSign) // −|z| = −|d|
		if loss {
			f.Fmax(acc, d, vSigZero) // max(d, 0)
			f.Fmla(acc, vSigZero, z) // + 0·z: NaN for a NaN or ±Inf logit
			if smooth {
				f.Fmul(13, d, vSigEps)
				f.Fmls(acc, 13, vSigHalf) // − (ε·d)/2
			}
		}
		f.exp(na, e, scratch[0], scratch[1], scratch[2])
		if grad {
			w, r, er := scratch[0], scratch[1], scratch[2]
			f.Fadd(w, e, vLogOne)
			f.Fdiv(r, vLogOne, w) // r = 1/(1 + e) = σ(|d|)
			f.Fmul(er, e, r)      // e·r = σ(−|d|)
			f.Sshr(w, d, 31)      // d < 0
			f.Bit(r, er, w)       // σ(d)
			f.Fsub(r, r, vSigHe)  // σ(d) − ε/2
			f.Shl(w, tv, 31)
			f.Eor(r, r, w) // negated for a positive
			if kind == sigGrad {
				f.Op("VLD1.P 16(R5), [V13.S4]")
				f.Fmul(r, r, 13)
				f.Fcmeq(13, 13, vSigZero) // scale == ±0
				f.Sshr(w, tv, 31)         // t < 0
				f.Orr(13, 13, w)
				f.Bic(r, r, 13)
			} else {
				f.Fmul(r, r, vSigS0)
				f.Sshr(w, tv, 31)
				f.Bic(r, r, w)
			}
			f.Op("VST1.P [V%d.S4], 16(R4)", r)
		}
		if loss {
			l1 := f.log1pUnit(e, [2]neon.Reg{scratch[0], scratch[1]})
			f.Fadd(acc, acc, l1)
			if kind != sigLSE {
				f.Sshr(13, tv, 31)
				f.Bit(acc, vSigFill, 13) // fill where t < 0
			}
			f.Op("VST1.P [V%d.S4], 16(R0)", acc)
		}
	}
	loop := func(pfx string, smooth bool) {
		f.Label(pfx + "loop")
		f.Op("CMP $4, R3")
		f.Op("BLT done")
		mark := f.Count()
		body(smooth)
		f.Op("SUB $4, R3")
		f.Op("B %sloop", pfx)
		f.LoopNote(mark, 4)
	}
	if kind == sigLoss || kind == sigLossGrad {
		f.Comment("without smoothing (ε = ±0) the loop leaves out its two instructions")
		f.LdW("eps", "R6")
		f.Op("LSLW $1, R6")
		f.Op("CBNZW R6, smoothloop")
		loop("plain", false)
		loop("smooth", true)
	} else {
		loop("", false)
	}
	f.Label("done")
	f.Op("RET")
}
