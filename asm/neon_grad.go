package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ohem-go/ohem/asm/neon"
)

// The gradient kernels on NEON: g = scale·(softmax − q) for a kept sample (t >= 0, scale != ±0),
// q = (1−eps)·onehot(t) + eps/C, from the statistics of the forward pass (m the maximum, ls =
// log Σ e^{z−m}, pt = p_t − 1), and 0 for every other sample. A non-target element is
// scale·(e^{(x − m) − ls} − q) (the exponent computed as the generic code does: two subtractions,
// x − m exact-ish first, so a large m does not cost the softmax its precision), the target element
// scale·(pt + tq) with tq = eps − eps/C computed by the caller. The logits of a dropped sample are
// never trusted (an ignored sample's may be NaN): its lanes are cleared with a mask (BIC), never
// multiplied by 0.
//
// Three kernels, chosen by the Go glue (grad_arm64.go):
//   - gradRowsLargeNEON, row-major, C >= 4 (used from C = 11 on, and for C = 5..10 unless 3/4 of
//     the rows are kept: a dropped row costs it only 9 instructions): along each row, 4 vectors a load,
//     the exp sequences of the 4 vectors interleaved instruction by instruction; the last 1–3
//     elements by one vector that ends at the row's end (it overlaps the previous one and re-stores
//     the same values); the target element after the row with a scalar store. A run of dropped rows
//     is one zero fill (64-byte stores of four zero registers).
//   - gradRowsSmallNEON, row-major, C <= 10 (C = 5..10 for dense selections only), across rows, 4
//     rows (4·C elements) a block, len(t) a multiple of 4 (the glue pads the last 1–3 rows through a
//     stack buffer, the missing rows dropped):
//     C = 1: only the target, no exp. C = 2: no exp and no logit read (with q = eps/2 = tq the two
//     elements are ±scale·(pt + tq), p_other = −pt), interleaved into memory by ST2. C = 3, 4: the
//     structure loads LD3/LD4 give one vector per class with a row per lane, so the rows'
//     statistics are plain vectors and the target lane is a CMEQ of the targets with the class index;
//     ST3/ST4 store them back interleaved. C = 5..10: the block's C vectors as they lie in memory;
//     lane l of vector k is element 4k + l, row (4k+l)/C, column (4k+l) mod C: a per-C table from
//     Go holds, per vector, the TBL byte indices that broadcast each lane's row statistic from the
//     block's vector of 4 (m, ls, scale, target, target gradient, drop mask: 6 TBLs) and the lane
//     columns compared with the row targets. A block whose 4 rows are all dropped is only zeros.
//   - gradPlanarBlockNEON, planar: one block of <= 1024 positions (the glue cuts images into
//     blocks, so the statistics stay in L1), across positions, 4 vectors (16 positions) an
//     iteration, class plane by class plane. A first pass over the block writes, per position, the
//     drop mask (t < 0 or scale = ±0) and the target gradient scale·(pt + tq) to a stack buffer from
//     the glue, and finds whether every position is dropped (then every plane is one zero fill).
//     Each plane then needs x, m, ls, scale, t, the drop mask and the target gradient: seven
//     4-register loads per 16 positions; the target lanes are a CMEQ of the targets with the class
//     index, blended in by BIT. The last 1–3 positions of a plane by one vector that ends at the
//     block's end (n >= 4: the glue never makes a shorter block, and does an image part of fewer
//     than 4 positions with the generic code). The next plane's logits
//     are prefetched one plane ahead, a cache line per 16 positions.

// genGradNEON emits the gradient kernels.
func genGradNEON(f *neonFile) {
	genGradRowsLargeNEON(f)
	genGradRowsSmallNEON(f)
	genGradPlanarNEON(f)
}

