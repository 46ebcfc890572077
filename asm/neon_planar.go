package main

import (
	"fmt"

	"github.com/ohem-go/ohem/asm/neon"
)

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
// Go finishes each position (planar_arm64.go), as it does the rows (finishRow, finish.go).
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
	ceArgs := []string{"s []float64", "zt []float32", "neg []float64", "mx []float32",
		"x []float32", "t []int32", "c int", "stride int", "scratch []float32"}
	f.Text("cePlanarBlockNEON", ceArgs, nil,
		"sets, for each of the len(t) >= 4 positions p of the planar logits x (class j of p is",
		"x[j*stride+p]; c >= 1) with t[p] >= 0, mx[p] = m = max_j x, s[p] = Σ_{j≠t[p]} e^{x_j−m} and",
		"zt[p] = x_{t[p]}; for t[p] < 0, s and zt are meaningless. neg is not used. scratch holds at",
		fmt.Sprintf("least %d elements.", neonPlanarCopy*8))
	genPlanarKernelNEON(f, planarCE)
	f.Text("cePlanarBlockSpreadNEON", ceArgs, nil,
		"is cePlanarBlockNEON that also sets neg[p] = Σ_{j≠t[p]} (x_j − m) (−Inf when x_j − m",
		"overflows float32: the caller recomputes the position).")
	genPlanarKernelNEON(f, planarCESmooth)
	f.Text("lsePlanarBlockNEON", []string{"s []float64", "mx []float32", "x []float32",
		"c int", "stride int", "scratch []float32"}, nil,
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
	vPlM   neon.Reg = 16
	vPlM2  neon.Reg = 18 // second max accumulators
	vPlS   neon.Reg = 18
	vPlN   neon.Reg = 20
	vPlZt  neon.Reg = 22
	vPlT   neon.Reg = 24
	vPlJ   neon.Reg = 26
	vPlOne neon.Reg = 27 // 1 in every lane (int32)
	vPlX   neon.Reg = 0
	vPlE   neon.Reg = 2
	vPlMsk neon.Reg = 10
)

func genPlanarKernelNEON(f *neonFile, mode planarMode) {
	ce, spread := mode != planarLSE, mode == planarCESmooth
	f.LdArg("s", "R0")
	f.LdArg("mx", "R3")
	f.LdArg("x", "R4")
	f.LdArg("c", "R7")
	f.LdArg("stride", "R8")
	f.Op("LSL $2, R8")
	if ce {
		f.LdArg("zt", "R1")
		f.LdArg("t", "R5")
		f.LdLen("t", "R6")
		if spread {
			f.LdArg("neg", "R2")
		}
		f.ConstU32(vPlOne, 1)
	} else {
		f.LdLen("mx", "R6")
	}
	f.expConstsNEON()

	f.Label("loop8")
	f.Op("CMP $8, R6")
	f.Op("BLT loop4")
	planarGroupNEON(f, mode, 2, "v8")
	f.Op("SUB $8, R6")
	f.Op("B loop8")
	f.Label("loop4")
	f.Op("CMP $4, R6")
	f.Op("BLT tail")
	planarGroupNEON(f, mode, 1, "v4")
	f.Op("SUB $4, R6")
	f.Label("tail")
	f.Op("CBZ R6, done")
	f.Comment("1–3 positions left: step back to the last 4 positions and redo that vector")
	f.Op("MOVD $4, R11")
	f.Op("SUB R6, R11, R11")
	f.Op("SUB R11<<3, R0, R0")
	f.Op("SUB R11<<2, R3, R3")
	f.Op("SUB R11<<2, R4, R4")
	if ce {
		f.Op("SUB R11<<2, R1, R1")
		f.Op("SUB R11<<2, R5, R5")
		if spread {
			f.Op("SUB R11<<3, R2, R2")
		}
	}
	f.Op("MOVD $4, R6")
	f.Op("B loop4")
	f.Label("done")
	f.Op("RET")
}

