package main

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
	vLogOne   vreg = 27 // 1 in every lane
	vLogSqrtH vreg = 26 // the bits of √½ in every lane
	vLogInf   vreg = 25 // +Inf in every lane
	vLogP0    vreg = 24 // P0..P3 of the Cephes polynomial
	vLogP4    vreg = 23 // P4..P7
	vLogK     vreg = 22 // P8, ln2 (low part), ½, ln2 (high part)
)

// The log1pUnit constants, loaded by log1pUnitConstsNEON: asm/exp.go's log1pUnitQ.
const (
	vUnitQ0 vreg = 23 // q0..q3
	vUnitQ4 vreg = 22 // q4..q7
)

// The kernel constants of the Sigmoid kernels.
const (
	vSigZero vreg = 14
	vSigSign vreg = 15 // the sign bit in every lane
	vSigFill vreg = 16
	vSigEps  vreg = 17
	vSigHalf vreg = 18
	vSigHe   vreg = 19 // ε/2, the gradient's smoothing
	vSigS0   vreg = 20 // the fused kernel's scale
)

// logP are the coefficients of log1p's polynomial (asm/exp.go's loadLogConsts).
var logP = [9]float32{7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
	1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1}

func (f *neonFile) log1pConstsNEON() {
	f.comment("log1p constants: V27 = 1, V26 = √½ bits, V25 = +Inf, V24 = P0..P3, V23 = P4..P7, V22 = P8, ln2 lo, ½, ln2 hi")
	f.constF32(vLogOne, 1)
	f.constU32(vLogSqrtH, 0x3f3504f3)
	f.constU32(vLogInf, 0x7f800000)
	f.constLanes(vLogP0, [4]uint32{f32bits(logP[0]), f32bits(logP[1]), f32bits(logP[2]), f32bits(logP[3])})
	f.constLanes(vLogP4, [4]uint32{f32bits(logP[4]), f32bits(logP[5]), f32bits(logP[6]), f32bits(logP[7])})
	f.constLanes(vLogK, [4]uint32{f32bits(logP[8]), f32bits(-2.12194440e-4), f32bits(0.5), f32bits(0.693359375)})
}

func (f *neonFile) log1pUnitConstsNEON() {
	f.comment("log1pUnit constants: V23 = q0..q3, V22 = q4..q7")
	q := log1pUnitQ
	f.constLanes(vUnitQ0, [4]uint32{f32bits(q[0]), f32bits(q[1]), f32bits(q[2]), f32bits(q[3])})
	f.constLanes(vUnitQ4, [4]uint32{f32bits(q[4]), f32bits(q[5]), f32bits(q[6]), f32bits(q[7])})
}

// log1pUnit returns the register of s (two scratch registers) that holds log(1 + u) for u in
// [0, 1] (NaN stays NaN): asm/exp.go's log1pUnit, the same operations in the same order (Horner
// with fused multiply-adds, then (Q·u)·u + u fused). u is left unchanged.
func (f *neonFile) log1pUnit(u vreg, s [2]vreg) (d vreg) {
	y, y2 := s[0], s[1]
	f.dupLane(y, vUnitQ4, 3)  // y = q7
	for i := 6; i >= 0; i-- { // y = q_i + y·u
		f.dupLane(y2, []vreg{vUnitQ0, vUnitQ4}[i/4], i%4)
		f.fmla(y2, y, u)
		y, y2 = y2, y
	}
	f.w(fmul(y, y, u)) // Q·u
	f.mov(y2, u)
	f.fmla(y2, y, u) // u + (Q·u)·u
	return y2
}

// log1p returns the register of s (seven scratch registers) that holds log(1 + u), for u >= 0
// (NaN stays NaN, +Inf gives +Inf): asm/exp.go's log1p, the same operations in the same order. u
// is left unchanged.
func (f *neonFile) log1p(u vreg, s [7]vreg) (d vreg) {
	w, a, b, cw, z, y, y2 := s[0], s[1], s[2], s[3], s[4], s[5], s[6]
	f.w(fadd(w, u, vLogOne)) // w = 1 + u
	f.w(fmax(a, u, vLogOne))
	f.w(fmin(b, u, vLogOne))
	f.w(fsub(cw, w, a))     // Fast2Sum: cw = small − (w − big), the rounding error of w
	f.w(fsub(cw, b, cw))    //
	f.w(fdiv(cw, cw, w))    // cw / w
	f.subS(a, w, vLogSqrtH) // k = exponent of w, offset by √½
	f.w(sshr(a, a, 23))
	f.shl(b, a, 23)
	f.subS(b, w, b)                  // f = w / 2^k in [√½, √2)
	f.w(scvtf(a, a))                 // k as a float
	f.w(fsub(b, b, vLogOne))         // f − 1
	f.w(fmul(z, b, b))               // z = f²
	f.dupLane(y, vLogP0, 0)          // y = P0
	for i := 1; i < len(logP); i++ { // y = P_i + f·y
		c := []vreg{vLogP0, vLogP4, vLogK}[i/4]
		f.dupLane(y2, c, i%4)
		f.fmla(y2, b, y)
		y, y2 = y2, y
	}
	f.w(fmul(y, y, b))
	f.w(fmul(y, y, z))
	f.w(fmlaLane(y, a, vLogK, 1)) // + k·ln2 lo
	f.dupLane(y2, vLogK, 2)
	f.fmls(y, z, y2) // − z/2
	f.w(fadd(y, y, cw))
	f.w(fadd(y, y, b))
	f.w(fmlaLane(y, a, vLogK, 3)) // + k·ln2 hi
	f.w(fcmeq(w, u, vLogInf))     // log1p(+Inf) = +Inf
	f.bit(y, vLogInf, w)
	return y
}