// zeroFill stores zeros over the nb bytes at p (registers; nb >= 16 and a multiple of 4): 64
// bytes a store from the zero registers z..z+3, then 16, then the last 4–12 bytes by one 16-byte
// store that ends at the end. p ends past them; nb is consumed; tmp is scratch. Labels start with
// tag.
func (f *neonFile) zeroFill(tag, p, nb, tmp string, z neon.Reg) {
	f.loopBy(tag+"Z64", nb, 64, 16, func() {
		f.Op("VST1.P [V%d.S4, V%d.S4, V%d.S4, V%d.S4], 64(%s)", z, z+1, z+2, z+3, p)
	})
	f.loopBy(tag+"Z16", nb, 16, 0, func() { f.Op("VST1.P [V%d.S4], 16(%s)", z, p) })
	f.Op("CBZ %s, %sZDone", nb, tag)
	f.Op("ADD %s, %s", nb, p)
	f.Op("SUB $16, %s, %s", p, tmp)
	f.Op("VST1 [V%d.S4], (%s)", z, tmp)
	f.Label(tag + "ZDone")
}

// loopBy emits a loop that runs body while the count in register cnt is at least step, taking
// step off it each time; cnt ends at what is left (< step). The test is at the bottom, on the
// flags of the subtraction (cnt is biased by −step inside the loop). With elems > 0 the loop's
// note counts its instructions per elems elements. Labels start with label.
func (f *neonFile) loopBy(label, cnt string, step, elems int, body func()) {
	f.Op("SUBS $%d, %s", step, cnt)
	f.Op("BLT %sEnd", label)
	f.Label(label)
	mark := f.Count()
	body()
	f.Op("SUBS $%d, %s", step, cnt)
	f.Op("BGE %s", label)
	if elems > 0 {
		f.LoopNote(mark, elems)
	}
	f.Label(label + "End")
	f.Op("ADD $%d, %s", step, cnt)
}

// gradSig is the parameter list of a gradient kernel: the slices of gradParams, then extra.
func gradSig(extra ...string) []string { return append(slices.Clone(gradParams), extra...) }

var gradParams = []string{"g []float32", "x []float32", "t []int32",
	"m []float32", "ls []float32", "pt []float32", "scale []float32"}

// ldGradRowArgs loads gradParams into the registers of the row kernels: R0 g, R1 x, R2 t, R3 m,
// R4 ls, R5 pt, R6 scale, and R7 len(t).
func (f *neonFile) ldGradRowArgs() {
	f.LdArg("g", "R0")
	f.LdArg("x", "R1")
	f.LdArg("t", "R2")
	f.LdLen("t", "R7")
	f.LdArg("m", "R3")
	f.LdArg("ls", "R4")
	f.LdArg("pt", "R5")
	f.LdArg("scale", "R6")
}

