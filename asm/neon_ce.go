package main

import "github.com/ohem-go/ohem/asm/neon"

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
// finishes each row (a log per row; rowTier.finishBlock, rows_asm.go).

// Registers of the large-C kernels.
const (
	vM      neon.Reg = 26 // the row maximum in every lane
	vK      neon.Reg = 27 // k (spread weight) in every lane
	vSum64  neon.Reg = 24 // float64 sum of e^{x−m}
	vSprd64 neon.Reg = 25 // float64 sum of k·(x − m)
)

// rowsKind (ce.go) names the three large-C kernels.

func genCENEON(f *neonFile) {
	f.Text("ceRowsLargeNEON", []string{"s []float32", "zt []float32", "neg []float32", "mx []float32",
		"x []float32", "t []int32", "c int", "k float32"}, nil,
		"sets, for each row i of the row-major [len(t)][c] logits x with t[i] >= 0 (c >= 4),",
		"mx[i] = m = max_j x[i][j], s[i] = Σ_{j≠t[i]} e^{x[i][j]−m} and zt[i] = x[i][t[i]];",
		"rows with t[i] < 0 are skipped. neg and k are not used.")
	genRowsNEON(f, rowsCE)
	f.Text("ceRowsLargeSpreadNEON", []string{"s []float32", "zt []float32", "neg []float32", "mx []float32",
		"x []float32", "t []int32", "c int", "k float32"}, nil,
		"is ceRowsLargeNEON that also sets neg[i] = k·Σ_{j≠t[i]} (x[i][j] − m) (the caller passes k = 1",
		"and scales in float64, where ε/C cannot underflow; −Inf when the sum overflows: it recomputes the row).")
	genRowsNEON(f, rowsCESpread)
	f.Text("lseRowsLargeNEON", []string{"s []float32", "mx []float32", "x []float32", "c int"}, nil,
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
	f.LdArg("s", "R0")
	f.LdArg("mx", "R3")
	f.LdArg("x", "R4")
	f.LdArg("c", "R7")
	if ce {
		f.LdArg("zt", "R1")
		f.LdArg("neg", "R2")
		f.LdArg("t", "R5")
		f.LdLen("t", "R6")
	} else {
		f.LdLen("mx", "R6")
	}
	if spread {
		f.LdF("k", vK)
		f.DupLane(vK, vK, 0)
	}
	f.expConstsNEON()

	f.Label("row")
	f.Op("CBZ R6, done")
	if ce {
		f.Op("MOVW (R5), R8") // t[i], sign-extended
		f.Op("CMP $0, R8")
		f.Op("BLT next")
	}

	f.Comment("max pass: four accumulators, the last 1–3 elements from a vector ending at the row's end")
	f.Op("MOVD R4, R9")
	f.Op("MOVD R7, R10")
	f.Op("VLD1 (R9), [V16.S4]")
	for a := neon.Reg(17); a < 20; a++ {
		f.Mov(a, 16)
	}
	f.Label("max16")
	f.Op("CMP $16, R10")
	f.Op("BLT max4")
	mark := f.Count()
	f.Op("VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]")
	for k := neon.Reg(0); k < 4; k++ {
		f.Fmax(16+k, 16+k, k)
	}
	f.Op("SUB $16, R10")
	f.Op("B max16")
	f.LoopNote(mark, 16)
	f.Label("max4")
	f.Op("CMP $4, R10")
	f.Op("BLT maxTail")
	f.Op("VLD1.P 16(R9), [V0.S4]")
	f.Fmax(16, 16, 0)
	f.Op("SUB $4, R10")
	f.Op("B max4")
	f.Label("maxTail")
	f.Op("CBZ R10, maxDone")
	f.Op("ADD R7<<2, R4, R11")
	f.Op("SUB $16, R11")
	f.Op("VLD1 (R11), [V0.S4]")
	f.Fmax(16, 16, 0)
	f.Label("maxDone")
	f.Fmax(16, 16, 17)
	f.Fmax(18, 18, 19)
	f.Fmax(16, 16, 18)
	f.Fmaxv(16, 16) // NaN anywhere gives NaN
	f.DupLane(vM, 16, 0)
	f.Op("FMOVS F16, (R3)")

	f.Comment("exp pass")
	for _, a := range []neon.Reg{20, 21, 22, 23, vSum64, vSprd64} {
		f.Zero(a)
	}
	f.Op("MOVD ZR, R14")
	if ce {
		f.Op("ADD R8<<2, R4, R11")
		f.Op("FMOVS (R11), F0")
		f.Op("FMOVS F0, (R1)")
		f.Comment("[0, t)")
		f.Op("MOVD R4, R9")
		f.Op("MOVD R8, R10")
		f.expSegment("a", spread)
		f.Comment("(t, C)")
		f.Op("ADD $1, R8, R11")
		f.Op("ADD R11<<2, R4, R9")
		f.Op("SUB R11, R7, R10")
		f.expSegment("b", spread)
	} else {
		f.Op("MOVD R4, R9")
		f.Op("MOVD R7, R10")
		f.expSegment("a", false)
	}
	f.flush(spread)
	f.Comment("s = the float64 sum, rounded once")
	f.FaddpD(vSum64, vSum64)
	f.Op("FMOVD F%d, F0", vSum64)
	f.Op("FCVTDS F0, F0")
	f.Op("FMOVS F0, (R0)")
	if spread {
		f.FaddpD(vSprd64, vSprd64)
		f.Op("FMOVD F%d, F0", vSprd64)
		f.Op("FCVTDS F0, F0")
		f.Op("FMOVS F0, (R2)")
	}

	f.Label("next")
	f.Op("ADD R7<<2, R4, R4")
	for _, r := range []string{"R0", "R3"} {
		f.Op("ADD $4, %s", r)
	}
	if ce {
		for _, r := range []string{"R1", "R2", "R5"} {
			f.Op("ADD $4, %s", r)
		}
	}
	f.Op("SUB $1, R6")
	f.Op("B row")
	f.Label("done")
	f.Op("RET")
}

// flush adds the float32 accumulators V20, V21 (and the spread's V22, V23) to the float64 ones
// and clears them.
func (f *neonFile) flush(spread bool) {
	pairs := [][3]neon.Reg{{20, 21, vSum64}}
	if spread {
		pairs = append(pairs, [3]neon.Reg{22, 23, vSprd64})
	}
	for _, p := range pairs {
		f.Fadd(p[0], p[0], p[1])
		f.Fcvtl(0, p[0])
		f.Fcvtl2(1, p[0])
		f.Fadd2d(p[2], p[2], 0)
		f.Fadd2d(p[2], p[2], 1)
		f.Zero(p[0])
		f.Zero(p[1])
	}
}

// expTerm adds e^{x−m} of V(x) to the accumulator V(20 + a) and, with the spread, k·(x − m) to
// V(22 + a); d, n, p, q are scratch. With mask >= 0, only the lanes set in V(mask) count.
func (f *neonFile) expTerm(x, d, n, p, q neon.Reg, a neon.Reg, spread bool, mask neon.Reg) {
	f.Fsub(x, x, vM)
	if spread {
		if mask >= 0 {
			f.And(d, x, mask)
			f.Fmla(22+a, d, vK)
		} else {
			f.Fmla(22+a, x, vK)
		}
	}
	f.exp(x, d, n, p, q)
	if mask >= 0 {
		f.And(d, d, mask)
	}
	f.Fadd(20+a, 20+a, d)
}

// expSegment sums the R10 elements at R9 (within the row at R4 of R7 elements) into the
// accumulators. Labels start with tag.
func (f *neonFile) expSegment(tag string, spread bool) {
	f.Op("ADD R10<<2, R9, R13") // the segment's end
	f.Label(tag + "16")
	f.Op("CMP $16, R10")
	f.Op("BLT %s4", tag)
	f.Op("ADD $1, R14")
	f.Op("CMP $64, R14")
	f.Op("BLT %sBody", tag)
	f.flush(spread)
	f.Op("MOVD ZR, R14")
	f.Label(tag + "Body")
	mark := f.Count()
	f.Op("VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]")
	for k := neon.Reg(0); k < 4; k++ {
		f.expTerm(k, 4+k, 8+k, 12+k, 16+k, k%2, spread, -1)
	}
	f.Op("SUB $16, R10")
	f.Op("B %s16", tag)
	f.LoopNote(mark, 16)
	f.Label(tag + "4")
	f.Op("CMP $4, R10")
	f.Op("BLT %sTail", tag)
	f.Op("VLD1.P 16(R9), [V0.S4]")
	f.expTerm(0, 4, 8, 12, 16, 0, spread, -1)
	f.Op("SUB $4, R10")
	f.Op("B %s4", tag)
	f.Label(tag + "Tail")
	f.Op("CBZ R10, %sDone", tag)
	f.Comment("the last R10 elements: a vector at q = max(end − 16 bytes, row), lanes in [end − 4·R10, end)")
	f.Op("SUB $16, R13, R11")
	f.Op("CMP R4, R11")
	f.Op("CSEL LT, R4, R11, R11")
	f.Op("VLD1 (R11), [V0.S4]")
	f.ConstLanes(6, [4]uint32{0, 4, 8, 12}) // byte offsets of the lanes
	f.Op("SUB R10<<2, R13, R12")
	f.Op("SUB R12, R11, R12") // q − (end − 4·R10): lane l counts if l·4 + this >= 0
	f.DupR(7, "R12")
	f.AddS(7, 7, 6)
	f.Op("SUB R13, R11, R12") // q − end: and if l·4 + this < 0
	f.DupR(9, "R12")
	f.AddS(9, 9, 6)
	f.Zero(10)
	f.Cmge(5, 7, 10)
	f.Cmgt(9, 10, 9)
	f.And(5, 5, 9)
	f.expTerm(0, 4, 8, 12, 16, 0, spread, 5)
	f.Label(tag + "Done")
}

// acrossRowsArgs loads the arguments the across-rows kernels (ceSmallNEON, ceTiledNEON) share:
// R0 s, R1 zt, R2 neg, R3 mx, R4 x, R5 t, R6 len(t), R7 C, R8 4·C, V27 (vK) k in every lane, V19
// ones, and the exp constants; extra, if not nil, loads a kernel's own after C.
func (f *neonFile) acrossRowsArgs(extra func()) {
	f.LdArg("s", "R0")
	f.LdArg("zt", "R1")
	f.LdArg("neg", "R2")
	f.LdArg("mx", "R3")
	f.LdArg("x", "R4")
	f.LdArg("t", "R5")
	f.LdLen("t", "R6")
	f.LdArg("c", "R7")
	if extra != nil {
		extra()
	}
	f.Op("LSL $2, R7, R8")
	f.LdF("k", vK)
	f.DupLane(vK, vK, 0)
	f.Op("MOVW $1, R13")
	f.DupR(19, "R13")
	f.expConstsNEON()
}

// genSmallNEON emits ceSmallNEON: 4 rows a vector, each class's 4 logits loaded lane by lane
// from the 4 rows (a max pass, then an exp pass that picks the target's logit by comparing the
// class index with the targets).
//
// R0 s, R1 zt, R2 neg, R3 mx, R4 the group's first row, R5 t, R6 rows left, R7 C, R8 4·C,
// R9–R12 the 4 rows' pointers, R13 the class counter. V16 the maxima, V17 the targets, V18 the
// class index, V19 ones, V20 the sum, V21 z_t, V22 the spread, V27 k, V28–V31 exp.
func genSmallNEON(f *neonFile) {
	f.Text("ceSmallNEON", []string{"s []float32", "zt []float32", "neg []float32", "mx []float32",
		"x []float32", "t []int32", "c int", "k float32"}, nil,
		"sets, for every row i of the row-major [len(t)][c] logits x (len(t) a multiple of 4, c >= 1),",
		"mx[i] = m = max_j x[i][j], s[i] = Σ_{j≠t[i]} e^{x[i][j]−m}, zt[i] = x[i][t[i]] and",
		"neg[i] = k·Σ_{j≠t[i]} (x[i][j] − m). A row with t[i] < 0 matches no class: s[i] and neg[i]",
		"then sum every class (the log-sum-exp of small C relies on it), and zt[i] is not meaningful.")
	f.acrossRowsArgs(nil)
	rows := []string{"R9", "R10", "R11", "R12"}
	// load4 loads class j of the 4 rows into lane l of v and advances the row pointers.
	load4 := func(v neon.Reg) {
		for l, r := range rows {
			f.Op("VLD1.P 4(%s), V%d.S[%d]", r, v, l)
		}
	}
	setRows := func() {
		f.Op("MOVD R4, R9")
		f.Op("ADD R8, R9, R10")
		f.Op("ADD R8, R10, R11")
		f.Op("ADD R8, R11, R12")
	}
	f.Label("group")
	f.Op("CBZ R6, done")
	f.Comment("max pass")
	setRows()
	load4(16)
	f.Op("SUB $1, R7, R13")
	f.Label("max")
	f.Op("CBZ R13, maxDone")
	mark := f.Count()
	load4(0)
	f.Fmax(16, 16, 0)
	f.Op("SUB $1, R13")
	f.Op("B max")
	f.LoopNote(mark, 4)
	f.Label("maxDone")
	f.Comment("exp pass")
	setRows()
	f.Op("VLD1 (R5), [V17.S4]")
	f.columnExpPass(load4)
}

// columnExpPass emits the exp pass and the group's end shared by the across-rows kernels
// (ceSmallNEON, ceTiledNEON): class by class, load(v) puts the class's 4 logits in v, one row a
// lane; s, z_t and the spread accumulate, the group's results are stored and the loop goes on to
// the next group. Registers as in genSmallNEON; R13 counts the classes.
func (f *neonFile) columnExpPass(load func(v neon.Reg)) {
	for _, v := range []neon.Reg{18, 20, 21, 22} {
		f.Zero(v)
	}
	f.Op("MOVD R7, R13")
	f.Label("exp")
	f.Op("CBZ R13, expDone")
	mark := f.Count()
	load(0)
	f.Cmeq(5, 18, 17) // the target's lanes
	f.Bit(21, 0, 5)   // z_t
	f.Fsub(0, 0, 16)  // x − m
	f.Bic(6, 0, 5)
	f.Fmla(22, 6, vK)
	f.exp(0, 1, 2, 3, 4)
	f.Bic(1, 1, 5)
	f.Fadd(20, 20, 1)
	f.AddS(18, 18, 19)
	f.Op("SUB $1, R13")
	f.Op("B exp")
	f.LoopNote(mark, 4)
	f.Label("expDone")
	f.Op("VST1.P [V20.S4], 16(R0)")
	f.Op("VST1.P [V21.S4], 16(R1)")
	f.Op("VST1.P [V22.S4], 16(R2)")
	f.Op("VST1.P [V16.S4], 16(R3)")
	f.Op("ADD $16, R5")
	f.Op("ADD R8<<2, R4, R4")
	f.Op("SUB $4, R6")
	f.Op("B group")
	f.Label("done")
	f.Op("RET")
}
