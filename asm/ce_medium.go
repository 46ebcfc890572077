package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Row-major cross-entropy and log-sum-exp for medium class counts (a few dozen to a few hundred:
// COCO's 81, detection and RoI heads). The row-at-a-time kernel (genRowsLarge) pays, per row, two
// horizontal reductions, a scalar finish, a split around the target and masked tails; on short
// rows that is most of the time. These kernels take the rows a group of lanes rows (8 or 16) at a
// time and go along each row with vertical operations only:
//
//   - pass 1: per row, the vertical maximum of its vectors (two accumulators; the last partial
//     vector through a tail mask made once per call, C mod lanes being the same for every row, on
//     AVX-512, and on AVX2 as the whole vector that ends at the row's end), stored to the row's
//     slot of the scratch;
//   - reduceRows reduces the group's slots all at once by a transpose whose every stage also
//     reduces (2·lanes − 2 shuffles and lanes − 1 operations for lanes rows, where a horizontal
//     reduction costs each row about 8 dependent instructions): the group's maxima in one vector,
//     lane r for row r;
//   - pass 2: per row, e^{z_j−m} summed vertically (m broadcast from that vector), the target's
//     lane excluded by a compare with a table of class indices, so that the sum is Σ_{j≠t} and a
//     tiny loss is never the difference of two sums; with smoothing also the spread; reduced the
//     same way; the target logits come from one gather per group. Pass 2 is bound by arithmetic
//     and prefetches the next group's rows, which pass 1 would otherwise wait for;
//   - when 0 < C mod lanes <= lanes/2: the rows' last C mod lanes columns go through a half tile
//     (tailColumns, as in the tiled kernels; the last, partial group's from a padded copy) into
//     the column buffer, a vector per class, instead of a partial vector per row in each pass;
//     their maxima join the rows' and their terms the rows' sums (tailSums), in the same order in
//     every group, so that a row's loss does not depend on where a call starts. ceMediumGrad
//     still walks each row's tail in pass 2 for the gradient's stores, without summing it, and so
//     gives ceMedium's losses to the bit. COCO's 81 classes on AVX-512: 5 vectors a row and one
//     for the group, against 6 vectors a row (Zen 5, logits in L2, alternated rounds:
//     CrossEntropy +8% at C = 81 on AVX-512, +5% on AVX2; LogSumExp +8–9% at 81 and 100);
//   - after the block's groups (up to mediumBlock rows a call), a finish loop turns each group's
//     vectors into losses and statistics with finishRows, as the small-C kernel does: one exp and
//     one log1p per lane, not per row, and the groups' chains independent of each other.
//
// For the smaller C (the tiled kernels, ceTiled and lseTiled) a group's rows go through lanes×lanes
// tiles instead: a tile's rows are interleaved within 128-bit blocks (VUNPCKLPS/HPS, VUNPCKLPD/HPD)
// and its blocks exchanged (VSHUFF32X4, VPERM2F128), 4 shuffles a column on AVX-512 and 3 on AVX2,
// into a column buffer: a vector per class, lane r for row r. The maximum and the exp pass are then
// vertical over whole columns: every lane of every exp counts (along the rows, C = 25 fills 25 of 32
// lanes on AVX-512), the target's lane is excluded by one compare with the class index, and there
// is no per-row work at all: no slots, no reductions. The last tile's columns past C are −Inf
// (masked loads), which leaves the maximum alone, and pass 2 stops at C; when it has at most lanes/2
// columns, a half tile takes it at half the shuffles (halfTile). Pass 2 prefetches the next group's
// lines, one a column on AVX-512.
//
// A group's rows are read twice: the second time from L1 (16 rows of 256 classes are 16 KB). Every
// row before n is read, an ignored one too: a row only ever affects its own lane (the rows past n
// are skipped; the tiled kernels take whole groups, the Go glue pads the last one with rows of
// zeros). Each float32 partial sum holds at most ⌈C/(2·lanes)⌉ terms before the reduction's
// log2(lanes) additions (the tiled kernels: ⌈C/2⌉ <= 32), so a sum carries at most ~36 roundings
// (2e-6 relative), well inside the loss bound, with no float64 flushes.
//
// Measured on Zen 5 (4M logits per call, one thread), two rows side by side in the row loops and
// pass 1 running a group ahead of pass 2 were faster only while the logits sat in L2, and slower
// (by 10–25% at C = 81 to 256) when they streamed from memory; so one row at a time, the groups
// in order. Only VEX and EVEX forms, and no VMASKMOVPS stores (microcoded on AMD cores): AVX2 takes
// a row's last, partial vector as the whole vector that ends at the row's end, its lanes before the
// partial part masked out of the sums (and, in ceMediumGrad, stored again with the values they
// have); the tiled kernels' partial tile is a VMASKMOVPS load (fast on both vendors); AVX-512 uses
// opmasks, fast on both.
func genMedium(t tier) {
	genMediumKernel(t, false, false, false)
	genMediumKernel(t, true, false, false)
	genMediumKernel(t, false, true, false)
	genMediumKernel(t, true, true, false)
	genMediumKernel(t, false, false, true)
}

// mediumMaxC is the largest C the medium kernels take: the class-index table covers it.
const mediumMaxC = 512

// mediumConstSlots is the number of vector slots of the scratch that ceSetup may fill.
const mediumConstSlots = 16

// mediumIndexTable returns the int32 class indices 0, 1, ..., mediumMaxC+15, which pass 2 compares
// with the row's target, a vector at a time.
func mediumIndexTable() Mem {
	w := make([]uint32, mediumMaxC+16)
	for i := range w {
		w[i] = uint32(i)
	}
	return u32Table("mediumIndex", w)
}

// mediumBlock is the most rows one call of a medium kernel takes: the reductions of that many rows
// wait in the scratch for the finish loop.
const mediumBlock = 256

// mediumScratchFloats is the size of the scratch the medium kernels take, in float32s.
const mediumScratchFloats = 3456

// tiledMaxC is the largest C the tiled kernels take: their column buffer holds that many columns.
const tiledMaxC = 64

// mediumGen holds the state of one medium kernel being generated.
type mediumGen struct {
	t                tier
	lse, tiled, grad bool
	tmax, lsum       reg.VecVirtual // the finish's checks: the largest target, the sum of the losses
	L, B             int            // lanes, bytes per vector
	lbl              string         // kernel name with the tier suffix, for labels

	// Few general registers stay live through the row loops (avo has 14 to give): the per-call
	// scalars wait in the scratch, the outputs' bases in the frame until the finish.
	left, tpG, xg, scr, c reg.GPVirtual

	// The scratch: constants (mediumConstSlots vectors), the slots of a group's rows for pass 1,
	// pass 2 and the spread (lanes vectors each), the AVX2 tail mask, the gather's offsets, the
	// scalars (64 bytes), then per row of the block s, m, zt and the spread (mediumBlock floats each).
	maxOff, sumOff, tailOff, gatherOff, ovlOff, scalarOff int
	sArr, mArr, ztArr, negArr                             int
	rArr                                                  int // ceMediumGrad: each row's gradient scale s0/S, 0 for a row of zeros
	colOff                                                int // the tiled kernels' column buffer: tiledMaxC vectors

	gdM                                 Mem // ceMediumGrad: g's base − x's base
	strideM, fullM, pairM, remM, groupM Mem
	// ceMedium and lseMedium: C mod lanes for the row loops, 0 for a group whose last columns go
	// through a half tile instead (tailColumns)
	rowRemM Mem
	// the rows to read from the group's first on (n, then less lanes a group); for the tiled
	// kernels C and C − 2
	rowsM, cM, cPairM Mem
	// AVX2 along the rows: the row's last, partial vector is the whole vector that ends at the row's
	// end (no masked load or store: a VMASKMOVPS store is microcoded on AMD cores), at off + ovlM
	// (C mod 8 − 8 floats past the whole vectors), its new lanes (the last C mod 8) in ovlMaskM
	ovlM                     Mem
	tailM, gatherM, ovlMaskM Mem

	ec     expConsts
	lc     logConsts
	fc     finishConsts
	smooth reg.GPVirtual
	half   Op
	zeroV  reg.VecVirtual
	kTail  reg.Register // AVX-512: the tail's opmask

	idx             reg.GPVirtual // the class-index table
	grp             reg.GPVirtual // the group's reductions: at grp + sArr, mArr, ...
	row, r, sp, off reg.GPVirtual
	grow            reg.GPVirtual // ceMediumGrad, pass 2: the row's gradient, at row + (g − x)
}

// genMediumKernel emits ceMedium, or lseMedium with lse set; with tiled ceTiled or lseTiled, which
// go through a group's rows in lanes×lanes tiles instead (see mediumGen.tiles); with grad ceMediumGrad,
// ceMedium that also writes the gradient (ForwardBackward's fused pass): pass 2 stores each
// e^{z_j−m} it sums into the row of g, and after the finish a last pass over the block's rows turns
// them into s0·e/S + nq (S = Σ_j e^{z_j−m}), or zeros for a row that is ignored or whose loss is
// below lim (a row the selection is predicted to drop); the Go glue sets the target's element
// from pt. One exp per logit, where the losses and then a separate gradient pass take two.
func genMediumKernel(t tier, lse, tiled, grad bool) {
	g := &mediumGen{t: t, lse: lse, tiled: tiled, grad: grad, L: t.lanes, B: t.bytes()}
	g.text()
	g.prologue()
	g.scalars()
	g.groups()
	g.finish()
	if grad {
		normalizeRows(t, g.lbl, g.scr, g.rArr, g.strideM, g.fullM, g.remM, g.ovlM, g.ovlMaskM, g.kTail)
	}
	VZEROUPPER()
	RET()
}

// text starts the kernel.
func (g *mediumGen) text() {
	t := g.t
	var name string
	switch {
	case g.grad:
		name = "ceMediumGrad"
		t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32, g []float32, s0, nq, lim float32) (tmax int32, nan bool)",
			"is ceMedium (len(m) > 0) that also writes the gradient of the n rows to g (the layout of x):",
			"g[i][j] = s0·e^{x[i][j]−m}/S + nq, S = Σ_j e^{x[i][j]−m}, for a row with t[i] >= 0 and",
			"loss[i] >= lim (the glue overwrites the target's element), and 0 for every other row.")
	case g.tiled && g.lse:
		name = "lseTiled"
		t.text(name, "func(dst []float32, x []float32, scratch []float32, n, c int)",
			"is lseMedium for 1 <= c <= 64 that reads a group's rows in lanes×lanes tiles; n == len(dst).")
	case g.tiled:
		name = "ceTiled"
		t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32) (tmax int32, nan bool)",
			"is ceMedium for 1 <= c <= 64 that reads a group's rows in lanes×lanes tiles; n == len(t).")
	case g.lse:
		name = "lseMedium"
		t.text(name, "func(dst []float32, x []float32, scratch []float32, n, c int)",
			"sets dst[i] = log Σ_j e^{x[i][j]} for the n rows of the row-major [n][c] logits x (NaN for a",
			"row with a NaN, a +Inf or only −Inf). len(dst) is n rounded up to a multiple of the lanes, at",
			"most 256 (the rows past n are not read); lanes <= c <= 512; scratch holds 3456 floats.")
	default:
		name = "ceMedium"
		t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32) (tmax int32, nan bool)",
			"sets loss[i] to the cross-entropy of row i of the row-major [n][c] logits x, smoothed by eps,",
			"fill where t[i] < 0 (such a row is read, but it affects no other), NaN for a bad row; with",
			"len(m) > 0 also m[i], ls[i], pt[i]. len(t) is n rounded up to a multiple of the lanes, at most",
			"256, and the rows past n are not read (their t must be < 0); lanes <= c <= 512; scratch holds",
			"3456 floats. It returns tmax, the largest t[i] (at least −1), and nan, some loss written may be",
			"NaN (false: none is).")
	}
	g.lbl = name + t.suffix
}