// genGradRowsLargeNEON emits gradRowsLargeNEON.
//
// Registers: R0 g and R1 x at the row, R2 t, R3 m, R4 ls, R5 pt, R6 scale, R7 len(t), R8 bytes
// per row, R9 and R10 the x and g cursors in the row, R11 bytes left in the row (in a run of
// dropped rows: the run's bytes), R12 t[i], R13 scratch, R14 the row i.
// V0–V3 x, V4–V7 the gradient, V8–V19 the exp sequences' scratch (n, p, m of each vector);
// V20 m, V21 ls, V22 scale of the row in every lane, V23 q; V24–V27 zero; V28–V31 exp.
func genGradRowsLargeNEON(f *neonFile) {
	f.Text("gradRowsLargeNEON", gradSig("c int", "q float32", "tq float32"), nil,
		"writes the gradient of the len(t) rows of x, c >= 4 classes each, to g: for a kept row",
		"(t[i] >= 0, scale[i] != ±0) g_j = scale·(e^{(x_j − m) − ls} − q) and g_t = scale·(pt + tq);",
		"0 for the others.")
	f.ldGradRowArgs()
	f.LdArg("c", "R8")
	f.Op("LSL $2, R8")
	f.LdF("q", 23)
	f.DupLane(23, 23, 0)
	for z := neon.Reg(24); z < 28; z++ {
		f.Zero(z)
	}
	f.expConstsNEON()

	// vec computes the gradient of the vector in V(k) into V(4+k).
	vec := func(k neon.Reg) func() {
		return func() {
			f.Fsub(k, k, 20)
			f.Fsub(k, k, 21)
			f.exp(k, 4+k, 8+k, 12+k, 16+k)
			f.Fsub(4+k, 4+k, 23)
			f.Fmul(4+k, 4+k, 22)
		}
	}

	f.Op("MOVD ZR, R14")
	f.Label("row")
	f.Op("CMP R7, R14")
	f.Op("BGE done")
	f.Op("MOVW (R2)(R14<<2), R12")
	f.Op("TBNZ $31, R12, drop")
	f.Op("MOVWU (R6)(R14<<2), R13")
	f.Op("LSLW $1, R13, R13") // ±0 → 0
	f.Op("CBZW R13, drop")
	f.Comment("a kept row: m, ls and scale in every lane")
	for _, p := range [][2]string{{"R3", "V20"}, {"R4", "V21"}, {"R6", "V22"}} {
		f.Op("ADD R14<<2, %s, R13", p[0])
		f.Op("VLD1R (R13), [%s.S4]", p[1])
	}
	f.Op("MOVD R1, R9")
	f.Op("MOVD R0, R10")
	f.Op("MOVD R8, R11")
	f.Op("TST $15, R8")
	f.Op("BEQ body")
	f.Comment("the last 1–3 elements first: the vector that ends at the row's end (C >= 4), computed")
	f.Comment("before any store of the row (g may be x itself) and kept in V24 until the row is done")
	f.Op("ADD R8, R1, R13")
	f.Op("SUB $16, R13")
	f.Op("VLD1 (R13), [V0.S4]")
	vec(0)()
	f.Mov(24, 4)
	f.Label("body")
	f.loopBy("vec16", "R11", 64, 16, func() {
		f.Op("VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]")
		f.Interleave(vec(0), vec(1), vec(2), vec(3))
		f.Op("VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R10)")
	})
	f.loopBy("vec4", "R11", 16, 0, func() {
		f.Op("VLD1.P 16(R9), [V0.S4]")
		vec(0)()
		f.Op("VST1.P [V4.S4], 16(R10)")
	})
	f.Op("CBZ R11, target")
	f.Op("ADD R8, R0, R10")
	f.Op("SUB $16, R10")
	f.Op("VST1 [V24.S4], (R10)")
	f.Zero(24) // the zero fills of dropped rows use it
	f.Label("target")
	f.Comment("g_t = scale·(pt + tq), over what the vectors left there")
	f.Op("ADD R12<<2, R0, R13")
	f.Op("FMOVS (R5)(R14<<2), F16")
	f.Op("FMOVS %s, F17", f.FP("tq"))
	f.Op("FADDS F17, F16")
	f.Op("FMULS F22, F16")
	f.Op("FMOVS F16, (R13)")
	f.Op("ADD R8, R0")
	f.Op("ADD R8, R1")
	f.Op("ADD $1, R14")
	f.Op("B row")

	f.Label("drop")
	f.Comment("a run of dropped rows: one zero fill")
	f.Op("MOVD ZR, R11")
	f.Label("dropNext")
	f.Op("ADD R8, R11")
	f.Op("ADD $1, R14")
	f.Op("CMP R7, R14")
	f.Op("BGE fill")
	f.Op("MOVW (R2)(R14<<2), R12")
	f.Op("TBNZ $31, R12, dropNext")
	f.Op("MOVWU (R6)(R14<<2), R13")
	f.Op("LSLW $1, R13, R13")
	f.Op("CBZW R13, dropNext")
	f.Label("fill")
	f.Op("ADD R11, R1")
	f.zeroFill("fill", "R0", "R11", "R13", 24)
	f.Op("B row")
	f.Label("done")
	f.Op("RET")
}

