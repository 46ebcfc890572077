package neon

import "math"

// The instructions a File emits besides Op: the frame access of the current kernel, then the vector
// instructions, destination first as in the Arm manual (Go's assembler wants it last): Fsub(d, a,
// b) is d = a − b. Lanes are 4 float32 or 4 int32 unless a name or comment says otherwise; the
// bitwise ones work on all 128 bits. Those Go's assembler knows are written in its syntax, the
// others as WORDs from the encoder (enc.go). Registers out of range panic.

// LdArg loads the parameter name (a slice's base, a pointer or an int) into r.
func (f *File) LdArg(name, r string) { f.Op("MOVD %s, %s", f.FP(name), r) }

// LdLen loads the length of the slice parameter name into r.
func (f *File) LdLen(name, r string) { f.Op("MOVD %s, %s", f.FP(name+".len"), r) }

// LdW loads the 32-bit parameter name into r.
func (f *File) LdW(name, r string) { f.Op("MOVW %s, %s", f.FP(name), r) }

// LdF loads the float32 parameter name into lane 0 of v.
func (f *File) LdF(name string, v Reg) { f.Op("FMOVS %s, F%d", f.FP(name), v) }

// Ret stores r to the 64-bit result name.
func (f *File) Ret(name, r string) { f.Op("MOVD %s, %s", r, f.FP(name)) }

// RetW stores r to the 32-bit result name.
func (f *File) RetW(name, r string) { f.Op("MOVW %s, %s", r, f.FP(name)) }