func (g *mediumGen) gp() reg.GPVirtual { return GP64().(reg.GPVirtual) }

// ld loads the parameter component c into a new register.
func (g *mediumGen) ld(c gotypes.Component) reg.GPVirtual { r := g.gp(); Load(c, r); return r }

// at is the scratch at the byte offset off.
func (g *mediumGen) at(off int) Mem { return Mem{Base: g.scr, Disp: off} }

// xm is the logits of the row at off + d; im the class indices there.
func (g *mediumGen) xm(d int) Mem { return Mem{Base: g.row, Index: g.off, Scale: 1, Disp: d} }
func (g *mediumGen) im(d int) Mem { return Mem{Base: g.idx, Index: g.off, Scale: 1, Disp: d} }

// prologue loads the parameters, lays out the scratch and sets up the constants.
func (g *mediumGen) prologue() {
	t, L, B := g.t, g.L, g.B
	if g.lse {
		g.left = g.ld(Param("dst").Len())
	} else {
		g.left = g.ld(Param("loss").Len())
		g.tpG = g.ld(Param("t").Base())
	}
	g.xg = g.ld(Param("x").Base())
	g.scr = g.ld(Param("scratch").Base())
	Comment("the scratch, from its first 64-byte boundary on")
	ADDQ(U8(63), g.scr)
	ANDQ(I8(-64), g.scr)
	g.c = g.ld(Param("c"))

	g.maxOff = mediumConstSlots * B
	g.sumOff = g.maxOff + L*B
	g.tailOff = g.sumOff + 2*L*B
	g.gatherOff = g.tailOff + B
	g.ovlOff = g.gatherOff + B
	g.scalarOff = g.ovlOff + B
	g.sArr = g.scalarOff + 128
	g.mArr = g.sArr + 4*mediumBlock
	g.ztArr = g.mArr + 4*mediumBlock
	g.negArr = g.ztArr + 4*mediumBlock
	g.rArr = g.negArr + 4*mediumBlock
	g.colOff = g.rArr + 4*mediumBlock
	check(g.colOff+tiledMaxC*B+64 <= 4*mediumScratchFloats, "medium scratch too small")
	check(L/2*B+L*32 <= tiledMaxC*B, "the tail columns' copy does not fit the column buffer")
	so := g.scalarOff
	g.gdM = g.at(so + 64)
	g.strideM, g.fullM, g.pairM, g.remM, g.groupM = g.at(so), g.at(so+8), g.at(so+16), g.at(so+24), g.at(so+32)
	g.rowsM, g.cM, g.cPairM = g.at(so+40), g.at(so+48), g.at(so+56)
	g.rowRemM = g.remM
	if g.tailCols() {
		g.rowRemM = g.at(so + 72)
	}
	g.ovlM = g.cM
	g.tailM, g.gatherM, g.ovlMaskM = g.at(g.tailOff), g.at(g.gatherOff), g.at(g.ovlOff)

	if g.lse {
		g.ec = t.loadExpConsts()
		g.lc = t.sharedLogConsts(g.ec)
		t.spillLogConsts(&g.lc, g.scr, 0)
	} else {
		g.ec, g.lc, g.fc, g.smooth = t.ceSetup(g.scr, g.c)
	}
	g.half = g.lc.half
	g.zeroV = g.fc.zero
	if g.lse {
		g.zeroV = t.zero()
	}

	if g.grad {
		v := g.ld(Param("g").Base())
		SUBQ(g.xg, v)
		MOVQ(v, g.gdM)
	}
}

// scalars computes the per-call scalars into the scratch, then sets up the registers of the row
// loops.
func (g *mediumGen) scalars() {
	t, L, B, c := g.t, g.L, g.B, g.c
	Comment("scalars: bytes per row, of a row's whole vectors (and that less two vectors), of a group of rows;")
	Comment("C mod lanes and its tail mask; lane·C, the gather's offsets of the rows of a group")
	v, rem := g.gp(), g.gp()
	MOVQ(c, v)
	SHLQ(U8(2), v)
	MOVQ(v, g.strideM)
	SHLQ(U8(map[int]uint8{8: 3, 16: 4}[L]), v)
	MOVQ(v, g.groupM)
	MOVQ(c, v)
	SHLQ(U8(2), v)
	ANDQ(I32(-B), v)
	MOVQ(v, g.fullM)
	SUBQ(U32(2*B), v)
	MOVQ(v, g.pairM)
	MOVQ(c, rem)
	ANDQ(U8(L-1), rem)
	MOVQ(rem, g.remM)
	if g.tailCols() {
		g.tailColumnsFlag(rem)
	}
	Load(Param("n"), v)
	MOVQ(v, g.rowsM)
	if g.tiled {
		MOVQ(c, g.cM)
		MOVQ(c, v)
		SUBQ(U8(2), v)
		MOVQ(v, g.cPairM)
	} else {
		LEAQ(Mem{Base: rem, Index: rem, Scale: 2}, v) // 3·rem
		ADDQ(rem, v)                                  // 4·rem
		SUBQ(U8(B), v)
		MOVQ(v, g.ovlM)
	}
	iota := t.vec()
	t.loadInt(intTable("iota16", func(i int) int { return i }), iota)
	cv, cb := XMM(), t.vec()
	VMOVQ(c, cv) // VEX: a legacy MOVQ would cost an SSE/AVX transition on Intel cores
	VPBROADCASTD(cv, cb)
	VPMULLD(iota, cb, cb)
	if t.zmm {
		VMOVDQU32(cb, g.gatherM)
		ones, bits := GP32(), GP32()
		MOVL(U32(0xFFFF), ones)
		BZHIL(rem.As32(), ones, bits)
		g.kTail = K()
		KMOVW(bits, g.kTail)
	} else {
		VMOVDQU(cb, g.gatherM)
		rv, mask := XMM(), t.vec()
		VMOVQ(rem, rv)
		VPBROADCASTD(rv, mask)
		VPCMPGTD(iota, mask, mask) // rem > lane
		VMOVDQU(mask, g.tailM)
		Comment("the overlapping last vector's new lanes: lane >= 8 − rem, that is lane + rem > 7")
		ov := t.vec()
		VPBROADCASTD(rv, ov)
		VPADDD(iota, ov, ov)
		VPCMPGTD(t.cu("seven", 7), ov, ov)
		VMOVDQU(ov, g.ovlMaskM)
	}
	if !g.lse {
		g.idx = g.gp()
		LEAQ(mediumIndexTable(), g.idx)
	}
	g.grp = g.gp()
	MOVQ(g.scr, g.grp)
	g.row, g.r, g.sp, g.off = g.gp(), g.gp(), g.gp(), g.gp()
}