// genSigmoidNEON emits log1pfNEON, log1pUnitfNEON and the Sigmoid kernels.
func genSigmoidNEON(f *neonFile) {
	// log1pfNEON, for the log1p test.
	f.text("log1pfNEON", []param{{"dst", "[]float32"}, {"x", "[]float32"}}, nil,
		"sets dst[i] = log(1 + x[i]) for x[i] >= 0, len(dst) == len(x) a multiple of 4.")
	f.ldArg("dst", "R0")
	f.ldArg("x", "R1")
	f.ldLen("x", "R2")
	f.log1pConstsNEON()
	f.label("loop")
	f.op("CMP $4, R2")
	f.op("BLT done")
	f.op("VLD1.P 16(R1), [V0.S4]")
	d := f.log1p(0, [7]vreg{1, 2, 3, 4, 5, 6, 7})
	f.op("VST1.P [V%d.S4], 16(R0)", d)
	f.op("SUB $4, R2")
	f.op("B loop")
	f.label("done")
	f.op("RET")

	// log1pUnitfNEON, for the log1pUnit tests.
	f.text("log1pUnitfNEON", []param{{"dst", "[]float32"}, {"x", "[]float32"}}, nil,
		"sets dst[i] = log(1 + x[i]) for x[i] in [0, 1], len(dst) == len(x) a multiple of 4.")
	f.ldArg("dst", "R0")
	f.ldArg("x", "R1")
	f.ldLen("x", "R2")
	f.log1pUnitConstsNEON()
	f.label("loop")
	f.op("CMP $4, R2")
	f.op("BLT done")
	f.op("VLD1.P 16(R1), [V0.S4]")
	d = f.log1pUnit(0, [2]vreg{1, 2})
	f.op("VST1.P [V%d.S4], 16(R0)", d)
	f.op("SUB $4, R2")
	f.op("B loop")
	f.label("done")
	f.op("RET")

	for _, kind := range []sigKind{sigLoss, sigLSE, sigGrad, sigLossGrad} {
		genSigNEON(f, kind)
	}
}

