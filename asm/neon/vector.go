package neon

import "math"

// Frame access: loads of the current kernel's parameters into registers, by name (LdLen takes a
// slice's name for its length), and stores of its results.
func (f *File) LdArg(name, r string)   { f.Op("MOVD %s, %s", f.FP(name), r) }
func (f *File) LdLen(name, r string)   { f.Op("MOVD %s, %s", f.FP(name+".len"), r) }
func (f *File) LdW(name, r string)     { f.Op("MOVW %s, %s", f.FP(name), r) }
func (f *File) LdF(name string, v Reg) { f.Op("FMOVS %s, F%d", f.FP(name), v) }
func (f *File) Ret(name, r string)     { f.Op("MOVD %s, %s", r, f.FP(name)) }
func (f *File) RetW(name, r string)    { f.Op("MOVW %s, %s", r, f.FP(name)) }

// Vector instructions Go's assembler knows, destination first (Go's assembler wants it last).
// Lanes are 4 float32 or int32; the bitwise ones work on all 128 bits.
func (f *File) Fmla(d, n, m Reg)     { f.Op("VFMLA V%d.S4, V%d.S4, V%d.S4", m, n, d) } // d += n·m
func (f *File) Fmls(d, n, m Reg)     { f.Op("VFMLS V%d.S4, V%d.S4, V%d.S4", m, n, d) } // d −= n·m
func (f *File) And(d, n, m Reg)      { f.Op("VAND V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (f *File) Orr(d, n, m Reg)      { f.Op("VORR V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (f *File) Eor(d, n, m Reg)      { f.Op("VEOR V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (f *File) Mov(d, n Reg)         { f.Op("VORR V%d.B16, V%d.B16, V%d.B16", n, n, d) }
func (f *File) Bit(d, n, m Reg)      { f.Op("VBIT V%d.B16, V%d.B16, V%d.B16", m, n, d) } // d = m ? n : d, bitwise
func (f *File) AddS(d, n, m Reg)     { f.Op("VADD V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (f *File) SubS(d, n, m Reg)     { f.Op("VSUB V%d.S4, V%d.S4, V%d.S4", m, n, d) } // d = n − m
func (f *File) Cmeq(d, n, m Reg)     { f.Op("VCMEQ V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (f *File) Shl(d, n Reg, s int)  { f.Op("VSHL $%d, V%d.S4, V%d.S4", s, n, d) }
func (f *File) DupR(d Reg, r string) { f.Op("VDUP %s, V%d.S4", r, d) }
func (f *File) DupLane(d, n Reg, lane int) {
	f.Op("VDUP V%d.S[%d], V%d.S4", n, lane, d)
}
func (f *File) Zero(d Reg) { f.Op("VEOR V%d.B16, V%d.B16, V%d.B16", d, d, d) }

// Addv leaves the sum of n's int32 lanes in lane 0 of d.
func (f *File) Addv(d, n Reg) { f.Op("VADDV V%d.S4, V%d", n, d) }

// ToR moves lane 0 (int32, sign-extended by the caller if needed) of v to r.
func (f *File) ToR(r string, v Reg) { f.Op("VMOV V%d.S[0], %s", v, r) }

// ConstU32 broadcasts a 32-bit pattern into d, through R15.
func (f *File) ConstU32(d Reg, bits uint32) {
	f.Op("MOVW $0x%08x, R15", bits)
	f.DupR(d, "R15")
}

// ConstF32 broadcasts v into d, through R15.
func (f *File) ConstF32(d Reg, v float32) { f.ConstU32(d, math.Float32bits(v)) }

// ConstLanes loads four different 32-bit patterns into the lanes of d, through R15.
func (f *File) ConstLanes(d Reg, l [4]uint32) {
	f.Op("MOVD $0x%016x, R15", uint64(l[1])<<32|uint64(l[0]))
	f.Op("VMOV R15, V%d.D[0]", d)
	f.Op("MOVD $0x%016x, R15", uint64(l[3])<<32|uint64(l[2]))
	f.Op("VMOV R15, V%d.D[1]", d)
}

// Vector instructions Go's assembler lacks, written as WORDs by the encoder (enc.go, which says
// what each does), destination first: Fsub(d, a, b) is d = a − b. float32 lanes unless the name
// says otherwise (Fadd2d: float64; Smax, Cmgt, Cmge, Sshr: int32; Bic: bitwise).
func (f *File) Fadd(d, n, m Reg)   { f.word(fadd(d, n, m)) }
func (f *File) Fsub(d, n, m Reg)   { f.word(fsub(d, n, m)) }
func (f *File) Fmul(d, n, m Reg)   { f.word(fmul(d, n, m)) }
func (f *File) Fdiv(d, n, m Reg)   { f.word(fdiv(d, n, m)) }
func (f *File) Fmax(d, n, m Reg)   { f.word(fmax(d, n, m)) }
func (f *File) Fmin(d, n, m Reg)   { f.word(fmin(d, n, m)) }
func (f *File) Fcmge(d, n, m Reg)  { f.word(fcmge(d, n, m)) }
func (f *File) Fcmgt(d, n, m Reg)  { f.word(fcmgt(d, n, m)) }
func (f *File) Fcmeq(d, n, m Reg)  { f.word(fcmeq(d, n, m)) }
func (f *File) Faddp(d, n, m Reg)  { f.word(faddp(d, n, m)) }
func (f *File) Fadd2d(d, n, m Reg) { f.word(fadd2d(d, n, m)) }
func (f *File) Smax(d, n, m Reg)   { f.word(smax(d, n, m)) }
func (f *File) Cmgt(d, n, m Reg)   { f.word(cmgt(d, n, m)) }
func (f *File) Cmge(d, n, m Reg)   { f.word(cmge(d, n, m)) }
func (f *File) Bic(d, n, m Reg)    { f.word(bic(d, n, m)) }
func (f *File) Frintn(d, n Reg)    { f.word(frintn(d, n)) }
func (f *File) Fcvtzs(d, n Reg)    { f.word(fcvtzs(d, n)) }
func (f *File) Fcvtns(d, n Reg)    { f.word(fcvtns(d, n)) }
func (f *File) Scvtf(d, n Reg)     { f.word(scvtf(d, n)) }
func (f *File) Fabs(d, n Reg)      { f.word(fabs(d, n)) }
func (f *File) Fneg(d, n Reg)      { f.word(fneg(d, n)) }
func (f *File) Fcvtl(d, n Reg)     { f.word(fcvtl(d, n)) }
func (f *File) Fcvtl2(d, n Reg)    { f.word(fcvtl2(d, n)) }
func (f *File) Fmaxv(d, n Reg)     { f.word(fmaxv(d, n)) }
func (f *File) Smaxv(d, n Reg)     { f.word(smaxv(d, n)) }
func (f *File) FaddpD(d, n Reg)    { f.word(faddpD(d, n)) }

func (f *File) Sshr(d, n Reg, shift int)       { f.word(sshr(d, n, shift)) }
func (f *File) FmlaLane(d, n, m Reg, lane int) { f.word(fmlaLane(d, n, m, lane)) }
func (f *File) FmulLane(d, n, m Reg, lane int) { f.word(fmulLane(d, n, m, lane)) }
