package main

// Row-major cross-entropy and log-sum-exp on NEON.
//
// Large C: one row at a time, a max pass and an exp pass over the row (4 vectors a load; the
// exp pass keeps two float32 accumulators, flushed to float64 every 1,024 elements). The target
// is excluded from the sum by splitting the row into [0, t) and (t, C); a segment's last 1–3
// elements come from a vector loaded to end at the segment's end (or to start at the row's start
// when the segment is shorter than a vector), with the lanes outside the segment masked off. C >= 4,
// so such a vector never leaves the row.
//
// Small C: 4 rows at a time across rows (ceSmallNEON), each class's 4 logits loaded lane by lane.
//
// Both leave per row m, s = Σ_{j≠t} e^{z_j−m}, z_t and (with smoothing) Σ_{j≠t} (z_j − m); Go
// finishes each row (a log per row; ce_arm64.go).

// Registers of the large-C kernels.
const (
	vM      vreg = 26 // the row maximum in every lane
	vK      vreg = 27 // k (spread weight) in every lane
	vSum64  vreg = 24 // float64 sum of e^{x−m}
	vSprd64 vreg = 25 // float64 sum of k·(x − m)
)

// rowsKind (ce.go) names the three large-C kernels.

func genCENEON(f *neonFile) {
	f.text("ceRowsLargeNEON", []param{{"s", "[]float32"}, {"zt", "[]float32"}, {"neg", "[]float32"}, {"mx", "[]float32"},
		{"x", "[]float32"}, {"t", "[]int32"}, {"c", "int"}, {"k", "float32"}}, nil,
		"sets, for each row i of the row-major [len(t)][c] logits x with t[i] >= 0 (c >= 4),",
		"mx[i] = m = max_j x[i][j], s[i] = Σ_{j≠t[i]} e^{x[i][j]−m} and zt[i] = x[i][t[i]];",
		"rows with t[i] < 0 are skipped. neg and k are not used.")
	genRowsNEON(f, rowsCE)
	f.text("ceRowsLargeSpreadNEON", []param{{"s", "[]float32"}, {"zt", "[]float32"}, {"neg", "[]float32"}, {"mx", "[]float32"},
		{"x", "[]float32"}, {"t", "[]int32"}, {"c", "int"}, {"k", "float32"}}, nil,
		"is ceRowsLargeNEON that also sets neg[i] = k·Σ_{j≠t[i]} (x[i][j] − m) (the caller passes k = 1",
		"and scales in float64, where ε/C cannot underflow; −Inf when the sum overflows: it recomputes the row).")
	genRowsNEON(f, rowsCESpread)
	f.text("lseRowsLargeNEON", []param{{"s", "[]float32"}, {"mx", "[]float32"}, {"x", "[]float32"}, {"c", "int"}}, nil,
		"sets, for each of the len(mx) rows of the row-major [len(mx)][c] logits x (c >= 4),",
		"mx[i] = m = max_j x[i][j] and s[i] = Σ_j e^{x[i][j]−m}.")
	genRowsNEON(f, rowsLSE)
	genSmallNEON(f)
}

