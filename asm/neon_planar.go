package main

import "fmt"

// Planar ([images][classes][positions]) cross-entropy and log-sum-exp on NEON.
//
// Every class plane is contiguous, so the kernels vectorise across positions: a group of 8
// positions (two vectors; 4 positions, one vector, for the last 4–7) goes through a max pass
// over the c planes (four accumulators, two classes an iteration) and then an exp pass over the
// c planes, which keeps per lane s = Σ_{j≠t} e^{z_j−m}, z_t and, with label smoothing,
// Σ_{j≠t} (z_j − m). The target's logit is picked by comparing the targets with the class index
// (CMEQ): VBIT moves z_j into z_t there, BIC takes e^{z_j−m} (and z_j − m) out of the sums. The
// sums run in float32 for neonPlanarChunk classes, then go to float64 accumulators in the s and
// neg outputs (C <= neonPlanarChunk never touches them); s and neg are float64, rounded by Go.
// Go finishes each position (planar_arm64.go), as it does the rows of ce_arm64.go.
//
// The plane stride is usually a multiple of 4 KiB (a 512×1024 image's is 2 MiB), so the c lines
// of one group of positions fall into one L1 set, which holds 4 of them, and a second reading of
// the planes would miss L1. With C <= neonPlanarCopy the max pass therefore copies what it reads
// to a scratch block (C·32 bytes, at most 4 KiB), and the exp pass reads the copy; larger C reads
// the planes again (from L2 when the stride is such a multiple).
//
// The spread is summed unscaled: Go multiplies it by ε/C in float64, where ε/C cannot underflow
// to 0 (0·(−Inf) for a masked class would be NaN).
//
// The kernels require len(t) (len(mx)) >= 4: the last 1–3 positions are done by stepping every
// pointer back to the last 4 positions and recomputing that vector (the same values again).

const (
	neonPlanarChunk = 64  // classes summed in float32 before a flush to float64
	neonPlanarCopy  = 128 // C up to which the max pass copies the planes to the scratch block
)

// genPlanarNEON emits the planar cross-entropy and log-sum-exp kernels.
func genPlanarNEON(f *neonFile) {
	ceArgs := []param{{"s", "[]float64"}, {"zt", "[]float32"}, {"neg", "[]float64"}, {"mx", "[]float32"},
		{"x", "[]float32"}, {"t", "[]int32"}, {"c", "int"}, {"stride", "int"}, {"scratch", "[]float32"}}
	f.text("cePlanarBlockNEON", ceArgs, nil,
		"sets, for each of the len(t) >= 4 positions p of the planar logits x (class j of p is",
		"x[j*stride+p]; c >= 1) with t[p] >= 0, mx[p] = m = max_j x, s[p] = Σ_{j≠t[p]} e^{x_j−m} and",
		"zt[p] = x_{t[p]}; for t[p] < 0, s and zt are meaningless. neg is not used. scratch holds at",
		fmt.Sprintf("least %d elements.", neonPlanarCopy*8))
	genPlanarKernelNEON(f, planarCE)
	f.text("cePlanarBlockSpreadNEON", ceArgs, nil,
		"is cePlanarBlockNEON that also sets neg[p] = Σ_{j≠t[p]} (x_j − m) (−Inf when x_j − m",
		"overflows float32: the caller recomputes the position).")
	genPlanarKernelNEON(f, planarCESmooth)
	f.text("lsePlanarBlockNEON", []param{{"s", "[]float64"}, {"mx", "[]float32"}, {"x", "[]float32"},
		{"c", "int"}, {"stride", "int"}, {"scratch", "[]float32"}}, nil,
		"sets, for each of the len(mx) >= 4 positions p of the planar logits x (class j of p is",
		"x[j*stride+p]; c >= 1), mx[p] = m = max_j x and s[p] = Σ_j e^{x_j−m}. scratch holds at",
		fmt.Sprintf("least %d elements.", neonPlanarCopy*8))
	genPlanarKernelNEON(f, planarLSE)
}

// Register map of the planar kernels (planarMode from planar.go).
//
//	R0 s (float64)        R5 t                     R10 classes left
//	R1 zt                 R6 positions left        R11 scratch pointer (max pass), chunk count (exp pass)
//	R2 neg (float64)      R7 C                     R12 the exp pass's step: a class's bytes in the copy, or the stride
//	R3 mx                 R8 stride in bytes       R13 the max pass's copy step for two classes (0: no copy)
//	R4 x at the group     R9 plane/copy pointer
//
//	max pass: V0–V3 logits, V16–V19 maxima (V16+v, V18+v: classes of even and odd rank)
//	exp pass, vector v in {0, 1}: V16+v m, V18+v s (float32), V20+v the spread (float32),
//	V22+v z_t, V24+v targets, V26 j in every lane, V27 1 in every lane; temporaries V0+v the
//	logits, V2+v e^{z−m}, V4+v, V6+v, V8+v the exp's scratch, V10+v the target mask; V28–V31
//	the exp constants. Flushes use V0–V7.
const (
	vPlM   vreg = 16
	vPlM2  vreg = 18 // second max accumulators
	vPlS   vreg = 18
	vPlN   vreg = 20
	vPlZt  vreg = 22
	vPlT   vreg = 24
	vPlJ   vreg = 26
	vPlOne vreg = 27 // 1 in every lane (int32)
	vPlX   vreg = 0
	vPlE   vreg = 2
	vPlMsk vreg = 10
)

