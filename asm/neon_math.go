package main

import (
	"math"

	"github.com/ohem-go/ohem/asm/neon"
)

// Registers the exp sequence reads, loaded once per kernel by expConstsNEON: the constants of
// the scheme packed four to a register, so that FMLA by element and DUP by element reach them
// and the kernels keep 28 registers for data.
const (
	vExpMagic  neon.Reg = 28 // 1.5·2^23 + 127 in every lane
	vExpK2     neon.Reg = 29 // c4, c3, c2, c1
	vExpK1     neon.Reg = 30 // log2e, −ln2 (high part), −ln2 (low part), c5
	vExpCutoff neon.Reg = 31 // ln of the smallest normal float32 in every lane
)

func f32bits(v float32) uint32 { return math.Float32bits(v) }

// expConstsNEON loads the registers above.
func (f *neonFile) expConstsNEON() {
	f.Comment("exp constants: V30 = log2e, −ln2 hi, −ln2 lo, c5; V29 = c4..c1; V28 magic bias; V31 cut-off")
	f.ConstLanes(vExpK1, [4]uint32{f32bits(0x1.715476p+0), f32bits(-0x1.62E400p-1), f32bits(-0x1.7F7D1Cp-20), f32bits(0x1.0F9F9Cp-7)})
	f.ConstLanes(vExpK2, [4]uint32{f32bits(0x1.573A1Ap-5), f32bits(0x1.555A80p-3), f32bits(0x1.FFFDC6p-2), f32bits(0x1.FFFFF6p-1)})
	f.ConstF32(vExpMagic, 0x1.8000FEp23)
	f.ConstF32(vExpCutoff, -0x1.5D589Ep6)
}

// exp sets d = e^x for x <= 0 (NaN stays NaN), the rr2_p5 scheme of the amd64 AVX2 kernels with
// the same operations in the same order, so the results are the same bits: n = round(x·log2e)
// by the magic bias, s = 2^n from its bits, r = x − n·ln2 in two parts, e^x = s + (r·s)·p(r) with
// the degree-5 polynomial, flushed to 0 below the cut-off. x is overwritten (it becomes r); n, p
// and m are scratch; all five registers differ. 18 instructions (the AVX2 sequence is 17).
func (f *neonFile) exp(x, d, n, p, m neon.Reg) {
	f.Fcmgt(m, vExpCutoff, x) // m = x < cut-off (false for NaN)
	f.Mov(n, vExpMagic)
	f.FmlaLane(n, x, vExpK1, 0) // n = magic + x·log2e
	f.Shl(d, n, 23)             // d = s = 2^n
	f.Fsub(n, n, vExpMagic)     // n = round(x·log2e)
	f.FmlaLane(x, n, vExpK1, 1) // r = x − n·ln2hi
	f.FmlaLane(x, n, vExpK1, 2) // r −= n·ln2lo
	f.DupLane(p, vExpK2, 0)
	f.FmlaLane(p, x, vExpK1, 3) // p = c4 + r·c5
	f.DupLane(n, vExpK2, 1)
	f.Fmla(n, p, x) // c3 + r·p
	f.DupLane(p, vExpK2, 2)
	f.Fmla(p, n, x) // c2 + r·p
	f.DupLane(n, vExpK2, 3)
	f.Fmla(n, p, x) // p = c1 + r·p
	f.Fmul(x, x, d) // r·s
	f.Fmla(d, x, n) // e^x = s + (r·s)·p
	f.Bic(d, d, m)  // 0 below the cut-off
}

// genMathNEON emits expf over whole vectors, for the exhaustive test.
func genMathNEON(f *neonFile) {
	f.Text("expfNEON", []string{"dst []float32", "x []float32"}, nil,
		"sets dst[i] = e^x[i] for x[i] <= 0, len(dst) == len(x) a multiple of 4.")
	f.LdArg("dst", "R0")
	f.LdArg("x", "R1")
	f.LdLen("x", "R2")
	f.expConstsNEON()
	f.Label("loop")
	f.Op("CMP $4, R2")
	f.Op("BLT done")
	f.Op("VLD1.P 16(R1), [V0.S4]")
	f.exp(0, 1, 2, 3, 4)
	f.Op("VST1.P [V1.S4], 16(R0)")
	f.Op("SUB $4, R2")
	f.Op("B loop")
	f.Label("done")
	f.Op("RET")
}