// groups emits the loop over the block's groups of rows: pass 1 and pass 2, or the tiles, each
// with and without the spread when the kernel smooths.
func (g *mediumGen) groups() {
	lbl, L, B := g.lbl, g.L, g.B
	pass := func(name string, sm bool) {
		if g.tiled {
			g.tiles(name, sm)
		} else {
			g.pass2(name, sm)
		}
		if g.tailCols() {
			g.tailSums(name, sm)
		}
	}
	plain, spread := "Exp", "ExpSpread"
	if g.tiled {
		plain, spread = "T", "TSpread"
	}
	Label(lbl + "Group")
	TESTQ(g.left, g.left)
	JZ(LabelRef(lbl + "Finish"))
	if !g.tiled {
		g.pass1()
	}
	if g.lse {
		pass(plain, false)
	} else {
		TESTQ(g.smooth, g.smooth)
		JNZ(LabelRef(lbl + "Smooth"))
		pass(plain, false)
		JMP(LabelRef(lbl + "Sums"))
		Label(lbl + "Smooth")
		pass(spread, true)
		Label(lbl + "Sums")
		ADDQ(U32(B), g.tpG)
	}
	ADDQ(U32(B), g.grp)
	ADDQ(g.groupM, g.xg)
	SUBQ(U32(L), g.rowsM)
	SUBQ(U32(L), g.left)
	JMP(LabelRef(lbl + "Group"))
}

// rowLoop emits a loop over the group's rows, body for each row before n (row = its start, sp
// its slot, r its index), skip for the others. Every row before n is read, an ignored one (t <
// 0) too: it only affects its own lane of the group's vectors.
func (g *mediumGen) rowLoop(pass string, slots int, body, skip func()) {
	lbl, row, r, sp := g.lbl, g.row, g.r, g.sp
	MOVQ(g.xg, row)
	if g.grow != nil {
		MOVQ(g.xg, g.grow)
		ADDQ(g.gdM, g.grow)
	}
	XORQ(r, r)
	LEAQ(g.at(slots), sp)
	Label(lbl + pass + "Row")
	CMPQ(r, g.rowsM)
	JGE(LabelRef(lbl + pass + "Skip"))
	body()
	Label(lbl + pass + "Next")
	ADDQ(g.strideM, row)
	if g.grow != nil {
		ADDQ(g.strideM, g.grow)
	}
	ADDQ(U32(g.B), sp)
	INCQ(r)
	CMPQ(r, U8(g.L))
	JB(LabelRef(lbl + pass + "Row"))
	JMP(LabelRef(lbl + pass + "Done"))
	Label(lbl + pass + "Skip")
	skip()
	JMP(LabelRef(lbl + pass + "Next"))
	Label(lbl + pass + "Done")
}

// vectors emits the walk over a row's whole vectors from the byte offset off on, two at a time
// (step(a, d) for the vector at off + d, into accumulator a), then the tail, if C mod lanes != 0.
func (g *mediumGen) vectors(pass string, step func(a, d int), tail func()) {
	lbl, off, B := g.lbl, g.off, g.B
	Label(lbl + pass + "Pair")
	CMPQ(off, g.pairM)
	JG(LabelRef(lbl + pass + "One"))
	step(0, 0)
	step(1, B)
	ADDQ(U32(2*B), off)
	JMP(LabelRef(lbl + pass + "Pair"))
	Label(lbl + pass + "One")
	CMPQ(off, g.fullM)
	JGE(LabelRef(lbl + pass + "Tail"))
	step(0, 0)
	ADDQ(U32(B), off)
	Label(lbl + pass + "Tail")
	rem := g.rowRemM
	if g.grad {
		rem = g.remM // the gradient's stores: every row's tail, summed or not (term)
	}
	CMPQ(rem, U8(0))
	JE(LabelRef(lbl + pass + "End"))
	tail()
	Label(lbl + pass + "End")
}

// pass1 emits pass 1 over the group: each row's vertical maximum into its slot, then the
// group's maxima, lane r for row r, into its vector of mArr.
func (g *mediumGen) pass1() {
	t := g.t
	g.rowLoop("Max", g.maxOff, func() {
		acc := [2]reg.VecVirtual{t.vec(), t.vec()}
		VMOVUPS(Mem{Base: g.row}, acc[0])
		VMOVUPS(acc[0], acc[1])
		MOVQ(U32(g.B), g.off)
		g.vectors("Max", func(a, d int) {
			VMAXPS(g.xm(d), acc[a], acc[a])
		}, func() {
			if t.zmm {
				VMAXPS(g.xm(0), acc[1], g.kTail, acc[1]) // masked-off lanes keep acc and are not read
				return
			}
			ADDQ(g.ovlM, g.off) // the whole vector that ends at the row's end: max is idempotent
			VMAXPS(g.xm(0), acc[1], acc[1])
		})
		VMAXPS(acc[1], acc[0], acc[0])
		VMOVUPS(acc[0], Mem{Base: g.sp})
	}, func() {
		VMOVUPS(g.zeroV, Mem{Base: g.sp})
	})
	mx := t.reduceRows(g.at(g.maxOff), func(a, b, d Op) { VMAXPS(a, b, d) })
	VMOVUPS(mx, Mem{Base: g.grp, Disp: g.mArr})
	if g.tailCols() {
		g.tailColumns(mx)
	}
}

// tailCols reports whether the kernel takes a group's last C mod lanes columns, when there are
// at most lanes/2 of them, through a half tile (the kernels along the rows). ceMediumGrad still
// walks each row's tail in pass 2, for the gradient's stores, but sums the columns' terms as
// ceMedium does, so that its losses stay ceMedium's to the bit.
func (g *mediumGen) tailCols() bool { return !g.tiled }

// tailColumnsFlag emits rowRemM, for the call: 0 when the rows' last columns go through the
// half tile (0 < C mod lanes <= lanes/2), C mod lanes (rem) otherwise.
func (g *mediumGen) tailColumnsFlag(rem reg.GPVirtual) {
	lbl, L := g.lbl, g.L
	rr := g.gp()
	MOVQ(rem, rr)
	CMPQ(rr, U8(L/2))
	JA(LabelRef(lbl + "RowRem"))
	XORQ(rr, rr)
	Label(lbl + "RowRem")
	MOVQ(rr, g.rowRemM)
}