func genPlanarKernelNEON(f *neonFile, mode planarMode) {
	ce, spread := mode != planarLSE, mode == planarCESmooth
	f.ldArg("s", "R0")
	f.ldArg("mx", "R3")
	f.ldArg("x", "R4")
	f.ldArg("c", "R7")
	f.ldArg("stride", "R8")
	f.op("LSL $2, R8")
	if ce {
		f.ldArg("zt", "R1")
		f.ldArg("t", "R5")
		f.ldLen("t", "R6")
		if spread {
			f.ldArg("neg", "R2")
		}
		f.constU32(vPlOne, 1)
	} else {
		f.ldLen("mx", "R6")
	}
	f.expConstsNEON()

	f.label("loop8")
	f.op("CMP $8, R6")
	f.op("BLT loop4")
	planarGroupNEON(f, mode, 2, "v8")
	f.op("SUB $8, R6")
	f.op("B loop8")
	f.label("loop4")
	f.op("CMP $4, R6")
	f.op("BLT tail")
	planarGroupNEON(f, mode, 1, "v4")
	f.op("SUB $4, R6")
	f.label("tail")
	f.op("CBZ R6, done")
	f.comment("1–3 positions left: step back to the last 4 positions and redo that vector")
	f.op("MOVD $4, R11")
	f.op("SUB R6, R11, R11")
	f.op("SUB R11<<3, R0, R0")
	f.op("SUB R11<<2, R3, R3")
	f.op("SUB R11<<2, R4, R4")
	if ce {
		f.op("SUB R11<<2, R1, R1")
		f.op("SUB R11<<2, R5, R5")
		if spread {
			f.op("SUB R11<<3, R2, R2")
		}
	}
	f.op("MOVD $4, R6")
	f.op("B loop4")
	f.label("done")
	f.op("RET")
}

// vlist returns the register list [V(r).arr, ..., V(r+k−1).arr].
func vlist(r vreg, k int, arr string) string {
	s := "["
	for i := range k {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("V%d.%s", r+vreg(i), arr)
	}
	return s + "]"
}

