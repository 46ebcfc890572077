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
// (masked loads), which leaves the maximum alone, and pass 2 stops at C. Pass 2 prefetches the
// next group's lines, one a column on AVX-512.
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

// genMediumKernel emits ceMedium, or lseMedium with lse set; with tiled ceTiled or lseTiled, which
// go through a group's rows in lanes×lanes tiles instead (see tiles below); with grad ceMediumGrad,
// ceMedium that also writes the gradient (ForwardBackward's fused pass): pass 2 stores each
// e^{z_j−m} it sums into the row of g, and after the finish a last pass over the block's rows turns
// them into s0·e/S + nq (S = Σ_j e^{z_j−m}), or zeros for a row that is ignored or whose loss is
// below lim (a row the selection is predicted to drop); the Go glue sets the target's element
// from pt. One exp per logit, where the losses and then a separate gradient pass take two.
func genMediumKernel(t tier, lse, tiled, grad bool) {
	L, B := t.lanes, t.bytes()
	var name string
	switch {
	case grad:
		name = "ceMediumGrad"
		t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32, g []float32, s0, nq, lim float32)",
			"is ceMedium (len(m) > 0) that also writes the gradient of the n rows to g (the layout of x):",
			"g[i][j] = s0·e^{x[i][j]−m}/S + nq, S = Σ_j e^{x[i][j]−m}, for a row with t[i] >= 0 and",
			"loss[i] >= lim (the glue overwrites the target's element), and 0 for every other row.")
	case tiled && lse:
		name = "lseTiled"
		t.text(name, "func(dst []float32, x []float32, scratch []float32, n, c int)",
			"is lseMedium for 1 <= c <= 64 that reads a group's rows in lanes×lanes tiles; n == len(dst).")
	case tiled:
		name = "ceTiled"
		t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32)",
			"is ceMedium for 1 <= c <= 64 that reads a group's rows in lanes×lanes tiles; n == len(t).")
	case lse:
		name = "lseMedium"
		t.text(name, "func(dst []float32, x []float32, scratch []float32, n, c int)",
			"sets dst[i] = log Σ_j e^{x[i][j]} for the n rows of the row-major [n][c] logits x (NaN for a",
			"row with a NaN, a +Inf or only −Inf). len(dst) is n rounded up to a multiple of the lanes, at",
			"most 256 (the rows past n are not read); lanes <= c <= 512; scratch holds 3456 floats.")
	default:
		name = "ceMedium"
		t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, n, c int, eps, fill float32)",
			"sets loss[i] to the cross-entropy of row i of the row-major [n][c] logits x, smoothed by eps,",
			"fill where t[i] < 0 (such a row is read, but it affects no other), NaN for a bad row; with",
			"len(m) > 0 also m[i], ls[i], pt[i]. len(t) is n rounded up to a multiple of the lanes, at most",
			"256, and the rows past n are not read (their t must be < 0); lanes <= c <= 512; scratch holds",
			"3456 floats.")
	}
	lbl := name + t.suffix
	gp := func() reg.GPVirtual { return GP64().(reg.GPVirtual) }
	ld := func(c gotypes.Component) reg.GPVirtual { r := gp(); Load(c, r); return r }

	// Few general registers stay live through the row loops (avo has 14 to give): the per-call
	// scalars wait in the scratch, the outputs' bases in the frame until the finish.
	var left, tpG reg.GPVirtual
	if lse {
		left = ld(Param("dst").Len())
	} else {
		left = ld(Param("loss").Len())
		tpG = ld(Param("t").Base())
	}
	xg := ld(Param("x").Base())
	scr := ld(Param("scratch").Base())
	Comment("the scratch, from its first 64-byte boundary on")
	ADDQ(U8(63), scr)
	ANDQ(I8(-64), scr)
	c := ld(Param("c"))

	// The scratch: constants (mediumConstSlots vectors), the slots of a group's rows for pass 1,
	// pass 2 and the spread (lanes vectors each), the AVX2 tail mask, the gather's offsets, the
	// scalars (64 bytes), then per row of the block s, m, zt and the spread (mediumBlock floats each).
	maxOff := mediumConstSlots * B
	sumOff := maxOff + L*B
	tailOff := sumOff + 2*L*B
	gatherOff := tailOff + B
	ovlOff := gatherOff + B
	scalarOff := ovlOff + B
	sArr := scalarOff + 128
	mArr := sArr + 4*mediumBlock
	ztArr := mArr + 4*mediumBlock
	negArr := ztArr + 4*mediumBlock
	rArr := negArr + 4*mediumBlock // ceMediumGrad: each row's gradient scale s0/S, 0 for a row of zeros
	colOff := rArr + 4*mediumBlock // the tiled kernels' column buffer: tiledMaxC vectors
	check(colOff+tiledMaxC*B+64 <= 4*mediumScratchFloats, "medium scratch too small")
	at := func(off int) Mem { return Mem{Base: scr, Disp: off} }
	gdM := at(scalarOff + 64) // ceMediumGrad: g's base − x's base
	strideM, fullM, pairM, remM, groupM := at(scalarOff), at(scalarOff+8), at(scalarOff+16), at(scalarOff+24), at(scalarOff+32)
	// the rows to read from the group's first on (n, then less lanes a group); for the tiled
	// kernels C and C − 2
	rowsM, cM, cPairM := at(scalarOff+40), at(scalarOff+48), at(scalarOff+56)
	// AVX2 along the rows: the row's last, partial vector is the whole vector that ends at the row's
	// end (no masked load or store: a VMASKMOVPS store is microcoded on AMD cores), at off + ovlM
	// (C mod 8 − 8 floats past the whole vectors), its new lanes (the last C mod 8) in ovlMaskM
	ovlM := cM
	tailM, gatherM, ovlMaskM := at(tailOff), at(gatherOff), at(ovlOff)

	var ec expConsts
	var lc logConsts
	var fc finishConsts
	var smooth reg.GPVirtual
	if lse {
		ec = t.loadExpConsts()
		lc = t.sharedLogConsts(ec)
		t.spillLogConsts(&lc, scr, 0)
	} else {
		ec, lc, fc, smooth = t.ceSetup(scr, c)
	}
	half := lc.half
	zeroV := fc.zero
	if lse {
		zeroV = t.zero()
	}

	if grad {
		v := ld(Param("g").Base())
		SUBQ(xg, v)
		MOVQ(v, gdM)
	}
	Comment("scalars: bytes per row, of a row's whole vectors (and that less two vectors), of a group of rows;")
	Comment("C mod lanes and its tail mask; lane·C, the gather's offsets of the rows of a group")
	var kTail reg.Register // AVX-512: the tail's opmask
	{
		v, rem := gp(), gp()
		MOVQ(c, v)
		SHLQ(U8(2), v)
		MOVQ(v, strideM)
		SHLQ(U8(map[int]uint8{8: 3, 16: 4}[L]), v)
		MOVQ(v, groupM)
		MOVQ(c, v)
		SHLQ(U8(2), v)
		ANDQ(I32(-B), v)
		MOVQ(v, fullM)
		SUBQ(U32(2*B), v)
		MOVQ(v, pairM)
		MOVQ(c, rem)
		ANDQ(U8(L-1), rem)
		MOVQ(rem, remM)
		Load(Param("n"), v)
		MOVQ(v, rowsM)
		if tiled {
			MOVQ(c, cM)
			MOVQ(c, v)
			SUBQ(U8(2), v)
			MOVQ(v, cPairM)
		} else {
			LEAQ(Mem{Base: rem, Index: rem, Scale: 2}, v) // 3·rem
			ADDQ(rem, v)                                  // 4·rem
			SUBQ(U8(B), v)
			MOVQ(v, ovlM)
		}
		iota := t.vec()
		t.loadInt(intTable("iota16", func(i int) int { return i }), iota)
		cv, cb := XMM(), t.vec()
		VMOVQ(c, cv) // VEX: a legacy MOVQ would cost an SSE/AVX transition on Intel cores
		VPBROADCASTD(cv, cb)
		VPMULLD(iota, cb, cb)
		if t.zmm {
			VMOVDQU32(cb, gatherM)
			ones, bits := GP32(), GP32()
			MOVL(U32(0xFFFF), ones)
			BZHIL(rem.As32(), ones, bits)
			kTail = K()
			KMOVW(bits, kTail)
		} else {
			VMOVDQU(cb, gatherM)
			rv, mask := XMM(), t.vec()
			VMOVQ(rem, rv)
			VPBROADCASTD(rv, mask)
			VPCMPGTD(iota, mask, mask) // rem > lane
			VMOVDQU(mask, tailM)
			Comment("the overlapping last vector's new lanes: lane >= 8 − rem, that is lane + rem > 7")
			ov := t.vec()
			VPBROADCASTD(rv, ov)
			VPADDD(iota, ov, ov)
			VPCMPGTD(t.cu("seven", 7), ov, ov)
			VMOVDQU(ov, ovlMaskM)
		}
	}
	var idx reg.GPVirtual
	if !lse {
		idx = gp()
		LEAQ(mediumIndexTable(), idx)
	}
	grp := gp() // the group's reductions: at grp + sArr, mArr, ...
	MOVQ(scr, grp)

	row, r, sp, off := gp(), gp(), gp(), gp()
	xm := func(d int) Mem { return Mem{Base: row, Index: off, Scale: 1, Disp: d} }
	im := func(d int) Mem { return Mem{Base: idx, Index: off, Scale: 1, Disp: d} }
	var grow reg.GPVirtual // ceMediumGrad, pass 2: the row's gradient, at row + (g − x)

	// rowLoop emits a loop over the group's rows, body for each row before n (row = its start, sp
	// its slot, r its index), skip for the others. Every row before n is read, an ignored one (t <
	// 0) too: it only affects its own lane of the group's vectors.
	rowLoop := func(pass string, slots int, body, skip func()) {
		MOVQ(xg, row)
		if grow != nil {
			MOVQ(xg, grow)
			ADDQ(gdM, grow)
		}
		XORQ(r, r)
		LEAQ(at(slots), sp)
		Label(lbl + pass + "Row")
		CMPQ(r, rowsM)
		JGE(LabelRef(lbl + pass + "Skip"))
		body()
		Label(lbl + pass + "Next")
		ADDQ(strideM, row)
		if grow != nil {
			ADDQ(strideM, grow)
		}
		ADDQ(U32(B), sp)
		INCQ(r)
		CMPQ(r, U8(L))
		JB(LabelRef(lbl + pass + "Row"))
		JMP(LabelRef(lbl + pass + "Done"))
		Label(lbl + pass + "Skip")
		skip()
		JMP(LabelRef(lbl + pass + "Next"))
		Label(lbl + pass + "Done")
	}
	// vectors emits the walk over a row's whole vectors from the byte offset off on, two at a time
	// (step(a, d) for the vector at off + d, into accumulator a), then the tail, if C mod lanes != 0.
	vectors := func(pass string, step func(a, d int), tail func()) {
		Label(lbl + pass + "Pair")
		CMPQ(off, pairM)
		JG(LabelRef(lbl + pass + "One"))
		step(0, 0)
		step(1, B)
		ADDQ(U32(2*B), off)
		JMP(LabelRef(lbl + pass + "Pair"))
		Label(lbl + pass + "One")
		CMPQ(off, fullM)
		JGE(LabelRef(lbl + pass + "Tail"))
		step(0, 0)
		ADDQ(U32(B), off)
		Label(lbl + pass + "Tail")
		CMPQ(remM, U8(0))
		JE(LabelRef(lbl + pass + "End"))
		tail()
		Label(lbl + pass + "End")
	}
	tailMaskAVX2 := func() reg.VecVirtual { // the tiled kernels' partial tile: lane < C mod 8
		m := t.vec()
		VMOVUPS(tailM, m)
		return m
	}

	// pass1 emits pass 1 over the group: each row's vertical maximum into its slot, then the
	// group's maxima, lane r for row r, into its vector of mArr.
	pass1 := func() {
		rowLoop("Max", maxOff, func() {
			acc := [2]reg.VecVirtual{t.vec(), t.vec()}
			VMOVUPS(Mem{Base: row}, acc[0])
			VMOVUPS(acc[0], acc[1])
			MOVQ(U32(B), off)
			vectors("Max", func(a, d int) {
				VMAXPS(xm(d), acc[a], acc[a])
			}, func() {
				if t.zmm {
					VMAXPS(xm(0), acc[1], kTail, acc[1]) // masked-off lanes keep acc and are not read
					return
				}
				ADDQ(ovlM, off) // the whole vector that ends at the row's end: max is idempotent
				VMAXPS(xm(0), acc[1], acc[1])
			})
			VMAXPS(acc[1], acc[0], acc[0])
			VMOVUPS(acc[0], Mem{Base: sp})
		}, func() {
			VMOVUPS(zeroV, Mem{Base: sp})
		})
		mx := t.reduceRows(at(maxOff), func(a, b, d Op) { VMAXPS(a, b, d) })
		VMOVUPS(mx, Mem{Base: grp, Disp: mArr})
	}

	// gatherZt emits the gather of the group's target logits into ztArr (class 0 for an ignored row,
	// and only the rows before n).
	gatherZt := func(pass string) {
		Comment("zt = the group's target logits, one gather (class 0 for an ignored row); on Intel cores whose")
		Comment("microcode slows gathers down (GDS), it is still one per lanes rows")
		tv, ti, zt := t.vec(), t.vec(), t.vec()
		t.loadInt(Mem{Base: tpG}, tv)
		VPMAXSD(fc.zero, tv, ti)
		VPADDD(gatherM, ti, ti)
		VXORPS(zt, zt, zt)
		Comment("only the rows before n: lane < rows left")
		lim := gp()
		MOVQ(rowsM, lim)
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
			VGATHERDPS(Mem{Base: xg, Index: ti, Scale: 4}, k, zt)
		} else {
			lv, mask := XMM(), t.vec()
			VMOVQ(lim, lv) // rows left may exceed the lanes: every lane is then below it
			VPBROADCASTD(lv, mask)
			VPCMPGTD(intTable("iota16", func(i int) int { return i }), mask, mask)
			VGATHERDPS(mask, Mem{Base: xg, Index: ti, Scale: 4}, zt)
			t.zeroInt(mask) // keeps mask live past the gather: its register must differ from zt's
		}
		t.zeroInt(ti) // keeps ti live past the gather, so the allocator cannot give it zt's register
		VMOVUPS(zt, Mem{Base: grp, Disp: ztArr})
	}
	// pass2 emits pass 2 over the group: the target logits, gathered, into ztArr; each row's
	// vertical Σ_{j≠t} e^{z_j−m} (the log-sum-exp: Σ_j) into its slot, with sm (smoothing) also
	// 2ε/C·Σ_j (z_j/2 − m/2) into the spread's slot; then the group's sums into sArr (and negArr).
	// The pass is bound by arithmetic, and it prefetches the next group's rows, the same lines a
	// group further on, which pass 1 then finds in L1: without it, pass 1 waits on memory (at
	// 4M logits per call, C = 128 to 256 ran 30–45% faster with it on Zen 5).
	pass2 := func(pass string, sm bool) {
		if !lse {
			gatherZt(pass)
		}
		if grad {
			grow = gp()
			defer func() { grow = nil }()
		}
		rowLoop(pass, sumOff, func() {
			mb := t.vec()
			VBROADCASTSS(Mem{Base: grp, Index: r, Scale: 4, Disp: mArr}, mb)
			var tb, mh, sacc reg.VecVirtual
			if !lse {
				tb = t.vec()
				VPBROADCASTD(Mem{Base: tpG, Index: r, Scale: 4}, tb)
			}
			if sm {
				mh = t.vec()
				VMULPS(half, mb, mh)
				sacc = t.vec()
				VXORPS(sacc, sacc, sacc)
			}
			acc := [2]reg.VecVirtual{t.vec(), t.vec()}
			for _, a := range acc {
				VXORPS(a, a, a)
			}
			XORQ(off, off)
			pf := gp() // the same row of the next group
			MOVQ(row, pf)
			ADDQ(groupM, pf)
			// term adds e^{x−m} of the vector at off + d into acc[a], the target's lane excluded,
			// and with smoothing 2ε/C·(x/2 − m/2) into sacc; tail: the row's last, partial vector.
			term := func(a, d int, tail bool) {
				x, dd, e := t.vec(), t.vec(), t.vec()
				var tm reg.VecVirtual // AVX2: the overlapping tail's new lanes
				switch {
				case tail && t.zmm:
					VMOVUPS_Z(xm(d), kTail, x)
				case tail:
					ADDQ(ovlM, off)
					tm = t.vec()
					VMOVUPS(ovlMaskM, tm)
					VMOVUPS(xm(d), x)
				default:
					VMOVUPS(xm(d), x)
				}
				if sm {
					VFMSUB132PS(half, mh, x) // x/2 − m/2: (x − m)/2 exactly, and it cannot overflow
					VADDPS(x, x, dd)
				} else {
					VSUBPS(mb, x, dd)
				}
				t.exp(ec, dd, e)
				if grad {
					gm := Mem{Base: grow, Index: off, Scale: 1, Disp: d}
					if tail && t.zmm {
						VMOVUPS(e, kTail, gm)
					} else {
						VMOVUPS(e, gm) // AVX2's tail: its old lanes get the values they have
					}
				}
				if t.zmm {
					var keep reg.Register
					switch {
					case !lse && tail:
						keep = K()
						VPCMPD(U8(4), im(d), tb, kTail, keep) // j != t, j < C
					case !lse:
						keep = K()
						VPCMPD(U8(4), im(d), tb, keep) // j != t
					case tail:
						keep = kTail
					}
					if keep != nil {
						VADDPS(e, acc[a], keep, acc[a])
					} else {
						VADDPS(e, acc[a], acc[a])
					}
					switch {
					case sm && tail:
						VFMADD231PS(fc.k, x, kTail, sacc)
					case sm:
						VFMADD231PS(fc.k, x, sacc)
					}
					return
				}
				if !lse {
					eq := t.vec()
					VPCMPEQD(im(d), tb, eq)
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
					VFMADD231PS(fc.k, x, sacc)
				}
			}
			vectors(pass, func(a, d int) {
				if (d+B)%64 == 0 {
					prefetchT0(Mem{Base: pf, Index: off, Scale: 1, Disp: d + B - 64})
				}
				term(a, d, false)
			}, func() {
				term(1, 0, true)
			})
			VADDPS(acc[1], acc[0], acc[0])
			VMOVUPS(acc[0], Mem{Base: sp})
			if sm {
				VMOVUPS(sacc, Mem{Base: sp, Disp: L * B})
			}
		}, func() {
			VMOVUPS(zeroV, Mem{Base: sp})
			if sm {
				VMOVUPS(zeroV, Mem{Base: sp, Disp: L * B})
			}
		})
		s := t.reduceRows(at(sumOff), func(a, b, d Op) { VADDPS(a, b, d) })
		VMOVUPS(s, Mem{Base: grp, Disp: sArr})
		if sm {
			n := t.reduceRows(at(sumOff+L*B), func(a, b, d Op) { VADDPS(a, b, d) })
			VMOVUPS(n, Mem{Base: grp, Disp: negArr})
		}
	}

	// tiles emits the tiled kernels' pass over a group: the columns of its rows, 16 at a time,
	// transposed into the column buffer (a vector per class, lane r for row r), their maxima into
	// mArr; then the columns' Σ_{j≠t} e^{z_j−m} (and spread), vertical sums lane by lane.
	tiles := func(pass string, sm bool) {
		Comment("the group's columns, a lanes×lanes tile at a time: rows 4q..4q+3 interleaved within 128-bit")
		Comment("blocks (U[q][k], block b: column 4b + k), stored; then for each k the blocks of U[·][k] exchanged")
		Comment("(columns k, 4 + k, ... of the group's rows); the last, partial tile −Inf past C")
		ninf := t.vec()
		VMOVUPS(t.cu("negInf", 0xff800000), ninf)
		acc := [2]reg.VecVirtual{t.vec(), t.vec()}
		VMOVAPS(ninf, acc[0])
		VMOVAPS(ninf, acc[1])
		s1, tb, cbp, nt := gp(), gp(), gp(), gp()
		MOVQ(strideM, s1)
		MOVQ(xg, tb)
		LEAQ(at(colOff), cbp)
		MOVQ(fullM, nt)
		SHRQ(U8(map[int]uint8{8: 5, 16: 6}[L]), nt) // whole tiles
		quads := L / 4
		tile := func(partial bool) {
			qb, q3 := gp(), gp()
			MOVQ(tb, qb)
			for q := range quads {
				if q > 0 {
					LEAQ(Mem{Base: qb, Index: s1, Scale: 4}, qb)
				}
				LEAQ(Mem{Base: qb, Index: s1, Scale: 2}, q3)
				rows := []Mem{{Base: qb}, {Base: qb, Index: s1, Scale: 1}, {Base: qb, Index: s1, Scale: 2}, {Base: q3, Index: s1, Scale: 1}}
				var r [4]reg.VecVirtual
				for i, m := range rows {
					r[i] = t.vec()
					switch {
					case partial && t.zmm:
						VMOVAPS(ninf, r[i])
						VMOVUPS(m, kTail, r[i]) // merge-masked: −Inf past C, and nothing past the row read
					case partial:
						tm := tailMaskAVX2()
						VMASKMOVPS(m, tm, r[i])
						VBLENDVPS(tm, r[i], ninf, r[i]) // −Inf past C
					default:
						VMOVUPS(m, r[i])
					}
				}
				t0, t1, t2, t3 := t.vec(), t.vec(), t.vec(), t.vec()
				VUNPCKLPS(r[1], r[0], t0)
				VUNPCKHPS(r[1], r[0], t1)
				VUNPCKLPS(r[3], r[2], t2)
				VUNPCKHPS(r[3], r[2], t3)
				for k, src := range [][2]reg.VecVirtual{{t0, t2}, {t0, t2}, {t1, t3}, {t1, t3}} {
					u := t.vec()
					if k%2 == 0 {
						VUNPCKLPD(src[1], src[0], u)
					} else {
						VUNPCKHPD(src[1], src[0], u)
					}
					VMOVUPS(u, at(maxOff+(4*q+k)*B))
				}
			}
			for k := range 4 {
				U := func(q int) Mem { return at(maxOff + (4*q+k)*B) }
				store := func(col reg.VecVirtual, b int) {
					VMOVUPS(col, Mem{Base: cbp, Disp: (4*b + k) * B})
					VMAXPS(col, acc[b%2], acc[b%2])
				}
				if !t.zmm {
					u0, lo, hi := t.vec(), t.vec(), t.vec()
					VMOVUPS(U(0), u0)
					VPERM2F128(U8(0x20), U(1), u0, lo) // the low blocks of U[0] and U[1]: column k
					VPERM2F128(U8(0x31), U(1), u0, hi) // the high blocks: column 4 + k
					store(lo, 0)
					store(hi, 1)
					continue
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
		}
		Label(lbl + pass + "Tile")
		TESTQ(nt, nt)
		JZ(LabelRef(lbl + pass + "Part"))
		tile(false)
		ADDQ(U8(B), tb)
		ADDQ(U32(L*B), cbp)
		DECQ(nt)
		JMP(LabelRef(lbl + pass + "Tile"))
		Label(lbl + pass + "Part")
		CMPQ(remM, U8(0))
		JE(LabelRef(lbl + pass + "Cols"))
		tile(true)
		Label(lbl + pass + "Cols")
		m := acc[0]
		VMAXPS(acc[1], acc[0], m)
		VMOVUPS(m, Mem{Base: grp, Disp: mArr})

		Comment("the columns: Σ_{j≠t} e^{z_j−m} lane by lane (the log-sum-exp: Σ_j), two accumulators")
		var tv, mh, sacc reg.VecVirtual
		if !lse {
			gatherZt(pass)
			tv = t.vec()
			t.loadInt(Mem{Base: tpG}, tv)
		}
		if sm {
			mh = t.vec()
			VMULPS(half, m, mh)
			sacc = t.vec()
			VXORPS(sacc, sacc, sacc)
		}
		sum := [2]reg.VecVirtual{t.vec(), t.vec()}
		for _, a := range sum {
			VXORPS(a, a, a)
		}
		j := gp()
		XORQ(j, j)
		LEAQ(at(colOff), cbp)
		Comment("the next group's C lines (16 rows of C floats), a line a column: pass 2 is bound by arithmetic,")
		Comment("and the tiles' strided reads would otherwise wait on memory")
		pfp := gp()
		MOVQ(xg, pfp)
		ADDQ(groupM, pfp)
		term := func(a, d int) {
			if t.zmm || d == 0 {
				prefetchT0(Mem{Base: pfp, Disp: 64 * d}) // the next group's rows: L·4 bytes a column
			}
			x, dd, e := t.vec(), t.vec(), t.vec()
			VMOVUPS(Mem{Base: cbp, Disp: d * B}, x)
			if sm {
				VFMSUB132PS(half, mh, x) // x/2 − m/2
				VADDPS(x, x, dd)
				VFMADD231PS(fc.k, x, sacc)
			} else {
				VSUBPS(m, x, dd)
			}
			t.exp(ec, dd, e)
			if lse {
				VADDPS(e, sum[a], sum[a])
				return
			}
			if !t.zmm {
				eq := t.vec()
				VPBROADCASTD(Mem{Base: idx, Index: j, Scale: 4, Disp: 4 * d}, eq)
				VPCMPEQD(eq, tv, eq)
				VANDNPS(e, eq, e) // 0 where t == j
				VADDPS(e, sum[a], sum[a])
				return
			}
			keep := K()
			VPCMPD_BCST(U8(4), Mem{Base: idx, Index: j, Scale: 4, Disp: 4 * d}, tv, keep) // t != j
			VADDPS(e, sum[a], keep, sum[a])
		}
		Label(lbl + pass + "Pair")
		CMPQ(j, cPairM)
		JG(LabelRef(lbl + pass + "One"))
		term(0, 0)
		term(1, 1)
		ADDQ(U8(2), j)
		ADDQ(U32(2*B), cbp)
		ADDQ(U32(8*L), pfp) // two columns: 2·lanes·4 bytes of the next group
		JMP(LabelRef(lbl + pass + "Pair"))
		Label(lbl + pass + "One")
		CMPQ(j, cM)
		JGE(LabelRef(lbl + pass + "Sum"))
		term(0, 0)
		Label(lbl + pass + "Sum")
		VADDPS(sum[1], sum[0], sum[0])
		VMOVUPS(sum[0], Mem{Base: grp, Disp: sArr})
		if sm {
			VMOVUPS(sacc, Mem{Base: grp, Disp: negArr})
		}
	}

	Label(lbl + "Group")
	TESTQ(left, left)
	JZ(LabelRef(lbl + "Finish"))
	if tiled {
		if lse {
			tiles("T", false)
		} else {
			TESTQ(smooth, smooth)
			JNZ(LabelRef(lbl + "Smooth"))
			tiles("T", false)
			JMP(LabelRef(lbl + "Sums"))
			Label(lbl + "Smooth")
			tiles("TSpread", true)
			Label(lbl + "Sums")
			ADDQ(U32(B), tpG)
		}
	} else {
		pass1()
		if lse {
			pass2("Exp", false)
		} else {
			TESTQ(smooth, smooth)
			JNZ(LabelRef(lbl + "Smooth"))
			pass2("Exp", false)
			JMP(LabelRef(lbl + "Sums"))
			Label(lbl + "Smooth")
			pass2("ExpSpread", true)
			Label(lbl + "Sums")
			ADDQ(U32(B), tpG)
		}
	}
	ADDQ(U32(B), grp)
	ADDQ(groupM, xg)
	SUBQ(U32(L), rowsM)
	SUBQ(U32(L), left)
	JMP(LabelRef(lbl + "Group"))

	Label(lbl + "Finish")
	Comment("the finish, a group at a time: the groups are independent, so their exp and log1p chains overlap")
	MOVQ(scr, grp)
	var dst, n reg.GPVirtual
	if lse {
		dst = ld(Param("dst").Base())
		n = ld(Param("dst").Len())
	} else {
		dst = ld(Param("loss").Base())
		n = ld(Param("loss").Len())
	}
	Label(lbl + "Fin")
	TESTQ(n, n)
	JZ(LabelRef(lbl + "Done"))
	s, m := t.vec(), t.vec()
	VMOVUPS(Mem{Base: grp, Disp: sArr}, s)
	VMOVUPS(Mem{Base: grp, Disp: mArr}, m)
	if lse {
		Comment("lse = m + log1p(s − 1) + (m − m): NaN for a row whose maximum is not finite")
		a, l := t.vec(), t.vec()
		VSUBPS(lc.one, s, a)
		t.log1p(lc, a, l)
		VADDPS(m, l, l)
		VSUBPS(m, m, a)
		VADDPS(a, l, l)
		VMOVUPS(l, Mem{Base: dst})
	} else {
		zt, neg, tv := t.vec(), t.vec(), t.vec()
		VMOVUPS(Mem{Base: grp, Disp: ztArr}, zt)
		VMOVUPS(Mem{Base: grp, Disp: negArr}, neg) // read only with smoothing
		o := gp()
		MOVQ(dst, o)
		SUBQ(ld(Param("loss").Base()), o) // the group's byte offset in loss, t and the statistics
		tb := ld(Param("t").Base())
		t.loadInt(Mem{Base: tb, Index: o, Scale: 1}, tv)
		loss, ls, a := t.finishRows(ec, lc, fc, s, m, zt, neg, tv, smooth, lbl+"Plain")
		VMOVUPS(loss, Mem{Base: dst})
		if grad {
			Comment("the gradient's scale s0/S, S = 1 + a; 0 where t < 0 or loss < lim (a row of zeros)")
			w, rv, lim := t.vec(), t.vec(), t.vec()
			VADDPS(lc.one, a, w)
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
			VMOVUPS(rv, Mem{Base: grp, Disp: rArr})
		}
		Comment("statistics, when len(m) > 0")
		stn := ld(Param("m").Len())
		TESTQ(stn, stn)
		JZ(LabelRef(lbl + "Next"))
		mP, lsP, ptP := ld(Param("m").Base()), ld(Param("ls").Base()), ld(Param("pt").Base())
		for _, p := range []reg.GPVirtual{mP, lsP, ptP} {
			ADDQ(o, p)
		}
		t.storeStats(lc, fc, m, ls, s, a, tv, mP, lsP, ptP)
		Label(lbl + "Next")
	}
	ADDQ(U32(B), dst)
	ADDQ(U32(B), grp)
	SUBQ(U32(L), n)
	JMP(LabelRef(lbl + "Fin"))
	Label(lbl + "Done")
	if grad {
		normalizeRows(t, lbl, scr, rArr, strideM, fullM, remM, ovlM, ovlMaskM, kTail)
	}
	VZEROUPPER()
	RET()
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