// tailColumns emits, when the rows left their last C mod lanes columns out (rowRemM 0, C mod
// lanes not), the half tile of those columns into the column buffer, and the group's maxima, mx
// (the rows' whole vectors) and the columns', into mArr. Along the rows, a partial last vector
// costs a row as much as a whole one (COCO's 81 classes: 6 vectors a row for 81 floats); through
// the half tile it costs the group a vector of exp a column. A row's loss must not depend on
// where its group starts (Workers split the rows anywhere), so the last, partial group takes its
// columns the same way, from a copy: its rows' last columns, stride 32 bytes, zeros for the rows
// past n, which the half tile must not read.
func (g *mediumGen) tailColumns(mx reg.VecVirtual) {
	t, lbl, L := g.t, g.lbl, g.L
	CMPQ(g.rowRemM, U8(0))
	JNE(LabelRef(lbl + "NoTailCols"))
	CMPQ(g.remM, U8(0))
	JE(LabelRef(lbl + "NoTailCols"))
	ts := &tileState{ninf: t.vec(), acc: [2]reg.VecVirtual{mx, t.vec()}, s1: g.gp(), tb: g.gp(), cbp: g.gp()}
	MOVQ(g.strideM, ts.s1)
	MOVQ(g.xg, ts.tb)
	ADDQ(g.fullM, ts.tb)
	CMPQ(g.rowsM, U8(L))
	JGE(LabelRef(lbl + "TailTile"))
	Comment("the last, partial group: its rows' last columns copied, zeros past n")
	pad, r, j, f := g.gp(), g.gp(), g.gp(), GP32()
	LEAQ(g.at(g.colOff+L/2*g.B), pad)
	z := t.zero()
	for k := range L * 32 / g.B {
		VMOVUPS(z, Mem{Base: pad, Disp: k * g.B})
	}
	XORQ(r, r)
	Label(lbl + "PadRow")
	CMPQ(r, g.rowsM)
	JGE(LabelRef(lbl + "PadDone"))
	XORQ(j, j)
	Label(lbl + "PadCol")
	MOVL(Mem{Base: ts.tb, Index: j, Scale: 4}, f)
	MOVL(f, Mem{Base: pad, Index: j, Scale: 4})
	INCQ(j)
	CMPQ(j, g.remM)
	JB(LabelRef(lbl + "PadCol"))
	ADDQ(ts.s1, ts.tb)
	ADDQ(U8(32), pad)
	INCQ(r)
	JMP(LabelRef(lbl + "PadRow"))
	Label(lbl + "PadDone")
	LEAQ(g.at(g.colOff+L/2*g.B), ts.tb)
	MOVQ(U32(32), ts.s1)
	Label(lbl + "TailTile")
	VMOVUPS(t.cu("negInf", 0xff800000), ts.ninf)
	VMOVAPS(ts.ninf, ts.acc[1])
	LEAQ(g.at(g.colOff), ts.cbp)
	g.halfTile(ts)
	VMAXPS(ts.acc[1], ts.acc[0], ts.acc[0])
	VMOVUPS(ts.acc[0], Mem{Base: g.grp, Disp: g.mArr})
	Label(lbl + "NoTailCols")
}

// tailSums emits, for a group whose last columns went through the half tile, their terms: the
// column buffer's Σ e^{z_j−m} lane by lane, the target's lane excluded (and with sm the spread),
// added to the group's sums in sArr (and negArr).
func (g *mediumGen) tailSums(pass string, sm bool) {
	t, lbl, B := g.t, g.lbl, g.B
	CMPQ(g.rowRemM, U8(0))
	JNE(LabelRef(lbl + pass + "NoTailSums"))
	CMPQ(g.remM, U8(0))
	JE(LabelRef(lbl + pass + "NoTailSums"))
	rs := &rowSums{sm: sm, mb: t.vec()}
	VMOVUPS(Mem{Base: g.grp, Disp: g.mArr}, rs.mb)
	var idx reg.GPVirtual
	if !g.lse {
		rs.tb = t.vec()
		t.loadInt(Mem{Base: g.tpG}, rs.tb)
		idx = g.gp() // the columns' class indices: from C − C mod lanes on
		MOVQ(g.idx, idx)
		ADDQ(g.fullM, idx)
	}
	if sm {
		rs.mh = t.vec()
		VMULPS(g.half, rs.mb, rs.mh)
		rs.sacc = t.vec()
		VMOVUPS(Mem{Base: g.grp, Disp: g.negArr}, rs.sacc)
	}
	rs.acc = [2]reg.VecVirtual{t.vec(), t.vec()}
	VMOVUPS(Mem{Base: g.grp, Disp: g.sArr}, rs.acc[0])
	VXORPS(rs.acc[1], rs.acc[1], rs.acc[1])
	j, cbp := g.gp(), g.gp()
	XORQ(j, j)
	LEAQ(g.at(g.colOff), cbp)
	Label(lbl + pass + "TailCol")
	g.columnTerm(rs, cbp, nil, idx, j, 0, 0)
	INCQ(j)
	ADDQ(U32(B), cbp)
	CMPQ(j, g.remM)
	JB(LabelRef(lbl + pass + "TailCol"))
	VADDPS(rs.acc[1], rs.acc[0], rs.acc[0])
	VMOVUPS(rs.acc[0], Mem{Base: g.grp, Disp: g.sArr})
	if sm {
		VMOVUPS(rs.sacc, Mem{Base: g.grp, Disp: g.negArr})
	}
	Label(lbl + pass + "NoTailSums")
}

// gatherZt emits the gather of the group's target logits into ztArr (class 0 for an ignored row,
// and only the rows before n).
func (g *mediumGen) gatherZt(pass string) {
	t, lbl, L := g.t, g.lbl, g.L
	Comment("zt = the group's target logits, one gather (class 0 for an ignored row); on Intel cores whose")
	Comment("microcode slows gathers down (GDS), it is still one per lanes rows")
	tv, ti, zt := t.vec(), t.vec(), t.vec()
	t.loadInt(Mem{Base: g.tpG}, tv)
	VPMAXSD(g.fc.zero, tv, ti)
	VPADDD(g.gatherM, ti, ti)
	VXORPS(zt, zt, zt)
	Comment("only the rows before n: lane < rows left")
	lim := g.gp()
	MOVQ(g.rowsM, lim)
	if t.zmm {
		CMPQ(lim, U8(L))
		JLE(LabelRef(lbl + pass + "Rows"))
		MOVL(U32(L), lim.As32())
		Label(lbl + pass + "Rows")
		ones, bits := GP32(), GP32()
		MOVL(U32(0xFFFF), ones)
		BZHIL(lim.As32(), ones, bits)
		k := K()
		KMOVW(bits, k)
		VGATHERDPS(Mem{Base: g.xg, Index: ti, Scale: 4}, k, zt)
	} else {
		lv, mask := XMM(), t.vec()
		VMOVQ(lim, lv) // rows left may exceed the lanes: every lane is then below it
		VPBROADCASTD(lv, mask)
		VPCMPGTD(intTable("iota16", func(i int) int { return i }), mask, mask)
		VGATHERDPS(mask, Mem{Base: g.xg, Index: ti, Scale: 4}, zt)
		t.zeroInt(mask) // keeps mask live past the gather: its register must differ from zt's
	}
	t.zeroInt(ti) // keeps ti live past the gather, so the allocator cannot give it zt's register
	VMOVUPS(zt, Mem{Base: g.grp, Disp: g.ztArr})
}

// rowSums is the state of a vertical sum of pass 2 (one row) or of the tiled kernels' column sums
// (the group): the maxima m (mb: the row's broadcast, or the columns' maxima), the targets (tb: the
// row's broadcast, or the group's), with smoothing m/2 (mh) and the spread's accumulator (sacc),
// and the two accumulators of the sum.
type rowSums struct {
	sm               bool
	mb, tb, mh, sacc reg.VecVirtual
	acc              [2]reg.VecVirtual
	zt               reg.VecVirtual // the tiled kernels for small C: the target logits, selected
}

// pass2 emits pass 2 over the group: the target logits, gathered, into ztArr; each row's
// vertical Σ_{j≠t} e^{z_j−m} (the log-sum-exp: Σ_j) into its slot, with sm (smoothing) also
// 2ε/C·Σ_j (z_j/2 − m/2) into the spread's slot; then the group's sums into sArr (and negArr).
// The pass is bound by arithmetic, and it prefetches the next group's rows, the same lines a
// group further on, which pass 1 then finds in L1: without it, pass 1 waits on memory (at
// 4M logits per call, C = 128 to 256 ran 30–45% faster with it on Zen 5).
func (g *mediumGen) pass2(pass string, sm bool) {
	t, L, B := g.t, g.L, g.B
	if !g.lse {
		g.gatherZt(pass)
	}
	if g.grad {
		g.grow = g.gp()
		defer func() { g.grow = nil }()
	}
	g.rowLoop(pass, g.sumOff, func() {
		rs := &rowSums{sm: sm}
		rs.mb = t.vec()
		VBROADCASTSS(Mem{Base: g.grp, Index: g.r, Scale: 4, Disp: g.mArr}, rs.mb)
		if !g.lse {
			rs.tb = t.vec()
			VPBROADCASTD(Mem{Base: g.tpG, Index: g.r, Scale: 4}, rs.tb)
		}
		if sm {
			rs.mh = t.vec()
			VMULPS(g.half, rs.mb, rs.mh)
			rs.sacc = t.vec()
			VXORPS(rs.sacc, rs.sacc, rs.sacc)
		}
		rs.acc = [2]reg.VecVirtual{t.vec(), t.vec()}
		for _, a := range rs.acc {
			VXORPS(a, a, a)
		}
		XORQ(g.off, g.off)
		pf := g.gp() // the same row of the next group
		MOVQ(g.row, pf)
		ADDQ(g.groupM, pf)
		g.vectors(pass, func(a, d int) {
			if (d+B)%64 == 0 {
				prefetchT0(Mem{Base: pf, Index: g.off, Scale: 1, Disp: d + B - 64})
			}
			g.term(rs, pass, a, d, false)
		}, func() {
			g.term(rs, pass, 1, 0, true)
		})
		VADDPS(rs.acc[1], rs.acc[0], rs.acc[0])
		VMOVUPS(rs.acc[0], Mem{Base: g.sp})
		if sm {
			VMOVUPS(rs.sacc, Mem{Base: g.sp, Disp: L * B})
		}
	}, func() {
		VMOVUPS(g.zeroV, Mem{Base: g.sp})
		if sm {
			VMOVUPS(g.zeroV, Mem{Base: g.sp, Disp: L * B})
		}
	})
	s := t.reduceRows(g.at(g.sumOff), func(a, b, d Op) { VADDPS(a, b, d) })
	VMOVUPS(s, Mem{Base: g.grp, Disp: g.sArr})
	if sm {
		n := t.reduceRows(g.at(g.sumOff+L*B), func(a, b, d Op) { VADDPS(a, b, d) })
		VMOVUPS(n, Mem{Base: g.grp, Disp: g.negArr})
	}
}