func genSigNEON(f *neonFile, kind sigKind) {
	fl := []param{{"x", "[]float32"}}
	var name string
	switch kind {
	case sigLoss:
		name = "sigLossNEON"
		f.text(name, []param{{"loss", "[]float32"}, fl[0], {"t", "[]int32"}, {"eps", "float32"}, {"fill", "float32"}}, nil,
			"sets loss[i] to the sigmoid cross-entropy of the logit x[i] with target t[i] (0 or 1) and label",
			"smoothing eps: fill where t[i] < 0, NaN where x[i] is not finite; len(t) is a multiple of 4.")
		f.ldArg("loss", "R0")
	case sigLSE:
		name = "sigLSENEON"
		f.text(name, []param{{"dst", "[]float32"}, fl[0]}, nil,
			"sets dst[i] = softplus(x[i]) = log(1 + e^x[i]), NaN where x[i] is not finite; len(dst) is a multiple of 4.")
		f.ldArg("dst", "R0")
		f.ldLen("dst", "R3")
	case sigGrad:
		name = "sigGradNEON"
		f.text(name, []param{{"g", "[]float32"}, fl[0], {"t", "[]int32"}, {"scale", "[]float32"}, {"eps", "float32"}}, nil,
			"sets g[i] = scale[i]·(σ(x[i]) − y'), y' = (1−eps)·t[i] + eps/2, where t[i] >= 0 and scale[i] != 0,",
			"and 0 elsewhere; len(t) is a multiple of 4. g may be x.")
		f.ldArg("g", "R4")
		f.ldArg("scale", "R5")
	case sigLossGrad:
		name = "sigLossGradNEON"
		f.text(name, []param{{"loss", "[]float32"}, {"g", "[]float32"}, fl[0], {"t", "[]int32"}, {"eps", "float32"}, {"fill", "float32"}, {"s0", "float32"}}, nil,
			"is sigLossNEON that also sets g[i] = s0·(σ(x[i]) − y') where t[i] >= 0 and 0 elsewhere; g may be x.")
		f.ldArg("loss", "R0")
		f.ldArg("g", "R4")
	}
	loss, grad, targets := kind != sigGrad, kind == sigGrad || kind == sigLossGrad, kind != sigLSE
	f.ldArg("x", "R1")
	if targets {
		f.ldArg("t", "R2")
		f.ldLen("t", "R3")
	}
	f.expConstsNEON()
	if loss {
		f.log1pUnitConstsNEON()
	}
	if grad {
		f.constF32(vLogOne, 1)
	}
	f.zero(vSigZero)
	f.constU32(vSigSign, 0x80000000)
	if kind == sigLoss || kind == sigLossGrad {
		f.ldF("fill", vSigFill)
		f.dupLane(vSigFill, vSigFill, 0)
		f.ldF("eps", vSigEps)
		f.dupLane(vSigEps, vSigEps, 0)
		f.constF32(vSigHalf, 0.5)
	}
	if grad {
		f.comment("he = ε/2")
		f.ldF("eps", vSigHe)
		f.dupLane(vSigHe, vSigHe, 0)
		f.constF32(13, 0.5)
		f.w(fmul(vSigHe, vSigHe, 13))
	}
	if kind == sigLossGrad {
		f.ldF("s0", vSigS0)
		f.dupLane(vSigS0, vSigS0, 0)
	}

	// Data: V0 z, V1 t, V2 d, V3 acc, V4 −|z| (the exp's argument, overwritten), V5 e, V6–V8
	// scratch, V13 the scale or a mask.
	const z, tv, d, acc, na, e vreg = 0, 1, 2, 3, 4, 5
	scratch := [3]vreg{6, 7, 8}
	body := func(smooth bool) {
		f.op("VLD1.P 16(R1), [V%d.S4]", z)
		if targets {
			f.op("VLD1.P 16(R2), [V%d.S4]", tv)
			f.shl(d, tv, 31) // the target's bit 0 in the sign bit
			f.eor(d, z, d)   // d = z for a negative, −z for a positive
		} else {
			f.mov(d, z)
		}
		f.orr(na, z, vSigSign) // −|z| = −|d|
		if loss {
			f.w(fmax(acc, d, vSigZero)) // max(d, 0)
			f.fmla(acc, vSigZero, z)    // + 0·z: NaN for a NaN or ±Inf logit
			if smooth {
				f.w(fmul(13, d, vSigEps))
				f.fmls(acc, 13, vSigHalf) // − (ε·d)/2
			}
		}
		f.exp(na, e, scratch[0], scratch[1], scratch[2])
		if grad {
			w, r, er := scratch[0], scratch[1], scratch[2]
			f.w(fadd(w, e, vLogOne))
			f.w(fdiv(r, vLogOne, w)) // r = 1/(1 + e) = σ(|d|)
			f.w(fmul(er, e, r))      // e·r = σ(−|d|)
			f.w(sshr(w, d, 31))      // d < 0
			f.bit(r, er, w)          // σ(d)
			f.w(fsub(r, r, vSigHe))  // σ(d) − ε/2
			f.shl(w, tv, 31)
			f.eor(r, r, w) // negated for a positive
			if kind == sigGrad {
				f.op("VLD1.P 16(R5), [V13.S4]")
				f.w(fmul(r, r, 13))
				f.w(fcmeq(13, 13, vSigZero)) // scale == ±0
				f.w(sshr(w, tv, 31))         // t < 0
				f.orr(13, 13, w)
				f.w(bic(r, r, 13))
			} else {
				f.w(fmul(r, r, vSigS0))
				f.w(sshr(w, tv, 31))
				f.w(bic(r, r, w))
			}
			f.op("VST1.P [V%d.S4], 16(R4)", r)
		}
		if loss {
			l1 := f.log1pUnit(e, [2]vreg{scratch[0], scratch[1]})
			f.w(fadd(acc, acc, l1))
			if kind != sigLSE {
				f.w(sshr(13, tv, 31))
				f.bit(acc, vSigFill, 13) // fill where t < 0
			}
			f.op("VST1.P [V%d.S4], 16(R0)", acc)
		}
	}
	loop := func(pfx string, smooth bool) {
		f.label(pfx + "loop")
		f.op("CMP $4, R3")
		f.op("BLT done")
		mark := f.count
		body(smooth)
		f.op("SUB $4, R3")
		f.op("B %sloop", pfx)
		f.loopNote(mark, 4)
	}
	if kind == sigLoss || kind == sigLossGrad {
		f.comment("without smoothing (ε = ±0) the loop leaves out its two instructions")
		f.ldW("eps", "R6")
		f.op("LSLW $1, R6")
		f.op("CBNZW R6, smoothloop")
		loop("plain", false)
		loop("smooth", true)
	} else {
		loop("", false)
	}
	f.label("done")
	f.op("RET")
}