// genRowsNEON emits the body of a large-C kernel.
//
// R0 s, R1 zt, R2 neg, R3 mx (advanced a row at a time), R4 the row, R5 t, R6 rows left, R7 C,
// R8 t[i], R9 and R10 a segment's pointer and count, R11–R13 scratch, R14 the flush counter.
func genRowsNEON(f *neonFile, kind rowsKind) {
	ce, spread := kind != rowsLSE, kind == rowsCESpread
	f.ldArg("s", "R0")
	f.ldArg("mx", "R3")
	f.ldArg("x", "R4")
	f.ldArg("c", "R7")
	if ce {
		f.ldArg("zt", "R1")
		f.ldArg("neg", "R2")
		f.ldArg("t", "R5")
		f.ldLen("t", "R6")
	} else {
		f.ldLen("mx", "R6")
	}
	if spread {
		f.ldF("k", vK)
		f.dupLane(vK, vK, 0)
	}
	f.expConstsNEON()

	f.label("row")
	f.op("CBZ R6, done")
	if ce {
		f.op("MOVW (R5), R8") // t[i], sign-extended
		f.op("CMP $0, R8")
		f.op("BLT next")
	}

	f.comment("max pass: four accumulators, the last 1–3 elements from a vector ending at the row's end")
	f.op("MOVD R4, R9")
	f.op("MOVD R7, R10")
	f.op("VLD1 (R9), [V16.S4]")
	for a := vreg(17); a < 20; a++ {
		f.mov(a, 16)
	}
	f.label("max16")
	f.op("CMP $16, R10")
	f.op("BLT max4")
	mark := f.count
	f.op("VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]")
	for k := vreg(0); k < 4; k++ {
		f.w(fmax(16+k, 16+k, k))
	}
	f.op("SUB $16, R10")
	f.op("B max16")
	f.loopNote(mark, 16)
	f.label("max4")
	f.op("CMP $4, R10")
	f.op("BLT maxTail")
	f.op("VLD1.P 16(R9), [V0.S4]")
	f.w(fmax(16, 16, 0))
	f.op("SUB $4, R10")
	f.op("B max4")
	f.label("maxTail")
	f.op("CBZ R10, maxDone")
	f.op("ADD R7<<2, R4, R11")
	f.op("SUB $16, R11")
	f.op("VLD1 (R11), [V0.S4]")
	f.w(fmax(16, 16, 0))
	f.label("maxDone")
	f.w(fmax(16, 16, 17))
	f.w(fmax(18, 18, 19))
	f.w(fmax(16, 16, 18))
	f.w(fmaxv(16, 16)) // NaN anywhere gives NaN
	f.dupLane(vM, 16, 0)
	f.op("FMOVS F16, (R3)")

	f.comment("exp pass")
	for _, a := range []vreg{20, 21, 22, 23, vSum64, vSprd64} {
		f.zero(a)
	}
	f.op("MOVD ZR, R14")
	if ce {
		f.op("ADD R8<<2, R4, R11")
		f.op("FMOVS (R11), F0")
		f.op("FMOVS F0, (R1)")
		f.comment("[0, t)")
		f.op("MOVD R4, R9")
		f.op("MOVD R8, R10")
		f.expSegment("a", spread)
		f.comment("(t, C)")
		f.op("ADD $1, R8, R11")
		f.op("ADD R11<<2, R4, R9")
		f.op("SUB R11, R7, R10")
		f.expSegment("b", spread)
	} else {
		f.op("MOVD R4, R9")
		f.op("MOVD R7, R10")
		f.expSegment("a", false)
	}
	f.flush(spread)
	f.comment("s = the float64 sum, rounded once")
	f.w(faddpD(vSum64, vSum64))
	f.op("FMOVD F%d, F0", vSum64)
	f.op("FCVTDS F0, F0")
	f.op("FMOVS F0, (R0)")
	if spread {
		f.w(faddpD(vSprd64, vSprd64))
		f.op("FMOVD F%d, F0", vSprd64)
		f.op("FCVTDS F0, F0")
		f.op("FMOVS F0, (R2)")
	}

	f.label("next")
	f.op("ADD R7<<2, R4, R4")
	for _, r := range []string{"R0", "R3"} {
		f.op("ADD $4, %s", r)
	}
	if ce {
		for _, r := range []string{"R1", "R2", "R5"} {
			f.op("ADD $4, %s", r)
		}
	}
	f.op("SUB $1, R6")
	f.op("B row")
	f.label("done")
	f.op("RET")
}

// flush adds the float32 accumulators V20, V21 (and the spread's V22, V23) to the float64 ones
// and clears them.
func (f *neonFile) flush(spread bool) {
	pairs := [][3]vreg{{20, 21, vSum64}}
	if spread {
		pairs = append(pairs, [3]vreg{22, 23, vSprd64})
	}
	for _, p := range pairs {
		f.w(fadd(p[0], p[0], p[1]))
		f.w(fcvtl(0, p[0]))
		f.w(fcvtl2(1, p[0]))
		f.w(fadd2d(p[2], p[2], 0))
		f.w(fadd2d(p[2], p[2], 1))
		f.zero(p[0])
		f.zero(p[1])
	}
}