// term adds e^{x−m} of the vector at off + d into acc[a], the target's lane excluded, and with
// smoothing 2ε/C·(x/2 − m/2) into sacc; tail: the row's last, partial vector (pass names its label).
func (g *mediumGen) term(rs *rowSums, pass string, a, d int, tail bool) {
	t, acc, sm := g.t, rs.acc, rs.sm
	x, dd, e := t.vec(), t.vec(), t.vec()
	var tm reg.VecVirtual // AVX2: the overlapping tail's new lanes
	switch {
	case tail && t.zmm:
		VMOVUPS_Z(g.xm(d), g.kTail, x)
	case tail:
		ADDQ(g.ovlM, g.off)
		tm = t.vec()
		VMOVUPS(g.ovlMaskM, tm)
		VMOVUPS(g.xm(d), x)
	default:
		VMOVUPS(g.xm(d), x)
	}
	if sm {
		VFMSUB132PS(g.half, rs.mh, x) // x/2 − m/2: (x − m)/2 exactly, and it cannot overflow
		VADDPS(x, x, dd)
	} else {
		VSUBPS(rs.mb, x, dd)
	}
	t.exp(g.ec, dd, e)
	if g.grad {
		gm := Mem{Base: g.grow, Index: g.off, Scale: 1, Disp: d}
		if tail && t.zmm {
			VMOVUPS(e, g.kTail, gm)
		} else {
			VMOVUPS(e, gm) // AVX2's tail: its old lanes get the values they have
		}
		if tail {
			Comment("the tail's terms when the group's last columns do not go through the half tile")
			skip := g.lbl + pass + "TailSummed"
			CMPQ(g.rowRemM, U8(0))
			JE(LabelRef(skip))
			defer Label(skip)
		}
	}
	if t.zmm {
		var keep reg.Register
		switch {
		case !g.lse && tail:
			keep = K()
			VPCMPD(U8(4), g.im(d), rs.tb, g.kTail, keep) // j != t, j < C
		case !g.lse:
			keep = K()
			VPCMPD(U8(4), g.im(d), rs.tb, keep) // j != t
		case tail:
			keep = g.kTail
		}
		if keep != nil {
			VADDPS(e, acc[a], keep, acc[a])
		} else {
			VADDPS(e, acc[a], acc[a])
		}
		switch {
		case sm && tail:
			VFMADD231PS(g.fc.k, x, g.kTail, rs.sacc)
		case sm:
			VFMADD231PS(g.fc.k, x, rs.sacc)
		}
		return
	}
	if !g.lse {
		eq := t.vec()
		VPCMPEQD(g.im(d), rs.tb, eq)
		VANDNPS(e, eq, e) // 0 where j == t
	}
	if tail {
		VANDPS(tm, e, e) // the lanes the whole vectors before summed already
		if sm {
			VANDPS(tm, x, x)
		}
	}
	VADDPS(e, acc[a], acc[a])
	if sm {
		VFMADD231PS(g.fc.k, x, rs.sacc)
	}
}

// tileState is the state of the tiled kernels' transpose: −Inf (ninf), the two accumulators of
// the columns' maxima, the row stride (s1), the tile's first row (tb) and the column buffer (cbp).
type tileState struct {
	ninf        reg.VecVirtual
	acc         [2]reg.VecVirtual
	s1, tb, cbp reg.GPVirtual
}

// tiles emits the tiled kernels' pass over a group: the columns of its rows, 16 at a time,
// transposed into the column buffer (a vector per class, lane r for row r), their maxima into
// mArr; then the columns' Σ_{j≠t} e^{z_j−m} (and spread), vertical sums lane by lane.
func (g *mediumGen) tiles(pass string, sm bool) {
	m, cbp := g.tileColumns(pass)
	g.columnSums(pass, sm, m, cbp)
}

// tileColumns emits the transpose of the group's rows into the column buffer and returns the
// columns' maxima, which it also stores into mArr, and the register that held the buffer's address.
func (g *mediumGen) tileColumns(pass string) (reg.VecVirtual, reg.GPVirtual) {
	t, lbl, L, B := g.t, g.lbl, g.L, g.B
	Comment("the group's columns, a lanes×lanes tile at a time: rows 4q..4q+3 interleaved within 128-bit")
	Comment("blocks (U[q][k], block b: column 4b + k), stored; then for each k the blocks of U[·][k] exchanged")
	Comment("(columns k, 4 + k, ... of the group's rows); the last, partial tile −Inf past C")
	ts := &tileState{ninf: t.vec()}
	VMOVUPS(t.cu("negInf", 0xff800000), ts.ninf)
	ts.acc = [2]reg.VecVirtual{t.vec(), t.vec()}
	VMOVAPS(ts.ninf, ts.acc[0])
	VMOVAPS(ts.ninf, ts.acc[1])
	var nt reg.GPVirtual
	ts.s1, ts.tb, ts.cbp, nt = g.gp(), g.gp(), g.gp(), g.gp()
	MOVQ(g.strideM, ts.s1)
	MOVQ(g.xg, ts.tb)
	LEAQ(g.at(g.colOff), ts.cbp)
	MOVQ(g.fullM, nt)
	SHRQ(U8(map[int]uint8{8: 5, 16: 6}[L]), nt) // whole tiles
	Label(lbl + pass + "Tile")
	TESTQ(nt, nt)
	JZ(LabelRef(lbl + pass + "Part"))
	g.tile(ts, false)
	ADDQ(U8(B), ts.tb)
	ADDQ(U32(L*B), ts.cbp)
	DECQ(nt)
	JMP(LabelRef(lbl + pass + "Tile"))
	Label(lbl + pass + "Part")
	CMPQ(g.remM, U8(0))
	JE(LabelRef(lbl + pass + "Cols"))
	CMPQ(g.remM, U8(L/2))
	JA(LabelRef(lbl + pass + "Whole"))
	g.halfTile(ts)
	JMP(LabelRef(lbl + pass + "Cols"))
	Label(lbl + pass + "Whole")
	g.tile(ts, true)
	Label(lbl + pass + "Cols")
	m := ts.acc[0]
	VMAXPS(ts.acc[1], ts.acc[0], m)
	VMOVUPS(m, Mem{Base: g.grp, Disp: g.mArr})
	return m, ts.cbp
}

// tile emits the transpose of one lanes×lanes tile at tb (partial: the last, −Inf past C) into the
// column buffer at cbp, and the maxima of its columns into the accumulators.
func (g *mediumGen) tile(ts *tileState, partial bool) {
	t := g.t
	qb, q3 := g.gp(), g.gp()
	MOVQ(ts.tb, qb)
	for q := range g.L / 4 {
		if q > 0 {
			LEAQ(Mem{Base: qb, Index: ts.s1, Scale: 4}, qb)
		}
		LEAQ(Mem{Base: qb, Index: ts.s1, Scale: 2}, q3)
		rows := []Mem{{Base: qb}, {Base: qb, Index: ts.s1, Scale: 1}, {Base: qb, Index: ts.s1, Scale: 2}, {Base: q3, Index: ts.s1, Scale: 1}}
		var r [4]reg.VecVirtual
		for i, m := range rows {
			r[i] = t.vec()
			switch {
			case partial && t.zmm:
				VMOVAPS(ts.ninf, r[i])
				VMOVUPS(m, g.kTail, r[i]) // merge-masked: −Inf past C, and nothing past the row read
			case partial:
				tm := t.vec() // the partial tile: lane < C mod 8
				VMOVUPS(g.tailM, tm)
				VMASKMOVPS(m, tm, r[i])
				VBLENDVPS(tm, r[i], ts.ninf, r[i]) // −Inf past C
			default:
				VMOVUPS(m, r[i])
			}
		}
		for k, u := range transpose4(t, r) {
			VMOVUPS(u, g.at(g.maxOff+(4*q+k)*g.B))
		}
	}
	for k := range 4 {
		g.exchangeBlocks(ts, k)
	}
}