// vlist returns the register list [V(r).arr, ..., V(r+k−1).arr].
func vlist(r neon.Reg, k int, arr string) string {
	s := "["
	for i := range k {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("V%d.%s", r+neon.Reg(i), arr)
	}
	return s + "]"
}

// planarGroupNEON emits one group of nv vectors (4·nv positions) at R4: the max pass, the exp
// pass, the stores, and the pointers advanced past the group. Labels start with tag.
func planarGroupNEON(f *neonFile, mode planarMode, nv int, tag string) {
	ce, spread := mode != planarLSE, mode == planarCESmooth
	vb := 16 * nv // bytes of one class's vectors
	l := func(s string) string { return tag + s }

	f.Comment(fmt.Sprintf("%d positions: max pass, the planes copied to the scratch block when C <= %d", 4*nv, neonPlanarCopy))
	f.Op("MOVD $%d, R13", 2*vb)
	f.Op("CMP $%d, R7", neonPlanarCopy)
	f.Op("CSEL HI, ZR, R13, R13")
	f.Op("MOVD R4, R9")
	f.LdArg("scratch", "R11")
	f.Op("VLD1.P (R9)(R8), %s", vlist(vPlM, nv, "S4"))
	f.Op("VST1 %s, (R11)", vlist(vPlM, nv, "S4"))
	f.Op("ADD R13>>1, R11, R11")
	for v := range neon.Reg(nv) {
		f.Mov(vPlM2+v, vPlM+v)
	}
	f.Op("SUB $1, R7, R10")
	f.Op("TBZ $0, R10, %s", l("maxPairs"))
	f.Op("VLD1.P (R9)(R8), %s", vlist(0, nv, "S4"))
	f.Op("VST1 %s, (R11)", vlist(0, nv, "S4"))
	f.Op("ADD R13>>1, R11, R11")
	for v := range neon.Reg(nv) {
		f.Fmax(vPlM+v, vPlM+v, v)
	}
	f.Op("SUB $1, R10")
	f.Label(l("maxPairs"))
	f.Op("CBZ R10, %s", l("maxDone"))
	f.Label(l("maxLoop"))
	mark := f.Count()
	f.Op("VLD1.P (R9)(R8), %s", vlist(0, nv, "S4"))
	f.Op("VLD1.P (R9)(R8), %s", vlist(neon.Reg(nv), nv, "S4"))
	f.Op("VST1.P %s, (R11)(R13)", vlist(0, 2*nv, "S4"))
	for v := range neon.Reg(nv) {
		f.Fmax(vPlM+v, vPlM+v, v)
		f.Fmax(vPlM2+v, vPlM2+v, neon.Reg(nv)+v)
	}
	f.Op("SUB $2, R10")
	f.Op("CBNZ R10, %s", l("maxLoop"))
	f.LoopNote(mark, 2*4*nv)
	f.Label(l("maxDone"))
	for v := range neon.Reg(nv) {
		f.Fmax(vPlM+v, vPlM+v, vPlM2+v) // NaN anywhere gives NaN
	}
	f.Op("VST1.P %s, %d(R3)", vlist(vPlM, nv, "S4"), vb)

	f.Comment("exp pass: R9 walks the copy (step a class's vectors) or, C > 128, the planes")
	f.LdArg("scratch", "R9")
	f.Op("MOVD $%d, R12", vb)
	f.Op("CMP $%d, R7", neonPlanarCopy)
	f.Op("CSEL HI, R4, R9, R9")
	f.Op("CSEL HI, R8, R12, R12")
	if ce {
		f.Op("VLD1.P %d(R5), %s", vb, vlist(vPlT, nv, "S4"))
	}
	for v := range neon.Reg(nv) {
		f.Zero(vPlS + v)
		if spread {
			f.Zero(vPlN + v)
		}
	}
	f.Op("CMP $%d, R7", neonPlanarChunk)
	f.Op("BLS %s", l("chunk0"))
	f.Comment(fmt.Sprintf("C > %d: clear the float64 sums", neonPlanarChunk))
	for r := range neon.Reg(2 * nv) {
		f.Zero(r)
	}
	f.Op("VST1 %s, (R0)", vlist(0, 2*nv, "D2"))
	if spread {
		f.Op("VST1 %s, (R2)", vlist(0, 2*nv, "D2"))
	}
	f.Label(l("chunk0"))
	f.Op("MOVD R7, R10")
	if ce {
		f.Zero(vPlJ)
	}
	f.Label(l("chunk"))
	f.Op("MOVD $%d, R11", neonPlanarChunk)
	f.Op("CMP R11, R10")
	f.Op("CSEL LT, R10, R11, R11")
	f.Op("SUB R11, R10, R10")
	f.Label(l("class"))
	mark = f.Count()
	f.Op("VLD1.P (R9)(R12), %s", vlist(vPlX, nv, "S4"))
	for v := range neon.Reg(nv) {
		x, e, msk := vPlX+v, vPlE+v, vPlMsk+v
		if ce {
			f.Cmeq(msk, vPlT+v, vPlJ)
			f.Bit(vPlZt+v, x, msk) // z_t = z_j where t == j
		}
		f.Fsub(x, x, vPlM+v)
		if spread {
			f.Bic(4+v, x, msk)
			f.Fadd(vPlN+v, vPlN+v, 4+v)
		}
		f.exp(x, e, 4+v, 6+v, 8+v)
		if ce {
			f.Bic(e, e, msk)
		}
		f.Fadd(vPlS+v, vPlS+v, e)
	}
	if ce {
		f.AddS(vPlJ, vPlJ, vPlOne)
	}
	f.Op("SUB $1, R11")
	f.Op("CBNZ R11, %s", l("class"))
	f.LoopNote(mark, 4*nv)
	f.Op("CBZ R10, %s", l("sums"))
	f.Comment("another chunk follows: add the float32 sums to the float64 ones")
	planarFlushNEON(f, nv, spread, true, true)
	f.Op("B %s", l("chunk"))
	f.Label(l("sums"))
	f.Op("CMP $%d, R7", neonPlanarChunk)
	f.Op("BHI %s", l("sumsAdd"))
	planarFlushNEON(f, nv, spread, false, false)
	f.Op("B %s", l("stored"))
	f.Label(l("sumsAdd"))
	planarFlushNEON(f, nv, spread, true, false)
	f.Label(l("stored"))
	f.Op("ADD $%d, R0", 2*vb)
	if ce {
		f.Op("VST1.P %s, %d(R1)", vlist(vPlZt, nv, "S4"), vb)
		if spread {
			f.Op("ADD $%d, R2", 2*vb)
		}
	}
	f.Op("ADD $%d, R4", vb)
}

// planarFlushNEON widens the float32 sums (and the spread) to float64 and stores them at R0 (R2),
// adding what is there when add is set; clear then zeroes the float32 sums for the next chunk.
func planarFlushNEON(f *neonFile, nv int, spread, add, clear bool) {
	type acc struct {
		src neon.Reg
		ptr string
	}
	accs := []acc{{vPlS, "R0"}, {vPlN, "R2"}}
	if !spread {
		accs = accs[:1]
	}
	for _, a := range accs {
		for v := range neon.Reg(nv) {
			f.Fcvtl(4+2*v, a.src+v)
			f.Fcvtl2(5+2*v, a.src+v)
		}
		if add {
			f.Op("VLD1 (%s), %s", a.ptr, vlist(0, 2*nv, "D2"))
			for r := range neon.Reg(2 * nv) {
				f.Fadd2d(4+r, 4+r, r)
			}
		}
		f.Op("VST1 %s, (%s)", vlist(4, 2*nv, "D2"), a.ptr)
		if clear {
			for v := range neon.Reg(nv) {
				f.Zero(a.src + v)
			}
		}
	}
}