// planarGroupNEON emits one group of nv vectors (4·nv positions) at R4: the max pass, the exp
// pass, the stores, and the pointers advanced past the group. Labels start with tag.
func planarGroupNEON(f *neonFile, mode planarMode, nv int, tag string) {
	ce, spread := mode != planarLSE, mode == planarCESmooth
	vb := 16 * nv // bytes of one class's vectors
	l := func(s string) string { return tag + s }

	f.comment(fmt.Sprintf("%d positions: max pass, the planes copied to the scratch block when C <= %d", 4*nv, neonPlanarCopy))
	f.op("MOVD $%d, R13", 2*vb)
	f.op("CMP $%d, R7", neonPlanarCopy)
	f.op("CSEL HI, ZR, R13, R13")
	f.op("MOVD R4, R9")
	f.ldArg("scratch", "R11")
	f.op("VLD1.P (R9)(R8), %s", vlist(vPlM, nv, "S4"))
	f.op("VST1 %s, (R11)", vlist(vPlM, nv, "S4"))
	f.op("ADD R13>>1, R11, R11")
	for v := range vreg(nv) {
		f.mov(vPlM2+v, vPlM+v)
	}
	f.op("SUB $1, R7, R10")
	f.op("TBZ $0, R10, %s", l("maxPairs"))
	f.op("VLD1.P (R9)(R8), %s", vlist(0, nv, "S4"))
	f.op("VST1 %s, (R11)", vlist(0, nv, "S4"))
	f.op("ADD R13>>1, R11, R11")
	for v := range vreg(nv) {
		f.w(fmax(vPlM+v, vPlM+v, v))
	}
	f.op("SUB $1, R10")
	f.label(l("maxPairs"))
	f.op("CBZ R10, %s", l("maxDone"))
	f.label(l("maxLoop"))
	mark := f.count
	f.op("VLD1.P (R9)(R8), %s", vlist(0, nv, "S4"))
	f.op("VLD1.P (R9)(R8), %s", vlist(vreg(nv), nv, "S4"))
	f.op("VST1.P %s, (R11)(R13)", vlist(0, 2*nv, "S4"))
	for v := range vreg(nv) {
		f.w(fmax(vPlM+v, vPlM+v, v))
		f.w(fmax(vPlM2+v, vPlM2+v, vreg(nv)+v))
	}
	f.op("SUB $2, R10")
	f.op("CBNZ R10, %s", l("maxLoop"))
	f.loopNote(mark, 2*4*nv)
	f.label(l("maxDone"))
	for v := range vreg(nv) {
		f.w(fmax(vPlM+v, vPlM+v, vPlM2+v)) // NaN anywhere gives NaN
	}
	f.op("VST1.P %s, %d(R3)", vlist(vPlM, nv, "S4"), vb)

	f.comment("exp pass: R9 walks the copy (step a class's vectors) or, C > 128, the planes")
	f.ldArg("scratch", "R9")
	f.op("MOVD $%d, R12", vb)
	f.op("CMP $%d, R7", neonPlanarCopy)
	f.op("CSEL HI, R4, R9, R9")
	f.op("CSEL HI, R8, R12, R12")
	if ce {
		f.op("VLD1.P %d(R5), %s", vb, vlist(vPlT, nv, "S4"))
	}
	for v := range vreg(nv) {
		f.zero(vPlS + v)
		if spread {
			f.zero(vPlN + v)
		}
	}
	f.op("CMP $%d, R7", neonPlanarChunk)
	f.op("BLS %s", l("chunk0"))
	f.comment(fmt.Sprintf("C > %d: clear the float64 sums", neonPlanarChunk))
	for r := range vreg(2 * nv) {
		f.zero(r)
	}
	f.op("VST1 %s, (R0)", vlist(0, 2*nv, "D2"))
	if spread {
		f.op("VST1 %s, (R2)", vlist(0, 2*nv, "D2"))
	}
	f.label(l("chunk0"))
	f.op("MOVD R7, R10")
	if ce {
		f.zero(vPlJ)
	}
	f.label(l("chunk"))
	f.op("MOVD $%d, R11", neonPlanarChunk)
	f.op("CMP R11, R10")
	f.op("CSEL LT, R10, R11, R11")
	f.op("SUB R11, R10, R10")
	f.label(l("class"))
	mark = f.count
	f.op("VLD1.P (R9)(R12), %s", vlist(vPlX, nv, "S4"))
	for v := range vreg(nv) {
		x, e, msk := vPlX+v, vPlE+v, vPlMsk+v
		if ce {
			f.cmeq(msk, vPlT+v, vPlJ)
			f.bit(vPlZt+v, x, msk) // z_t = z_j where t == j
		}
		f.w(fsub(x, x, vPlM+v))
		if spread {
			f.w(bic(4+v, x, msk))
			f.w(fadd(vPlN+v, vPlN+v, 4+v))
		}
		f.exp(x, e, 4+v, 6+v, 8+v)
		if ce {
			f.w(bic(e, e, msk))
		}
		f.w(fadd(vPlS+v, vPlS+v, e))
	}
	if ce {
		f.addS(vPlJ, vPlJ, vPlOne)
	}
	f.op("SUB $1, R11")
	f.op("CBNZ R11, %s", l("class"))
	f.loopNote(mark, 4*nv)
	f.op("CBZ R10, %s", l("sums"))
	f.comment("another chunk follows: add the float32 sums to the float64 ones")
	planarFlushNEON(f, nv, spread, true, true)
	f.op("B %s", l("chunk"))
	f.label(l("sums"))
	f.op("CMP $%d, R7", neonPlanarChunk)
	f.op("BHI %s", l("sumsAdd"))
	planarFlushNEON(f, nv, spread, false, false)
	f.op("B %s", l("stored"))
	f.label(l("sumsAdd"))
	planarFlushNEON(f, nv, spread, true, false)
	f.label(l("stored"))
	f.op("ADD $%d, R0", 2*vb)
	if ce {
		f.op("VST1.P %s, %d(R1)", vlist(vPlZt, nv, "S4"), vb)
		if spread {
			f.op("ADD $%d, R2", 2*vb)
		}
	}
	f.op("ADD $%d, R4", vb)
}

// planarFlushNEON widens the float32 sums (and the spread) to float64 and stores them at R0 (R2),
// adding what is there when add is set; clear then zeroes the float32 sums for the next chunk.
func planarFlushNEON(f *neonFile, nv int, spread, add, clear bool) {
	type acc struct {
		src vreg
		ptr string
	}
	accs := []acc{{vPlS, "R0"}, {vPlN, "R2"}}
	if !spread {
		accs = accs[:1]
	}
	for _, a := range accs {
		for v := range vreg(nv) {
			f.w(fcvtl(4+2*v, a.src+v))
			f.w(fcvtl2(5+2*v, a.src+v))
		}
		if add {
			f.op("VLD1 (%s), %s", a.ptr, vlist(0, 2*nv, "D2"))
			for r := range vreg(2 * nv) {
				f.w(fadd2d(4+r, 4+r, r))
			}
		}
		f.op("VST1 %s, (%s)", vlist(4, 2*nv, "D2"), a.ptr)
		if clear {
			for v := range vreg(nv) {
				f.zero(a.src + v)
			}
		}
	}
}