// genGradRowsSmallNEON emits gradRowsSmallNEON: one loop per C of 1..4, and the table-driven loop
// for larger C.
//
// Registers: R0 g, R1 x, R2 t, R3 m, R4 ls, R5 pt, R6 scale (advanced a block at a time), R7 rows
// left, R8 C, R9 the table, R10 the table cursor, R11 vectors left in the block, R12–R14 scratch.
// Per block: V20 t, V21 scale, V22 m, V23 ls, V24 pt and then the target gradient scale·(pt + tq),
// V25 the drop mask (t < 0 or scale = ±0: all ones); V26 q, V27 tq; V28–V31 exp. The loops use
// V0–V19 as their comments say.
func genGradRowsSmallNEON(f *neonFile) {
	f.Text("gradRowsSmallNEON", gradSig("tab []byte", "c int", "q float32", "tq float32"), nil,
		"writes the gradient of the len(t) rows of x, c <= 10 classes each, to g as gradRowsLargeNEON",
		"does, 4 rows at a time (len(t) a multiple of 4); for c >= 5, tab holds per vector k < c of a block",
		"the TBL indices of the rows of its lanes and their columns (grad_arm64.go).")
	f.ldGradRowArgs()
	f.LdArg("tab", "R9")
	f.LdArg("c", "R8")
	f.LdF("q", 26)
	f.DupLane(26, 26, 0)
	f.LdF("tq", 27)
	f.DupLane(27, 27, 0)
	f.Zero(15)
	f.Op("CMP $2, R8")
	f.Op("BEQ c2")
	f.Op("BLT c1")
	f.Op("CMP $4, R8")
	f.Op("BLT c3")
	f.Op("BEQ c4")
	f.expConstsNEON()
	genGradFlatNEON(f)
	f.Label("c1")
	genGradC1NEON(f)
	f.Label("c2")
	genGradPairsNEON(f)
	f.Label("c3")
	genGradStructNEON(f, 3)
	f.Label("c4")
	genGradStructNEON(f, 4)
}

// dropMask sets V(d) to the drop mask of the rows whose targets and scales are in V(t) and V(s):
// all ones where t < 0 or s = ±0. V(tmp) is scratch, V(zero) holds 0.
func (f *neonFile) dropMask(d, t, s, tmp, zero neon.Reg) {
	f.Sshr(d, t, 31)
	f.Fcmeq(tmp, s, zero)
	f.Orr(d, d, tmp)
}

// blockStats loads the statistics of the next 4 rows into V20–V24 (m and ls only when withLS),
// and computes the drop mask V25 and the target gradient V24 = scale·(pt + tq). V14 is scratch,
// V15 holds 0. With allDropped != "", a block of 4 dropped rows jumps there (before the target
// gradient).
func (f *neonFile) blockStats(withLS bool, allDropped string) {
	f.Op("VLD1.P 16(R2), [V20.S4]")
	f.Op("VLD1.P 16(R6), [V21.S4]")
	f.Op("VLD1.P 16(R5), [V24.S4]")
	if withLS {
		f.Op("VLD1.P 16(R3), [V22.S4]")
		f.Op("VLD1.P 16(R4), [V23.S4]")
	}
	f.dropMask(25, 20, 21, 14, 15)
	if allDropped != "" {
		f.Addv(14, 25)
		f.ToR("R12", 14)
		f.Op("CMNW $4, R12") // the sum of the 4 masks is −4
		f.Op("BEQ %s", allDropped)
	}
	f.Fadd(24, 24, 27)
	f.Fmul(24, 24, 21)
}

// genGradC1NEON: C = 1, the only element is the target: g = scale·(pt + tq), 0 where dropped.
// The logits are not read.
func genGradC1NEON(f *neonFile) {
	f.Op("CBZ R7, c1Done")
	f.Label("c1Block")
	mark := f.Count()
	f.blockStats(false, "")
	f.Bic(24, 24, 25)
	f.Op("VST1.P [V24.S4], 16(R0)")
	f.Op("SUBS $4, R7")
	f.Op("BNE c1Block")
	f.LoopNote(mark, 4)
	f.Label("c1Done")
	f.Op("RET")
}