// expTerm adds e^{x−m} of V(x) to the accumulator V(20 + a) and, with the spread, k·(x − m) to
// V(22 + a); d, n, p, q are scratch. With mask >= 0, only the lanes set in V(mask) count.
func (f *neonFile) expTerm(x, d, n, p, q vreg, a vreg, spread bool, mask vreg) {
	f.w(fsub(x, x, vM))
	if spread {
		if mask >= 0 {
			f.and(d, x, mask)
			f.fmla(22+a, d, vK)
		} else {
			f.fmla(22+a, x, vK)
		}
	}
	f.exp(x, d, n, p, q)
	if mask >= 0 {
		f.and(d, d, mask)
	}
	f.w(fadd(20+a, 20+a, d))
}

// expSegment sums the R10 elements at R9 (within the row at R4 of R7 elements) into the
// accumulators. Labels start with tag.
func (f *neonFile) expSegment(tag string, spread bool) {
	f.op("ADD R10<<2, R9, R13") // the segment's end
	f.label(tag + "16")
	f.op("CMP $16, R10")
	f.op("BLT %s4", tag)
	f.op("ADD $1, R14")
	f.op("CMP $64, R14")
	f.op("BLT %sBody", tag)
	f.flush(spread)
	f.op("MOVD ZR, R14")
	f.label(tag + "Body")
	mark := f.count
	f.op("VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]")
	for k := vreg(0); k < 4; k++ {
		f.expTerm(k, 4+k, 8+k, 12+k, 16+k, k%2, spread, -1)
	}
	f.op("SUB $16, R10")
	f.op("B %s16", tag)
	f.loopNote(mark, 16)
	f.label(tag + "4")
	f.op("CMP $4, R10")
	f.op("BLT %sTail", tag)
	f.op("VLD1.P 16(R9), [V0.S4]")
	f.expTerm(0, 4, 8, 12, 16, 0, spread, -1)
	f.op("SUB $4, R10")
	f.op("B %s4", tag)
	f.label(tag + "Tail")
	f.op("CBZ R10, %sDone", tag)
	f.comment("the last R10 elements: a vector at q = max(end − 16 bytes, row), lanes in [end − 4·R10, end)")
	f.op("SUB $16, R13, R11")
	f.op("CMP R4, R11")
	f.op("CSEL LT, R4, R11, R11")
	f.op("VLD1 (R11), [V0.S4]")
	f.constLanes(6, [4]uint32{0, 4, 8, 12}) // byte offsets of the lanes
	f.op("SUB R10<<2, R13, R12")
	f.op("SUB R12, R11, R12") // q − (end − 4·R10): lane l counts if l·4 + this >= 0
	f.dupR(7, "R12")
	f.addS(7, 7, 6)
	f.op("SUB R13, R11, R12") // q − end: and if l·4 + this < 0
	f.dupR(9, "R12")
	f.addS(9, 9, 6)
	f.zero(10)
	f.w(cmge(5, 7, 10))
	f.w(cmgt(9, 10, 9))
	f.and(5, 5, 9)
	f.expTerm(0, 4, 8, 12, 16, 0, spread, 5)
	f.label(tag + "Done")
}