// Fmla is d += n·m, fused.
func (f *File) Fmla(d, n, m Reg) { f.Op("VFMLA V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// Fmls is d −= n·m, fused.
func (f *File) Fmls(d, n, m Reg) { f.Op("VFMLS V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// And is d = n & m.
func (f *File) And(d, n, m Reg) { f.Op("VAND V%d.B16, V%d.B16, V%d.B16", m, n, d) }

// Orr is d = n | m.
func (f *File) Orr(d, n, m Reg) { f.Op("VORR V%d.B16, V%d.B16, V%d.B16", m, n, d) }

// Eor is d = n ^ m.
func (f *File) Eor(d, n, m Reg) { f.Op("VEOR V%d.B16, V%d.B16, V%d.B16", m, n, d) }

// Mov is d = n.
func (f *File) Mov(d, n Reg) { f.Op("VORR V%d.B16, V%d.B16, V%d.B16", n, n, d) }

// Bit is d = m ? n : d, bitwise.
func (f *File) Bit(d, n, m Reg) { f.Op("VBIT V%d.B16, V%d.B16, V%d.B16", m, n, d) }

// AddS is d = n + m on int32 lanes.
func (f *File) AddS(d, n, m Reg) { f.Op("VADD V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// SubS is d = n − m on int32 lanes.
func (f *File) SubS(d, n, m Reg) { f.Op("VSUB V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// Cmeq sets d's int32 lanes to all ones where n == m, else 0.
func (f *File) Cmeq(d, n, m Reg) { f.Op("VCMEQ V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// Shl is d = n << s on 32-bit lanes.
func (f *File) Shl(d, n Reg, s int) { f.Op("VSHL $%d, V%d.S4, V%d.S4", s, n, d) }

// DupR puts the low 32 bits of the general register r in every lane of d.
func (f *File) DupR(d Reg, r string) { f.Op("VDUP %s, V%d.S4", r, d) }

// DupLane puts lane of n in every lane of d.
func (f *File) DupLane(d, n Reg, lane int) { f.Op("VDUP V%d.S[%d], V%d.S4", n, lane, d) }

// Zero clears d.
func (f *File) Zero(d Reg) { f.Op("VEOR V%d.B16, V%d.B16, V%d.B16", d, d, d) }

// Addv leaves the sum of n's int32 lanes in lane 0 of d.
func (f *File) Addv(d, n Reg) { f.Op("VADDV V%d.S4, V%d", n, d) }

// ToR moves lane 0 of v to r (zero-extended: a negative int32 needs a sign extension).
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

// Fadd is d = n + m.
func (f *File) Fadd(d, n, m Reg) { f.word(fadd(d, n, m)) }

// Fsub is d = n − m.
func (f *File) Fsub(d, n, m Reg) { f.word(fsub(d, n, m)) }

// Fmul is d = n·m.
func (f *File) Fmul(d, n, m Reg) { f.word(fmul(d, n, m)) }

// Fdiv is d = n/m.
func (f *File) Fdiv(d, n, m Reg) { f.word(fdiv(d, n, m)) }

// Fmax is d = max(n, m), NaN if either is.
func (f *File) Fmax(d, n, m Reg) { f.word(fmax(d, n, m)) }

// Fmin is d = min(n, m), NaN if either is.
func (f *File) Fmin(d, n, m Reg) { f.word(fmin(d, n, m)) }

// Fcmge sets d's lanes to all ones where n >= m, else 0 (false for NaN).
func (f *File) Fcmge(d, n, m Reg) { f.word(fcmge(d, n, m)) }

// Fcmgt sets d's lanes to all ones where n > m, else 0 (false for NaN).
func (f *File) Fcmgt(d, n, m Reg) { f.word(fcmgt(d, n, m)) }

// Fcmeq sets d's lanes to all ones where n == m, else 0 (false for NaN).
func (f *File) Fcmeq(d, n, m Reg) { f.word(fcmeq(d, n, m)) }

// Faddp adds adjacent lanes: d = n0+n1, n2+n3, m0+m1, m2+m3.
func (f *File) Faddp(d, n, m Reg) { f.word(faddp(d, n, m)) }

// Fadd2d is d = n + m on 2 float64 lanes.
func (f *File) Fadd2d(d, n, m Reg) { f.word(fadd2d(d, n, m)) }

// Smax is d = max(n, m) on int32 lanes.
func (f *File) Smax(d, n, m Reg) { f.word(smax(d, n, m)) }

// Cmgt sets d's int32 lanes to all ones where n > m (signed), else 0.
func (f *File) Cmgt(d, n, m Reg) { f.word(cmgt(d, n, m)) }

// Cmge sets d's int32 lanes to all ones where n >= m (signed), else 0.
func (f *File) Cmge(d, n, m Reg) { f.word(cmge(d, n, m)) }

// Bic is d = n &^ m.
func (f *File) Bic(d, n, m Reg) { f.word(bic(d, n, m)) }

// Frintn rounds n to integral values, ties to even.
func (f *File) Frintn(d, n Reg) { f.word(frintn(d, n)) }

// Fcvtzs converts n to int32, rounding toward zero.
func (f *File) Fcvtzs(d, n Reg) { f.word(fcvtzs(d, n)) }

// Fcvtns converts n to int32, rounding to nearest, ties to even.
func (f *File) Fcvtns(d, n Reg) { f.word(fcvtns(d, n)) }

// Scvtf converts n's int32 lanes to float32.
func (f *File) Scvtf(d, n Reg) { f.word(scvtf(d, n)) }

// Fabs is d = |n|.
func (f *File) Fabs(d, n Reg) { f.word(fabs(d, n)) }

// Fneg is d = −n.
func (f *File) Fneg(d, n Reg) { f.word(fneg(d, n)) }

// Fcvtl widens the low two float32 lanes of n to the two float64 lanes of d.
func (f *File) Fcvtl(d, n Reg) { f.word(fcvtl(d, n)) }

// Fcvtl2 widens the high two float32 lanes of n to the two float64 lanes of d.
func (f *File) Fcvtl2(d, n Reg) { f.word(fcvtl2(d, n)) }

// Fmaxv leaves the largest lane of n (NaN if any is) in lane 0 of d, the rest of d cleared.
func (f *File) Fmaxv(d, n Reg) { f.word(fmaxv(d, n)) }

// Smaxv leaves the largest int32 lane of n in lane 0 of d, the rest of d cleared.
func (f *File) Smaxv(d, n Reg) { f.word(smaxv(d, n)) }

// FaddpD leaves the sum of n's two float64 lanes in the low one of d, the rest of d cleared.
func (f *File) FaddpD(d, n Reg) { f.word(faddpD(d, n)) }

// Sshr is d = n >> shift on int32 lanes, arithmetic, shift in 1..32.
func (f *File) Sshr(d, n Reg, shift int) { f.word(sshr(d, n, shift)) }

// FmlaLane is d += n·m[lane], fused.
func (f *File) FmlaLane(d, n, m Reg, lane int) { f.word(fmlaLane(d, n, m, lane)) }

// FmulLane is d = n·m[lane].
func (f *File) FmulLane(d, n, m Reg, lane int) { f.word(fmulLane(d, n, m, lane)) }