// genGradPairsNEON: C = 2 without exp and without reading the logits: q = eps/2 = tq, so the
// target's element is a = scale·(pt + tq) and the other's −a (p_other = −pt exactly in the
// statistics' terms). Class 0 gets a ^ (t << 31), class 1 that with the sign flipped; ST2
// interleaves them. 8 rows an iteration, then 4.
//
// Registers: V0–V3 t and scale of two groups of 4 rows, V8, V9 their pt, V10, V11 drop masks,
// V12, V13 scratch, V4–V7 the two pairs of class vectors, V19 the sign bit, V15 zero.
func genGradPairsNEON(f *neonFile) {
	f.ConstU32(19, 0x80000000)
	// group computes the 4 rows whose t, scale, pt are in V(t), V(s), V(p) into V(o), V(o+1).
	group := func(t, s, p, d, tmp, o neon.Reg) {
		f.dropMask(d, t, s, tmp, 15)
		f.Fadd(p, p, 27)
		f.Fmul(p, p, s)
		f.Shl(tmp, t, 31)
		f.Eor(o, p, tmp)
		f.Eor(o+1, o, 19)
		f.Bic(o, o, d)
		f.Bic(o+1, o+1, d)
	}
	f.loopBy("c2Loop8", "R7", 8, 16, func() {
		f.Op("VLD1.P 32(R2), [V0.S4, V1.S4]")
		f.Op("VLD1.P 32(R6), [V2.S4, V3.S4]")
		f.Op("VLD1.P 32(R5), [V8.S4, V9.S4]")
		f.Interleave(func() { group(0, 2, 8, 10, 12, 4) }, func() { group(1, 3, 9, 11, 13, 6) })
		f.Op("VST2.P [V4.S4, V5.S4], 32(R0)")
		f.Op("VST2.P [V6.S4, V7.S4], 32(R0)")
	})
	f.Comment("the last 4 rows (len(t) is a multiple of 4)")
	f.Op("CBZ R7, c2Done")
	f.Op("VLD1.P 16(R2), [V0.S4]")
	f.Op("VLD1.P 16(R6), [V2.S4]")
	f.Op("VLD1.P 16(R5), [V8.S4]")
	group(0, 2, 8, 10, 12, 4)
	f.Op("VST2.P [V4.S4, V5.S4], 32(R0)")
	f.Label("c2Done")
	f.Op("RET")
}