// transpose4 returns the 4×4 transposes of the 128-bit blocks of r: block b of the k-th vector
// holds element k of block b of r[0], r[1], r[2], r[3], in that order.
func transpose4(t tier, r [4]reg.VecVirtual) [4]reg.VecVirtual {
	t0, t1, t2, t3 := t.vec(), t.vec(), t.vec(), t.vec()
	VUNPCKLPS(r[1], r[0], t0)
	VUNPCKHPS(r[1], r[0], t1)
	VUNPCKLPS(r[3], r[2], t2)
	VUNPCKHPS(r[3], r[2], t3)
	var u [4]reg.VecVirtual
	for k, src := range [][2]reg.VecVirtual{{t0, t2}, {t0, t2}, {t1, t3}, {t1, t3}} {
		u[k] = t.vec()
		if k%2 == 0 {
			VUNPCKLPD(src[1], src[0], u[k])
		} else {
			VUNPCKHPD(src[1], src[0], u[k])
		}
	}
	return u
}

// halfTile emits the last, partial tile when C mod lanes <= lanes/2 (SSD's 21 classes on
// AVX-512: 5 columns), at half the shuffles of a whole tile: a vector holds half-rows of two rows
// (AVX-512: row r's first 8 floats in its low half and row r + 4's in its high half, for r in
// 0..3 and 8..11; AVX2: rows r and r + 4, 4 floats each), so that one 4×4 transpose within the
// 128-bit blocks serves two rows at once. AVX-512 then needs one VSHUFF32X4 a column (4 + 4 rows
// from each of two vectors), AVX2 none: 24 shuffles against 64, and 8 against 24, with no trip
// through the scratch. The high half is a merge-masked load from 32 (16) bytes before row r + 4,
// its mask the tail's shifted up: only the row's own first C mod lanes floats are read (a masked
// lane does not fault); the lanes past C are −Inf, which leaves the maxima alone.
func (g *mediumGen) halfTile(ts *tileState) {
	t, L, B := g.t, g.L, g.B
	H := L / 2 // floats of a half-row
	qb, q3, hb, h3 := g.gp(), g.gp(), g.gp(), g.gp()
	MOVQ(ts.tb, qb)
	var khi reg.Register
	var mlo, mhi, mboth reg.VecVirtual
	if t.zmm {
		khi = K()
		KSHIFTLW(U8(8), g.kTail, khi) // the tail's lanes, in the high half
	} else {
		mlo, mhi, mboth = t.vec(), t.vec(), t.vec()
		VMOVUPS(g.tailM, mlo)               // lanes < rem <= 4: the low half only
		VPERM2F128(U8(0x08), mlo, mlo, mhi) // the same in the high half, the low zeroed
		VORPS(mlo, mhi, mboth)
	}
	var u [2][4]reg.VecVirtual
	for q := range L / 8 {
		if q > 0 {
			LEAQ(Mem{Base: qb, Index: ts.s1, Scale: 8}, qb) // rows 8..15
		}
		LEAQ(Mem{Base: qb, Index: ts.s1, Scale: 2}, q3)
		LEAQ(Mem{Base: qb, Index: ts.s1, Scale: 4}, hb) // 4 rows on
		LEAQ(Mem{Base: hb, Index: ts.s1, Scale: 2}, h3)
		rowsAt := func(b, b3 reg.GPVirtual, d int) []Mem {
			return []Mem{{Base: b, Disp: d}, {Base: b, Index: ts.s1, Scale: 1, Disp: d}, {Base: b, Index: ts.s1, Scale: 2, Disp: d}, {Base: b3, Index: ts.s1, Scale: 1, Disp: d}}
		}
		his := rowsAt(hb, h3, -H*4) // a half-row before row r + 4: its first floats land in the high half
		var r [4]reg.VecVirtual
		for i, m := range rowsAt(qb, q3, 0) {
			r[i] = t.vec()
			if t.zmm {
				VMOVAPS(ts.ninf, r[i])
				VMOVUPS(m, g.kTail, r[i])  // the low half: row r's lanes < rem
				VMOVUPS(his[i], khi, r[i]) // the high half: row r + 4's
				continue
			}
			lo, up := t.vec(), t.vec()
			VMASKMOVPS(m, mlo, lo)
			VMASKMOVPS(his[i], mhi, up)
			VORPS(up, lo, r[i])
			VBLENDVPS(mboth, r[i], ts.ninf, r[i]) // −Inf past C
		}
		u[q] = transpose4(t, r)
	}
	store := func(col reg.VecVirtual, c int) {
		VMOVUPS(col, Mem{Base: ts.cbp, Disp: c * B})
		VMAXPS(col, ts.acc[c%2], ts.acc[c%2])
	}
	for k := range 4 {
		if !t.zmm {
			store(u[0][k], k) // rows 0..3 in the low half, 4..7 in the high: column k
			continue
		}
		for b := range 2 {
			col := t.vec()
			VSHUFF32X4(U8([]uint8{0x88, 0xDD}[b]), u[1][k], u[0][k], col) // blocks b, 2 + b of each: column 4b + k
			store(col, 4*b+k)
		}
	}
}

// exchangeBlocks emits the exchange of the blocks of U[·][k] (stored by tile): columns k, 4 + k,
// ... of the tile's rows, into the column buffer and the maxima.
func (g *mediumGen) exchangeBlocks(ts *tileState, k int) {
	t, B := g.t, g.B
	U := func(q int) Mem { return g.at(g.maxOff + (4*q+k)*B) }
	store := func(col reg.VecVirtual, b int) {
		VMOVUPS(col, Mem{Base: ts.cbp, Disp: (4*b + k) * B})
		VMAXPS(col, ts.acc[b%2], ts.acc[b%2])
	}
	if !t.zmm {
		u0, lo, hi := t.vec(), t.vec(), t.vec()
		VMOVUPS(U(0), u0)
		VPERM2F128(U8(0x20), U(1), u0, lo) // the low blocks of U[0] and U[1]: column k
		VPERM2F128(U8(0x31), U(1), u0, hi) // the high blocks: column 4 + k
		store(lo, 0)
		store(hi, 1)
		return
	}
	u0, u2 := t.vec(), t.vec()
	VMOVUPS(U(0), u0)
	VMOVUPS(U(2), u2)
	lo01, hi01, lo23, hi23 := t.vec(), t.vec(), t.vec(), t.vec()
	VSHUFF32X4(U8(0x44), U(1), u0, lo01) // blocks 0, 1 of U[0], then of U[1]
	VSHUFF32X4(U8(0xEE), U(1), u0, hi01) // blocks 2, 3
	VSHUFF32X4(U8(0x44), U(3), u2, lo23)
	VSHUFF32X4(U8(0xEE), U(3), u2, hi23)
	for b, src := range [][2]reg.VecVirtual{{lo01, lo23}, {lo01, lo23}, {hi01, hi23}, {hi01, hi23}} {
		col := t.vec()
		VSHUFF32X4(U8([]uint8{0x88, 0xDD}[b%2]), src[1], src[0], col)
		store(col, b)
	}
}

// columnSums emits the tiled kernels' sums over the column buffer, m the columns' maxima (cbp is
// free for the buffer's address): Σ_{j≠t} e^{z_j−m} lane by lane (the log-sum-exp: Σ_j), two
// accumulators, into sArr, and with sm the spread into negArr.
func (g *mediumGen) columnSums(pass string, sm bool, m reg.VecVirtual, cbp reg.GPVirtual) {
	if g.lse {
		g.columnLoop(pass, sm, m, cbp, false)
		return
	}
	lbl := g.lbl
	CMPQ(g.cM, U8(selectMaxC))
	JA(LabelRef(lbl + pass + "Gather"))
	g.columnLoop(pass+"Sel", sm, m, cbp, true)
	JMP(LabelRef(lbl + pass + "Summed"))
	Label(lbl + pass + "Gather")
	g.columnLoop(pass, sm, m, cbp, false)
	Label(lbl + pass + "Summed")
}

// selectMaxC is the largest C for which the tiled kernels take the target logits from the
// columns they sum (a compare and a masked move, or a blend, a column) instead of a gather per
// group: at C = 3 the gather was ~10% of ceTiled's time (perf, AVX-512, Zen 5), and gathers are
// slower still on Intel cores with the GDS microcode; past a few dozen columns the selects cost
// more than the gather. CrossEntropy, 7 alternated rounds, Zen 5: AVX-512 +9% at C = 3, +6% at 4,
// +2% at 8, even at 12 and 16; AVX2 +6% at 3 and 4, +2% at 8 and 12.
const selectMaxC = 16

