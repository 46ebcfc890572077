package neon

import "fmt"

// The NEON encoder: the vector instructions Go's arm64 assembler does not know, as 32-bit words
// with their GNU-syntax text, emitted by the File methods of vector.go. ohem_arm64.s carries them
// as `WORD $0x........ // text`; the tests check every encoding against a golden table produced by
// llvm-mc (testdata/neon_golden.txt) and decode every WORD of the generated file with
// golang.org/x/arch/arm64asm.
//
// The encodings follow the Arm A64 instruction set's Advanced SIMD groups: "three same" (Rm in
// bits 16–20, Rn in 5–9, Rd in 0–4), "two-register miscellaneous" and "across lanes" (Rn, Rd),
// "vector × indexed element" (index in H:L, bits 11 and 21) and "shift by immediate" (immh:immb
// in bits 16–22).

// A Reg is one of the 32 vector registers V0–V31.
type Reg int

// An inst is one encoded instruction.
type inst struct {
	word uint32
	text string
}

// arrangement names as GNU syntax writes them
const (
	s4  = "4s"
	d2  = "2d"
	b16 = "16b"
	s2  = "2s"
)

func checkReg(rs ...Reg) {
	for _, r := range rs {
		check(r >= 0 && r < 32, "vector register V%d out of range", r)
	}
}

// threeSame encodes op vd.arr, vn.arr, vm.arr from the op's word with all register fields zero.
func threeSame(base uint32, name, arr string, d, n, m Reg) inst {
	checkReg(d, n, m)
	return inst{base | uint32(m)<<16 | uint32(n)<<5 | uint32(d),
		fmt.Sprintf("%s v%d.%s, v%d.%s, v%d.%s", name, d, arr, n, arr, m, arr)}
}

// twoReg encodes op vd.arrD, vn.arrN (two-register miscellaneous).
func twoReg(base uint32, name, arrD, arrN string, d, n Reg) inst {
	checkReg(d, n)
	return inst{base | uint32(n)<<5 | uint32(d), fmt.Sprintf("%s v%d.%s, v%d.%s", name, d, arrD, n, arrN)}
}

// across encodes a reduction op sd, vn.arr into the scalar register sd (prefix "s" or "d").
func across(base uint32, name, prefix, arr string, d, n Reg) inst {
	checkReg(d, n)
	return inst{base | uint32(n)<<5 | uint32(d), fmt.Sprintf("%s %s%d, v%d.%s", name, prefix, d, n, arr)}
}

// Three same, float32 lanes. Go's operand order is not used here: the destination comes first,
// as in the Arm manual, and fsub(d, a, b) is d = a − b.
func fadd(d, n, m Reg) inst  { return threeSame(0x4e20d400, "fadd", s4, d, n, m) }
func fsub(d, n, m Reg) inst  { return threeSame(0x4ea0d400, "fsub", s4, d, n, m) }
func fmul(d, n, m Reg) inst  { return threeSame(0x6e20dc00, "fmul", s4, d, n, m) }
func fdiv(d, n, m Reg) inst  { return threeSame(0x6e20fc00, "fdiv", s4, d, n, m) }
func fmax(d, n, m Reg) inst  { return threeSame(0x4e20f400, "fmax", s4, d, n, m) }
func fmin(d, n, m Reg) inst  { return threeSame(0x4ea0f400, "fmin", s4, d, n, m) }
func fcmge(d, n, m Reg) inst { return threeSame(0x6e20e400, "fcmge", s4, d, n, m) }
func fcmgt(d, n, m Reg) inst { return threeSame(0x6ea0e400, "fcmgt", s4, d, n, m) }
func fcmeq(d, n, m Reg) inst { return threeSame(0x4e20e400, "fcmeq", s4, d, n, m) }
func faddp(d, n, m Reg) inst { return threeSame(0x6e20d400, "faddp", s4, d, n, m) }

// fadd2d is fadd on float64 lanes.
func fadd2d(d, n, m Reg) inst { return threeSame(0x4e60d400, "fadd", d2, d, n, m) }

// Three same, int32 lanes (signed) and bitwise.
func smax(d, n, m Reg) inst { return threeSame(0x4ea06400, "smax", s4, d, n, m) }
func cmgt(d, n, m Reg) inst { return threeSame(0x4ea03400, "cmgt", s4, d, n, m) }
func cmge(d, n, m Reg) inst { return threeSame(0x4ea03c00, "cmge", s4, d, n, m) }
func bic(d, n, m Reg) inst  { return threeSame(0x4e601c00, "bic", b16, d, n, m) }

// Two-register miscellaneous.
func frintn(d, n Reg) inst { return twoReg(0x4e218800, "frintn", s4, s4, d, n) }
func fcvtzs(d, n Reg) inst { return twoReg(0x4ea1b800, "fcvtzs", s4, s4, d, n) }
func fcvtns(d, n Reg) inst { return twoReg(0x4e21a800, "fcvtns", s4, s4, d, n) }
func scvtf(d, n Reg) inst  { return twoReg(0x4e21d800, "scvtf", s4, s4, d, n) }
func fabs(d, n Reg) inst   { return twoReg(0x4ea0f800, "fabs", s4, s4, d, n) }
func fneg(d, n Reg) inst   { return twoReg(0x6ea0f800, "fneg", s4, s4, d, n) }

// fcvtl widens the low two float32 lanes of n to float64, fcvtl2 the high two.
func fcvtl(d, n Reg) inst  { return twoReg(0x0e617800, "fcvtl", d2, s2, d, n) }
func fcvtl2(d, n Reg) inst { return twoReg(0x4e617800, "fcvtl2", d2, s4, d, n) }

// Across lanes: the largest float32 or int32 lane into lane 0; faddpD adds the two float64 lanes.
func fmaxv(d, n Reg) inst { return across(0x6e30f800, "fmaxv", "s", s4, d, n) }
func smaxv(d, n Reg) inst { return across(0x4eb0a800, "smaxv", "s", s4, d, n) }
func faddpD(d, n Reg) inst {
	return across(0x7e70d800, "faddp", "d", d2, d, n)
}

// sshr is the arithmetic right shift of int32 lanes by 1..32.
func sshr(d, n Reg, shift int) inst {
	checkReg(d, n)
	check(shift >= 1 && shift <= 32, "sshr by %d", shift)
	return inst{0x4f000400 | uint32(64-shift)<<16 | uint32(n)<<5 | uint32(d),
		fmt.Sprintf("sshr v%d.4s, v%d.4s, #%d", d, n, shift)}
}

// fmlaLane is d += n · m[lane] (vector × indexed element, float32).
func fmlaLane(d, n, m Reg, lane int) inst {
	checkReg(d, n, m)
	check(lane >= 0 && lane < 4, "lane %d", lane)
	h, l := uint32(lane>>1), uint32(lane&1)
	return inst{0x4f801000 | l<<21 | uint32(m)<<16 | h<<11 | uint32(n)<<5 | uint32(d),
		fmt.Sprintf("fmla v%d.4s, v%d.4s, v%d.s[%d]", d, n, m, lane)}
}

// fmulLane is d = n · m[lane].
func fmulLane(d, n, m Reg, lane int) inst {
	checkReg(d, n, m)
	check(lane >= 0 && lane < 4, "lane %d", lane)
	h, l := uint32(lane>>1), uint32(lane&1)
	return inst{0x4f809000 | l<<21 | uint32(m)<<16 | h<<11 | uint32(n)<<5 | uint32(d),
		fmt.Sprintf("fmul v%d.4s, v%d.4s, v%d.s[%d]", d, n, m, lane)}
}