// genGradStructNEON: C = 3 or 4. LD3/LD4 load a block's 4 rows as one vector per class, lane r
// holding row r, so the rows' statistics are plain vectors; ST3/ST4 store the gradient back.
//
// Registers: V0–V3 the class vectors, V4–V7 their gradients, V8–V11 and V12, V13 exp scratch
// (n per class; p and m shared, renamed by the core), V14 scratch, V15 zero (class 0's index),
// V16–V18 the class indices 1..3, V28–V31 exp.
func genGradStructNEON(f *neonFile, c int) {
	tag := "c" + strconv.Itoa(c)
	f.expConstsNEON()
	for j := 1; j < c; j++ {
		f.Op("MOVW $%d, R12", j)
		f.DupR(15+neon.Reg(j), "R12")
	}
	list := func(first neon.Reg) string {
		s := make([]string, c)
		for j := range c {
			s[j] = "V" + strconv.Itoa(int(first)+j) + ".S4"
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	f.Op("CBZ R7, %sDone", tag)
	f.Label(tag + "Block")
	mark := f.Count()
	f.blockStats(true, tag+"Drop")
	f.Op("VLD%d.P %d(R1), %s", c, 16*c, list(0))
	for j := neon.Reg(0); j < neon.Reg(c); j++ {
		f.Fsub(j, j, 22)
		f.Fsub(j, j, 23)
	}
	for j := neon.Reg(0); j < neon.Reg(c); j++ {
		f.exp(j, 4+j, 8+j, 12, 13)
	}
	for j := neon.Reg(0); j < neon.Reg(c); j++ {
		idx := neon.Reg(15) // class 0: zero
		if j > 0 {
			idx = 15 + j
		}
		f.Fsub(4+j, 4+j, 26)
		f.Fmul(4+j, 4+j, 21)
		f.Cmeq(14, 20, idx)
		f.Bit(4+j, 24, 14)
		f.Bic(4+j, 4+j, 25)
	}
	f.Op("VST%d.P %s, %d(R0)", c, list(4), 16*c)
	f.Op("SUBS $4, R7")
	f.Op("BNE %sBlock", tag)
	f.LoopNote(mark, 4*c)
	f.Op("RET")
	f.Label(tag + "Drop")
	f.Comment("4 dropped rows: zeros")
	for j := neon.Reg(0); j < neon.Reg(c); j++ {
		f.Zero(4 + j)
	}
	f.Op("VST1.P %s, %d(R0)", list(4), 16*c)
	f.Op("ADD $%d, R1", 16*c)
	f.Op("SUBS $4, R7")
	f.Op("BNE %sBlock", tag)
	f.Label(tag + "Done")
	f.Op("RET")
}

// genGradFlatNEON: C = 5..10, a block's C vectors in memory order. For vector k, the table holds
// 16 TBL indices (bytes 4r..4r+3 of lane l's row r = (4k+l)/C) and the 4 columns (4k+l) mod C.
//
// Registers: V0 x, V1 the indices, V2 the columns, V3 the gradient, V5–V7 exp scratch, V8–V13
// the lanes' m, ls, scale, target, target gradient and drop mask, V14 scratch, V15 zero, V16–V19
// zero (fills).
func genGradFlatNEON(f *neonFile) {
	for z := neon.Reg(16); z < 20; z++ {
		f.Zero(z)
	}
	f.Op("CBZ R7, flatDone")
	f.Label("flatBlock")
	f.blockStats(true, "flatDrop")
	f.Op("MOVD R9, R10")
	f.Op("MOVD R8, R11")
	f.Label("flatVec")
	mark := f.Count()
	f.Op("VLD1.P 16(R1), [V0.S4]")
	f.Op("VLD1.P 32(R10), [V1.B16, V2.B16]")
	tbl := func(d, table neon.Reg) { f.Op("VTBL V1.B16, [V%d.B16], V%d.B16", table, d) }
	tbl(8, 22)
	tbl(9, 23)
	f.Fsub(0, 0, 8)
	f.Fsub(0, 0, 9)
	f.exp(0, 3, 5, 6, 7)
	tbl(10, 21)
	tbl(11, 20)
	tbl(12, 24)
	tbl(13, 25)
	f.Fsub(3, 3, 26)
	f.Fmul(3, 3, 10)
	f.Cmeq(11, 11, 2)
	f.Bit(3, 12, 11)
	f.Bic(3, 3, 13)
	f.Op("VST1.P [V3.S4], 16(R0)")
	f.Op("SUB $1, R11")
	f.Op("CBNZ R11, flatVec")
	f.LoopNote(mark, 4)
	f.Op("SUBS $4, R7")
	f.Op("BNE flatBlock")
	f.Op("RET")
	f.Label("flatDrop")
	f.Comment("4 dropped rows: 16·C bytes of zeros")
	f.Op("LSL $4, R8, R11")
	f.Op("ADD R11, R1")
	f.zeroFill("flat", "R0", "R11", "R12", 16)
	f.Op("SUBS $4, R7")
	f.Op("BNE flatBlock")
	f.Label("flatDone")
	f.Op("RET")
}

// genGradPlanarNEON emits gradPlanarBlockNEON.
//
// Registers: R0 g and R1 x at the plane's block (cursors within it), R2 t, R3 m, R4 ls, R5 scale,
// R6 the drop masks and R7 the target gradients in buf (cursors), R8 pt (first pass) or the
// prefetch cursor in the next plane, R9 4·n (bytes of a plane's block), R10 bytes left in the
// plane, R11 planes left, R12 stride − 4·n bytes (from a block's end to the next plane's), R13 and
// R14 scratch.
// V0–V3 x (then scale, then t and the target lanes), V4–V7 the gradient, V8–V19 exp scratch (then
// the target gradients and drop masks), V20 q, V21 the class index in every lane, V22 1 in every
// lane, V23 zero, V24 tq, V25 the AND of the drop masks (first pass); V28–V31 exp.
func genGradPlanarNEON(f *neonFile) {
	f.Text("gradPlanarBlockNEON", gradSig("buf []float32", "c int", "stride int",
		"q float32", "tq float32"), nil,
		"writes the gradient of the len(t) = n >= 4 positions of the planar x (class j of position p",
		"at x[j·stride + p]) to g, in the same layout, as gradRowsLargeNEON does per sample; buf (len >= 2n)",
		"is scratch.")
	f.LdArg("g", "R0")
	f.LdArg("x", "R1")
	f.LdArg("t", "R2")
	f.LdLen("t", "R9")
	f.Op("LSL $2, R9")
	f.LdArg("m", "R3")
	f.LdArg("ls", "R4")
	f.LdArg("pt", "R8")
	f.LdArg("scale", "R5")
	f.LdArg("buf", "R6")
	f.Op("ADD R9, R6, R7")
	f.LdArg("c", "R11")
	f.LdArg("stride", "R12")
	f.Op("LSL $2, R12")
	f.Op("SUB R9, R12")
	f.LdF("q", 20)
	f.DupLane(20, 20, 0)
	f.LdF("tq", 24)
	f.DupLane(24, 24, 0)
	f.Zero(21)
	f.Op("MOVW $1, R13")
	f.DupR(22, "R13")
	f.Zero(23)
	f.ConstU32(25, 0xffffffff)
	f.expConstsNEON()

	// The first pass: per position the drop mask and the target gradient, into buf.
	pre := func(k neon.Reg) func() {
		return func() {
			f.dropMask(12+k, k, 4+k, 16+k, 23)
			f.And(25, 25, 12+k)
			f.Fadd(8+k, 8+k, 24)
			f.Fmul(8+k, 8+k, 4+k)
		}
	}
	f.Comment("first pass: drop masks and target gradients")
	f.Op("MOVD R9, R10")
	f.loopBy("pre16", "R10", 64, 16, func() {
		f.Op("VLD1.P 64(R2), [V0.S4, V1.S4, V2.S4, V3.S4]")
		f.Op("VLD1.P 64(R5), [V4.S4, V5.S4, V6.S4, V7.S4]")
		f.Op("VLD1.P 64(R8), [V8.S4, V9.S4, V10.S4, V11.S4]")
		for k := neon.Reg(0); k < 4; k++ {
			pre(k)()
		}
		f.Op("VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R6)")
		f.Op("VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R7)")
	})
	pre1 := func() {
		f.Op("VLD1.P 16(R2), [V0.S4]")
		f.Op("VLD1.P 16(R5), [V4.S4]")
		f.Op("VLD1.P 16(R8), [V8.S4]")
		pre(0)()
		f.Op("VST1.P [V12.S4], 16(R6)")
		f.Op("VST1.P [V8.S4], 16(R7)")
	}
	f.loopBy("pre4", "R10", 16, 0, pre1)
	f.Op("CBZ R10, preDone")
	f.Comment("the last 1–3 positions: the vector that ends at the block's end (n >= 4)")
	f.Op("MOVD $16, R13")
	f.Op("SUB R10, R13")
	for _, r := range []string{"R2", "R5", "R8", "R6", "R7"} {
		f.Op("SUB R13, %s", r)
	}
	pre1()
	f.Label("preDone")
	for _, r := range []string{"R2", "R5", "R6", "R7"} {
		f.Op("SUB R9, %s", r)
	}
	f.Comment("every position dropped: zeros")
	f.Addv(25, 25)
	f.ToR("R13", 25)
	f.Op("CMNW $4, R13")
	f.Op("BEQ zeros")

	cursors := []string{"R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7"}
	f.Label("plane")
	f.Op("ADD R12, R1, R8")
	f.Op("ADD R9, R8") // the next plane's logits
	f.Op("MOVD R9, R10")
	f.Op("TST $15, R9")
	f.Op("BEQ body")
	f.Comment("the last 1–3 positions first: the vector that ends at the block's end, computed before")
	f.Comment("any store of the plane (g may be x itself) and kept in V26 until the plane is done")
	f.Op("SUB $16, R9, R13")
	for _, r := range cursors {
		f.Op("ADD R13, %s", r)
	}
	f.planarVecs(1, false)
	for _, r := range cursors {
		f.Op("SUB R9, %s", r)
	}
	f.Label("body")
	f.loopBy("vec16", "R10", 64, 16, func() {
		f.Op("PRFM (R8), PLDL1KEEP")
		f.Op("ADD $64, R8")
		f.planarVecs(4, true)
	})
	f.loopBy("vec4", "R10", 16, 0, func() { f.planarVecs(1, true) })
	f.Op("CBZ R10, planeEnd")
	f.Op("ADD R10, R0, R13")
	f.Op("SUB $16, R13")
	f.Op("VST1 [V26.S4], (R13)")
	for _, r := range cursors {
		f.Op("ADD R10, %s", r)
	}
	f.Label("planeEnd")
	for _, r := range []string{"R2", "R3", "R4", "R5", "R6", "R7"} {
		f.Op("SUB R9, %s", r)
	}
	f.Op("ADD R12, R0")
	f.Op("ADD R12, R1")
	f.AddS(21, 21, 22)
	f.Op("SUB $1, R11")
	f.Op("CBNZ R11, plane")
	f.Op("RET")

	f.Label("zeros")
	for z := neon.Reg(16); z < 20; z++ {
		f.Zero(z)
	}
	f.Label("zeroPlane")
	f.Op("MOVD R9, R10")
	f.zeroFill("zp", "R0", "R10", "R13", 16)
	f.Op("ADD R12, R0")
	f.Op("SUB $1, R11")
	f.Op("CBNZ R11, zeroPlane")
	f.Op("RET")
}

// planarVecs computes nv (1 or 4) vectors of positions of the current plane, advancing every
// cursor past them, and stores them to g (store) or leaves the one vector in V26.
func (f *neonFile) planarVecs(nv int, store bool) {
	list := func(first neon.Reg) string {
		s := make([]string, nv)
		for k := range nv {
			s[k] = "V" + strconv.Itoa(int(first)+k) + ".S4"
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	ld := func(r string, first neon.Reg) { f.Op("VLD1.P %d(%s), %s", 16*nv, r, list(first)) }
	each := func(g func(k neon.Reg)) {
		for k := neon.Reg(0); k < neon.Reg(nv); k++ {
			g(k)
		}
	}
	ld("R1", 0)
	ld("R3", 4)
	each(func(k neon.Reg) { f.Fsub(k, k, 4+k) })
	ld("R4", 4)
	each(func(k neon.Reg) { f.Fsub(k, k, 4+k) })
	var exps []func()
	for k := neon.Reg(0); k < neon.Reg(nv); k++ {
		exps = append(exps, func() { f.exp(k, 4+k, 8+k, 12+k, 16+k) })
	}
	f.Interleave(exps...)
	each(func(k neon.Reg) { f.Fsub(4+k, 4+k, 20) })
	ld("R5", 0)
	each(func(k neon.Reg) { f.Fmul(4+k, 4+k, k) })
	ld("R2", 0)
	each(func(k neon.Reg) { f.Cmeq(k, k, 21) })
	ld("R7", 8)
	each(func(k neon.Reg) { f.Bit(4+k, 8+k, k) })
	ld("R6", 12)
	each(func(k neon.Reg) { f.Bic(4+k, 4+k, 12+k) })
	if store {
		f.Op("VST1.P %s, %d(R0)", list(4), 16*nv)
		return
	}
	f.Mov(26, 4)
	f.Op("ADD $%d, R0", 16*nv)
}