// genSmallNEON emits ceSmallNEON: 4 rows a vector, each class's 4 logits loaded lane by lane
// from the 4 rows (a max pass, then an exp pass that picks the target's logit by comparing the
// class index with the targets).
//
// R0 s, R1 zt, R2 neg, R3 mx, R4 the group's first row, R5 t, R6 rows left, R7 C, R8 4·C,
// R9–R12 the 4 rows' pointers, R13 the class counter. V16 the maxima, V17 the targets, V18 the
// class index, V19 ones, V20 the sum, V21 z_t, V22 the spread, V27 k, V28–V31 exp.
func genSmallNEON(f *neonFile) {
	f.text("ceSmallNEON", []param{{"s", "[]float32"}, {"zt", "[]float32"}, {"neg", "[]float32"}, {"mx", "[]float32"},
		{"x", "[]float32"}, {"t", "[]int32"}, {"c", "int"}, {"k", "float32"}}, nil,
		"sets, for every row i of the row-major [len(t)][c] logits x (len(t) a multiple of 4, c >= 1),",
		"mx[i] = m = max_j x[i][j], s[i] = Σ_{j≠t[i]} e^{x[i][j]−m}, zt[i] = x[i][t[i]] and",
		"neg[i] = k·Σ_{j≠t[i]} (x[i][j] − m). A row with t[i] < 0 matches no class: s[i] and neg[i]",
		"then sum every class (lseRowsNEON relies on it), and zt[i] is not meaningful.")
	f.ldArg("s", "R0")
	f.ldArg("zt", "R1")
	f.ldArg("neg", "R2")
	f.ldArg("mx", "R3")
	f.ldArg("x", "R4")
	f.ldArg("t", "R5")
	f.ldLen("t", "R6")
	f.ldArg("c", "R7")
	f.op("LSL $2, R7, R8")
	f.ldF("k", vK)
	f.dupLane(vK, vK, 0)
	f.op("MOVW $1, R13")
	f.dupR(19, "R13")
	f.expConstsNEON()
	rows := []string{"R9", "R10", "R11", "R12"}
	// load4 loads class j of the 4 rows into lane l of v and advances the row pointers.
	load4 := func(v vreg) {
		for l, r := range rows {
			f.op("VLD1.P 4(%s), V%d.S[%d]", r, v, l)
		}
	}
	setRows := func() {
		f.op("MOVD R4, R9")
		f.op("ADD R8, R9, R10")
		f.op("ADD R8, R10, R11")
		f.op("ADD R8, R11, R12")
	}
	f.label("group")
	f.op("CBZ R6, done")
	f.comment("max pass")
	setRows()
	load4(16)
	f.op("SUB $1, R7, R13")
	f.label("max")
	f.op("CBZ R13, maxDone")
	mark := f.count
	load4(0)
	f.w(fmax(16, 16, 0))
	f.op("SUB $1, R13")
	f.op("B max")
	f.loopNote(mark, 4)
	f.label("maxDone")
	f.comment("exp pass")
	setRows()
	f.op("VLD1 (R5), [V17.S4]")
	f.columnExpPass(load4)
}

// columnExpPass emits the exp pass and the group's end shared by the across-rows kernels
// (ceSmallNEON, ceTiledNEON): class by class, load(v) puts the class's 4 logits in v, one row a
// lane; s, z_t and the spread accumulate, the group's results are stored and the loop goes on to
// the next group. Registers as in genSmallNEON; R13 counts the classes.
func (f *neonFile) columnExpPass(load func(v vreg)) {
	for _, v := range []vreg{18, 20, 21, 22} {
		f.zero(v)
	}
	f.op("MOVD R7, R13")
	f.label("exp")
	f.op("CBZ R13, expDone")
	mark := f.count
	load(0)
	f.cmeq(5, 18, 17)   // the target's lanes
	f.bit(21, 0, 5)     // z_t
	f.w(fsub(0, 0, 16)) // x − m
	f.w(bic(6, 0, 5))
	f.fmla(22, 6, vK)
	f.exp(0, 1, 2, 3, 4)
	f.w(bic(1, 1, 5))
	f.w(fadd(20, 20, 1))
	f.addS(18, 18, 19)
	f.op("SUB $1, R13")
	f.op("B exp")
	f.loopNote(mark, 4)
	f.label("expDone")
	f.op("VST1.P [V20.S4], 16(R0)")
	f.op("VST1.P [V21.S4], 16(R1)")
	f.op("VST1.P [V22.S4], 16(R2)")
	f.op("VST1.P [V16.S4], 16(R3)")
	f.op("ADD $16, R5")
	f.op("ADD R8<<2, R4, R4")
	f.op("SUB $4, R6")
	f.op("B group")
	f.label("done")
	f.op("RET")
}
