package main

import (
	"fmt"

	"github.com/ohem-go/ohem/asm/neon"
)

// ceTiledNEON: row-major cross-entropy reductions across rows for small and medium C, 4 rows at a
// time through 4×4 tiles, the NEON counterpart of the amd64 tiled kernels (ce_medium.go). A tile's
// 4 rows are loaded a vector each and transposed (TRN1/TRN2 on 32-bit lanes, then on 64-bit
// halves: 8 instructions for 4 columns) into a column buffer, a vector per class with lane r for
// row r; the max pass and the exp pass then go down the columns, as ceSmallNEON does, but the exp
// pass reads each column with one load where ceSmallNEON loads its 4 lanes one by one (and the max
// pass does too). It leaves what ceSmallNEON leaves, per row m, s = Σ_{j≠t} e^{z_j−m}, z_t and
// k·Σ_{j≠t} (z_j − m), and Go finishes each row (rowTier.finishBlock, rows_asm.go).
//
// R0 s, R1 zt, R2 neg, R3 mx, R4 the group's first row, R5 t, R6 rows left, R7 C, R8 4·C, R9 the
// tile's first row, R10 a counter, R11 a row of the tile, R12 the column buffer's cursor, R13 the
// column counter, R14 the column buffer. V16 the maxima, V17 the targets, V18 the class index, V19
// ones, V20 the sum, V21 z_t, V22 the spread, V23 the second maxima, V27 k, V28–V31 exp.
func genTiledNEON(f *neonFile) {
	f.Text("ceTiledNEON", []string{"s []float32", "zt []float32", "neg []float32", "mx []float32",
		"x []float32", "t []int32", "col []float32", "c int", "k float32"}, nil,
		"sets, for every row i of the row-major [len(t)][c] logits x (len(t) a multiple of 4, c >= 1),",
		"mx[i] = m = max_j x[i][j], s[i] = Σ_{j≠t[i]} e^{x[i][j]−m}, zt[i] = x[i][t[i]] and",
		"neg[i] = k·Σ_{j≠t[i]} (x[i][j] − m); what it writes for a row with t[i] < 0 means nothing.",
		fmt.Sprintf("It reads up to %d floats past the last row (x must extend that far); col holds 4·(c + %d) floats.", neonTiledOverread, neonTiledColPad))
	f.acrossRowsArgs(func() { f.LdArg("col", "R14") })

	// tile loads the 4 rows of the tile at R9 into V0–V3 and transposes them into the columns
	// V0–V3 (lane r: row r), which it stores at R12 (advanced).
	tile := func() {
		f.Op("VLD1 (R9), [V0.S4]")
		f.Op("ADD R8, R9, R11")
		f.Op("VLD1 (R11), [V1.S4]")
		f.Op("ADD R8, R11, R11")
		f.Op("VLD1 (R11), [V2.S4]")
		f.Op("ADD R8, R11, R11")
		f.Op("VLD1 (R11), [V3.S4]")
		f.Op("VTRN1 V1.S4, V0.S4, V4.S4") // r0[0] r1[0] r0[2] r1[2]
		f.Op("VTRN2 V1.S4, V0.S4, V5.S4") // r0[1] r1[1] r0[3] r1[3]
		f.Op("VTRN1 V3.S4, V2.S4, V6.S4")
		f.Op("VTRN2 V3.S4, V2.S4, V7.S4")
		f.Op("VTRN1 V6.D2, V4.D2, V0.D2") // column 0
		f.Op("VTRN1 V7.D2, V5.D2, V1.D2") // column 1
		f.Op("VTRN2 V6.D2, V4.D2, V2.D2") // column 2
		f.Op("VTRN2 V7.D2, V5.D2, V3.D2") // column 3
		f.Op("VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R12)")
	}

	f.Label("group")
	f.Op("CBZ R6, done")
	f.Comment("max pass: the group's columns, a 4×4 tile at a time, into the column buffer")
	f.ConstU32(16, 0xff800000)
	f.Mov(23, 16)
	f.Op("MOVD R4, R9")
	f.Op("MOVD R14, R12")
	f.Op("LSR $2, R7, R10")
	f.Label("tile")
	f.Op("CBZ R10, part")
	mark := f.Count()
	tile()
	f.Fmax(16, 16, 0)
	f.Fmax(23, 23, 1)
	f.Fmax(16, 16, 2)
	f.Fmax(23, 23, 3)
	f.Op("ADD $16, R9")
	f.Op("SUB $1, R10")
	f.Op("B tile")
	f.LoopNote(mark, 16)
	f.Label("part")
	f.Comment("the last C mod 4 columns: a tile that reads past the rows' last column, whose extra columns")
	f.Comment("are stored but left out of the maximum (and never reached by the exp pass)")
	f.Op("AND $3, R7, R10")
	f.Op("CBZ R10, maxDone")
	tile()
	f.Op("CMP $2, R10")
	f.Op("BLT part1")
	f.Op("BEQ part2")
	f.Fmax(16, 16, 2)
	f.Label("part2")
	f.Fmax(23, 23, 1)
	f.Label("part1")
	f.Fmax(16, 16, 0)
	f.Label("maxDone")
	f.Fmax(16, 16, 23)

	f.Comment("exp pass, down the columns")
	f.Op("MOVD R14, R12")
	f.Op("VLD1 (R5), [V17.S4]")
	f.columnExpPass(func(v neon.Reg) { f.Op("VLD1.P 16(R12), [V%d.S4]", v) })
}