// columnLoop is columnSums's loop; sel: the target logits selected from the columns, not gathered.
func (g *mediumGen) columnLoop(pass string, sm bool, m reg.VecVirtual, cbp reg.GPVirtual, sel bool) {
	t, lbl, L, B := g.t, g.lbl, g.L, g.B
	Comment("the columns: Σ_{j≠t} e^{z_j−m} lane by lane (the log-sum-exp: Σ_j), two accumulators")
	rs := &rowSums{sm: sm, mb: m}
	if !g.lse {
		if sel {
			rs.zt = t.vec()
			VXORPS(rs.zt, rs.zt, rs.zt) // an ignored row's: no column matches t < 0
		} else {
			g.gatherZt(pass)
		}
		rs.tb = t.vec()
		t.loadInt(Mem{Base: g.tpG}, rs.tb)
	}
	if sm {
		rs.mh = t.vec()
		VMULPS(g.half, m, rs.mh)
		rs.sacc = t.vec()
		VXORPS(rs.sacc, rs.sacc, rs.sacc)
	}
	rs.acc = [2]reg.VecVirtual{t.vec(), t.vec()}
	for _, a := range rs.acc {
		VXORPS(a, a, a)
	}
	j := g.gp()
	XORQ(j, j)
	LEAQ(g.at(g.colOff), cbp)
	Comment("the next group's C lines (16 rows of C floats), a line a column: pass 2 is bound by arithmetic,")
	Comment("and the tiles' strided reads would otherwise wait on memory")
	pfp := g.gp()
	MOVQ(g.xg, pfp)
	ADDQ(g.groupM, pfp)
	Label(lbl + pass + "Pair")
	CMPQ(j, g.cPairM)
	JG(LabelRef(lbl + pass + "One"))
	g.columnTerm(rs, cbp, pfp, g.idx, j, 0, 0)
	g.columnTerm(rs, cbp, pfp, g.idx, j, 1, 1)
	ADDQ(U8(2), j)
	ADDQ(U32(2*B), cbp)
	ADDQ(U32(8*L), pfp) // two columns: 2·lanes·4 bytes of the next group
	JMP(LabelRef(lbl + pass + "Pair"))
	Label(lbl + pass + "One")
	CMPQ(j, g.cM)
	JGE(LabelRef(lbl + pass + "Sum"))
	g.columnTerm(rs, cbp, pfp, g.idx, j, 0, 0)
	Label(lbl + pass + "Sum")
	if rs.zt != nil {
		VMOVUPS(rs.zt, Mem{Base: g.grp, Disp: g.ztArr})
	}
	VADDPS(rs.acc[1], rs.acc[0], rs.acc[0])
	VMOVUPS(rs.acc[0], Mem{Base: g.grp, Disp: g.sArr})
	if sm {
		VMOVUPS(rs.sacc, Mem{Base: g.grp, Disp: g.negArr})
	}
}

// columnTerm adds e^{x−m} of column j + d (at cbp + d vectors) into acc[a], the target's lane
// excluded (its class index at idx + 4·(ci + d)), and with smoothing the spread into sacc; it
// prefetches a line of the next group (pfp, unless nil).
func (g *mediumGen) columnTerm(rs *rowSums, cbp, pfp, idx, ci reg.GPVirtual, a, d int) {
	t, B, sum := g.t, g.B, rs.acc
	if pfp != nil && (t.zmm || d == 0) {
		prefetchT0(Mem{Base: pfp, Disp: 64 * d}) // the next group's rows: L·4 bytes a column
	}
	x, dd, e := t.vec(), t.vec(), t.vec()
	VMOVUPS(Mem{Base: cbp, Disp: d * B}, x)
	jm := Mem{Base: idx, Index: ci, Scale: 4, Disp: 4 * d} // the column's class index
	var eq reg.VecVirtual                                  // AVX2: t == j
	var keq reg.Register                                   // AVX-512, selecting: t == j
	switch {
	case !g.lse && !t.zmm:
		eq = t.vec()
		VPBROADCASTD(jm, eq)
		VPCMPEQD(eq, rs.tb, eq)
		if rs.zt != nil {
			VBLENDVPS(eq, x, rs.zt, rs.zt) // the target's logit where t == j
		}
	case rs.zt != nil:
		keq = K()
		VPCMPD_BCST(U8(0), jm, rs.tb, keq) // t == j
		VMOVAPS(x, keq, rs.zt)             // the target's logit there
	}
	if rs.sm {
		VFMSUB132PS(g.half, rs.mh, x) // x/2 − m/2
		VADDPS(x, x, dd)
		VFMADD231PS(g.fc.k, x, rs.sacc)
	} else {
		VSUBPS(rs.mb, x, dd)
	}
	t.exp(g.ec, dd, e)
	if g.lse {
		VADDPS(e, sum[a], sum[a])
		return
	}
	if !t.zmm {
		VANDNPS(e, eq, e) // 0 where t == j
		VADDPS(e, sum[a], sum[a])
		return
	}
	keep := K()
	if keq != nil {
		KNOTW(keq, keep)
	} else {
		VPCMPD_BCST(U8(4), jm, rs.tb, keep) // t != j
	}
	VADDPS(e, sum[a], keep, sum[a])
}

// finish emits the finish loop, a group at a time: the groups are independent, so their exp and
// log1p chains overlap.
func (g *mediumGen) finish() {
	t, lbl, L, B := g.t, g.lbl, g.L, g.B
	Label(lbl + "Finish")
	Comment("the finish, a group at a time: the groups are independent, so their exp and log1p chains overlap")
	MOVQ(g.scr, g.grp)
	var dst, n reg.GPVirtual
	if g.lse {
		dst = g.ld(Param("dst").Base())
		n = g.ld(Param("dst").Len())
	} else {
		dst = g.ld(Param("loss").Base())
		n = g.ld(Param("loss").Len())
	}
	if !g.lse {
		Comment("the checks: tmax = the lanes' largest target (−1 to start), lsum = the sum of the losses")
		g.tmax, g.lsum = t.u32("allOnes", 0xFFFFFFFF), t.zero()
	}
	Label(lbl + "Fin")
	TESTQ(n, n)
	JZ(LabelRef(lbl + "Done"))
	s, m := t.vec(), t.vec()
	VMOVUPS(Mem{Base: g.grp, Disp: g.sArr}, s)
	VMOVUPS(Mem{Base: g.grp, Disp: g.mArr}, m)
	if g.lse {
		Comment("lse = m + log1p(s − 1) + (m − m): NaN for a row whose maximum is not finite")
		a, l := t.vec(), t.vec()
		VSUBPS(g.lc.one, s, a)
		t.log1p(g.lc, a, l)
		VADDPS(m, l, l)
		VSUBPS(m, m, a)
		VADDPS(a, l, l)
		VMOVUPS(l, Mem{Base: dst})
	} else {
		g.finishCE(dst, s, m)
	}
	ADDQ(U32(B), dst)
	ADDQ(U32(B), g.grp)
	SUBQ(U32(L), n)
	JMP(LabelRef(lbl + "Fin"))
	Label(lbl + "Done")
	if !g.lse {
		t.returnRowChecks(g.tmax, g.lsum)
	}
}

// returnRowChecks returns the checks of a kernel that writes losses, from its accumulators
// (registers, or memory slots): tmax, the largest lane of tmaxOp (the largest target the kernel
// read; nil for a kernel without targets, which returns nan alone), and nan, a NaN lane in lsumOp,
// the sum of the losses stored, which is NaN when one of them is (and, with fill = −Inf beside a
// loss of +Inf, when none is: the caller's scan of the losses sorts that out). One VPMAXSD and
// one add a vector (or a group) of rows, in place of a pass over the targets before the kernel
// and one over the losses after.
func (t tier) returnRowChecks(tmaxOp, lsumOp Op) {
	Comment("return the checks: tmax, and nan = a NaN in the sum of the losses")
	ret := 0
	if tmaxOp != nil {
		v, ok := tmaxOp.(reg.VecVirtual)
		if !ok {
			v = t.vec()
			VMOVDQU32orU(t, tmaxOp.(Mem), v)
		}
		Store(t.hmaxD(v), ReturnIndex(0))
		ret = 1
	}
	lsum, ok := lsumOp.(reg.VecVirtual)
	if !ok {
		lsum = t.vec()
		VMOVUPS(lsumOp, lsum)
	}
	nan := GP8()
	if t.zmm {
		k := K()
		VCMPPS(U8(3), lsum, lsum, k) // UNORD
		KORTESTW(k, k)
	} else {
		m, bits := t.vec(), GP32()
		VCMPPS(U8(3), lsum, lsum, m)
		VMOVMSKPS(m, bits)
		TESTL(bits, bits)
	}
	SETNE(nan)
	Store(nan, ReturnIndex(ret))
}

// finishCE emits the cross-entropy's finish of the group at grp, its losses to dst: finishRows,
// ceMediumGrad's gradient scales, and the statistics when len(m) > 0.
func (g *mediumGen) finishCE(dst reg.GPVirtual, s, m reg.VecVirtual) {
	t, lbl, fc := g.t, g.lbl, g.fc
	zt, neg, tv := t.vec(), t.vec(), t.vec()
	VMOVUPS(Mem{Base: g.grp, Disp: g.ztArr}, zt)
	VMOVUPS(Mem{Base: g.grp, Disp: g.negArr}, neg) // read only with smoothing
	o := g.gp()
	MOVQ(dst, o)
	SUBQ(g.ld(Param("loss").Base()), o) // the group's byte offset in loss, t and the statistics
	tb := g.ld(Param("t").Base())
	t.loadInt(Mem{Base: tb, Index: o, Scale: 1}, tv)
	VPMAXSD(tv, g.tmax, g.tmax)
	loss, ls, a := t.finishRows(g.ec, g.lc, fc, s, m, zt, neg, tv, g.smooth, lbl+"Plain")
	VADDPS(loss, g.lsum, g.lsum)
	VMOVUPS(loss, Mem{Base: dst})
	if g.grad {
		Comment("the gradient's scale s0/S, S = 1 + a; 0 where t < 0 or loss < lim (a row of zeros)")
		w, rv, lim := t.vec(), t.vec(), t.vec()
		VADDPS(g.lc.one, a, w)
		VBROADCASTSS(paramAddr("s0"), rv)
		VBROADCASTSS(paramAddr("lim"), lim)
		if t.zmm {
			valid, low := K(), K()
			VPCMPD(U8(5), fc.zero, tv, valid) // t >= 0
			VCMPPS(U8(1), lim, loss, low)     // loss < lim
			KANDNW(valid, low, valid)         // valid and not low
			VDIVPS_Z(w, rv, valid, rv)
		} else {
			dead, low := t.vec(), t.vec()
			VPSRAD(U8(31), tv, dead)
			VCMPPS(U8(1), lim, loss, low)
			VORPS(low, dead, dead)
			VDIVPS(w, rv, rv)
			VANDNPS(rv, dead, rv)
		}
		VMOVUPS(rv, Mem{Base: g.grp, Disp: g.rArr})
	}
	Comment("statistics, when len(m) > 0")
	stn := g.ld(Param("m").Len())
	TESTQ(stn, stn)
	JZ(LabelRef(lbl + "Next"))
	mP, lsP, ptP := g.ld(Param("m").Base()), g.ld(Param("ls").Base()), g.ld(Param("pt").Base())
	for _, p := range []reg.GPVirtual{mP, lsP, ptP} {
		ADDQ(o, p)
	}
	t.storeStats(g.lc, fc, m, ls, s, a, tv, mP, lsP, ptP)
	Label(lbl + "Next")
}

// normalizeRows emits ceMediumGrad's last pass: for each of the n rows of x, the row of g (at
// x + (g − x)) holds e^{z_j−m}; with r the row's scale in rArr (at scr), it becomes g·r + nq, or
// zeros where r is 0 (every lane: an ignored row's logits, and so its e, may be anything). The
// block's rows are still in L2 (the glue gives the kernel 64 rows at a time).
func normalizeRows(t tier, lbl string, scr reg.GPVirtual, rArr int, strideM, fullM, remM, ovlM, ovlMaskM Mem, kTail reg.Register) {
	B := t.bytes()
	Comment("the gradient's last pass: g·r + nq over each row, or zeros")
	p, r, n, off := GP64(), GP64(), GP64(), GP64()
	Load(Param("g").Base(), p)
	Load(Param("n"), n)
	XORQ(r, r)
	nq, zero := t.vec(), t.zero()
	VBROADCASTSS(paramAddr("nq"), nq)
	Label(lbl + "NormRow")
	CMPQ(r, n)
	JAE(LabelRef(lbl + "NormDone"))
	XORQ(off, off)
	rv := t.vec()
	VBROADCASTSS(Mem{Base: scr, Index: r, Scale: 4, Disp: rArr}, rv)
	VUCOMISS(zero.AsX(), rv.AsX())
	JE(LabelRef(lbl + "NormZero"))
	gm := func() Mem { return Mem{Base: p, Index: off, Scale: 1} }
	Label(lbl + "NormVec")
	CMPQ(off, fullM)
	JGE(LabelRef(lbl + "NormTail"))
	v := t.vec()
	VMOVUPS(gm(), v)
	VFMADD213PS(nq, rv, v)
	VMOVUPS(v, gm())
	ADDQ(U32(B), off)
	JMP(LabelRef(lbl + "NormVec"))
	Label(lbl + "NormTail")
	CMPQ(remM, U8(0))
	JE(LabelRef(lbl + "NormNext"))
	if t.zmm {
		v := t.vec()
		VMOVUPS_Z(gm(), kTail, v)
		VFMADD213PS(nq, rv, v)
		VMOVUPS(v, kTail, gm())
	} else {
		Comment("the whole vector that ends at the row's end: its new lanes normalised, the others kept")
		ADDQ(ovlM, off)
		v, u, k := t.vec(), t.vec(), t.vec()
		VMOVUPS(gm(), v)
		VMOVAPS(v, u)
		VFMADD213PS(nq, rv, u)
		VMOVUPS(ovlMaskM, k)
		VBLENDVPS(k, u, v, v)
		VMOVUPS(v, gm())
	}
	JMP(LabelRef(lbl + "NormNext"))
	Label(lbl + "NormZero")
	Comment("a row of zeros: whole vectors, then the tail")
	Label(lbl + "ZeroVec")
	CMPQ(off, fullM)
	JGE(LabelRef(lbl + "ZeroTail"))
	VMOVUPS(zero, gm())
	ADDQ(U32(B), off)
	JMP(LabelRef(lbl + "ZeroVec"))
	Label(lbl + "ZeroTail")
	CMPQ(remM, U8(0))
	JE(LabelRef(lbl + "NormNext"))
	if t.zmm {
		VMOVUPS(zero, kTail, gm())
	} else {
		ADDQ(ovlM, off)
		VMOVUPS(zero, gm()) // over zeros already written, and the row's last lanes
	}
	Label(lbl + "NormNext")
	ADDQ(strideM, p)
	INCQ(r)
	JMP(LabelRef(lbl + "NormRow"))
	Label(lbl + "NormDone")
}

// reduceRows returns a new vector whose lane r is the reduction by op (op(a, b, d): d = a op b)
// of the lanes of the vector at slots + r·bytes, for r < lanes: a transpose whose every stage also
// reduces. Stage 1 interleaves pairs of rows (VUNPCKLPS/VUNPCKHPS) and reduces, leaving two
// partials of each of two rows per 128-bit block; stage 2 does the same with 64-bit pairs
// (VUNPCKLPD/VUNPCKHPD), leaving four rows per block; the last stages exchange 128-bit blocks
// (VPERM2F128 on AVX2, VSHUFF32X4 on AVX-512). 2·lanes − 2 shuffles and lanes − 1 operations in
// all, with a dependency chain of 2·log2(lanes) steps; every shuffle but the block exchanges
// stays within 128-bit lanes, where both vendors' cores run them on more than one port.
func (t tier) reduceRows(slots Mem, op func(a, b, d Op)) reg.VecVirtual {
	B := t.bytes()
	var w []reg.VecVirtual
	for i := 0; i < t.lanes; i += 2 {
		a, lo, hi := t.vec(), t.vec(), t.vec()
		VMOVUPS(slots.Offset(i*B), a)
		VUNPCKLPS(slots.Offset((i+1)*B), a, lo)
		VUNPCKHPS(slots.Offset((i+1)*B), a, hi)
		op(hi, lo, lo)
		w = append(w, lo)
	}
	var u []reg.VecVirtual
	for i := 0; i < len(w); i += 2 {
		lo, hi := t.vec(), t.vec()
		VUNPCKLPD(w[i+1], w[i], lo)
		VUNPCKHPD(w[i+1], w[i], hi)
		op(hi, lo, lo)
		u = append(u, lo)
	}
	if !t.zmm {
		lo, hi := t.vec(), t.vec()
		VPERM2F128(U8(0x20), u[1], u[0], lo) // the low blocks: rows 0–3 | rows 4–7
		VPERM2F128(U8(0x31), u[1], u[0], hi) // the high blocks
		op(hi, lo, lo)
		return lo
	}
	for len(u) > 1 {
		var next []reg.VecVirtual
		for i := 0; i < len(u); i += 2 {
			lo, hi := t.vec(), t.vec()
			VSHUFF32X4(U8(0x88), u[i+1], u[i], lo) // blocks 0, 2 of u[i], then of u[i+1]
			VSHUFF32X4(U8(0xDD), u[i+1], u[i], hi) // blocks 1, 3
			op(hi, lo, lo)
			next = append(next, lo)
		}
		u = next
	}
	return u[0]
}
