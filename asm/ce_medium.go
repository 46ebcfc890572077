package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// Row-major cross-entropy and log-sum-exp for medium class counts (a few dozen to a few hundred:
// COCO's 81, detection and RoI heads). The row-at-a-time kernel (genRowsLarge) pays, per row, two
// horizontal reductions, a scalar finish and tails; on short rows that is most of the time. These
// kernels take the rows a group of lanes rows (8 or 16) at a time and go along each row with
// vertical operations only:
//
//   - pass 1: per row, the vertical maximum of its vectors (two accumulators, the last partial
//     vector through a tail mask computed once per call: C mod lanes is the same for every row),
//     stored to a slot of the scratch;
//   - the group's slots are reduced all at once by a transpose whose every stage also reduces
//     (reduceRows: 2·lanes − 2 shuffles and lanes − 1 operations for lanes rows, where a
//     horizontal reduction per row costs about 8 dependent instructions each), which leaves the
//     maxima of the group in one vector, lane r for row r;
//   - pass 2: per row, e^{z_j−m} summed vertically (m broadcast from that vector), the target's
//     lane excluded by a compare with a table of class indices (the sum is Σ_{j≠t}, so a tiny
//     loss is never the difference of two sums), with smoothing also the spread; reduced the same
//     way;
//   - finishRows turns the group's vectors into losses and statistics, as for the small-C kernel:
//     one exp and one log1p per lane, not per row.
//
// The group's rows are read twice; they sit in L1 for the second pass (16 rows of 256 classes are
// 16 KB). Each float32 partial sum holds at most ⌈C/(2·lanes)⌉ terms before the reduction's
// log2(lanes) additions, so for C <= 512 a sum carries at most ~36 roundings (2e-6 relative), well
// inside the loss bound, with no float64 flushes. Ignored rows (t < 0) are never read.
//
// Only VEX and EVEX forms, and no masked stores (VMASKMOVPS stores are microcoded on AMD cores):
// the tail is read with a masked load (fast on both vendors) and only whole vectors are stored.
func genMedium(t tier) {
	genMediumKernel(t, false)
	genMediumKernel(t, true)
}

// mediumMaxC is the largest C the medium kernels take: the class-index table covers it.
const mediumMaxC = 512

// mediumConstSlots is the number of vector slots of the scratch that ceSetup may fill.
const mediumConstSlots = 16

// mediumIndexTable returns the int32 class indices 0, 1, ..., mediumMaxC+15, which pass 2 compares
// with the row's target, a vector at a time.
func mediumIndexTable() Mem {
	const name = "mediumIndex"
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := range mediumMaxC + 16 {
		DATA(4*i, U32(uint32(i)))
	}
	consts[name] = m
	return m
}

// genMediumKernel emits ceMedium, or lseMedium with lse set.
func genMediumKernel(t tier, lse bool) {
	L, B := t.lanes, t.bytes()
	var name string
	if lse {
		name = "lseMedium"
		t.text(name, "func(dst []float32, x []float32, scratch []float32, n, c int)",
			"sets dst[i] = log Σ_j e^{x[i][j]} for the n rows of the row-major [n][c] logits x (NaN for a",
			"row with a NaN, a +Inf or only −Inf), lanes rows at a time: dst has room for n rounded up to",
			"a multiple of the lanes. lanes <= c <= 512; scratch holds 22 + 2·lanes vectors.")
	} else {
		name = "ceMedium"
		t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, scratch []float32, c int, eps, fill float32)",
			"sets loss[i] to the cross-entropy of row i of the row-major [len(t)][c] logits x, smoothed by",
			"eps, fill where t[i] < 0 (the row is not read), NaN for a bad row; with len(m) > 0 also m[i],",
			"ls[i], pt[i]. len(t) is a multiple of the lanes; lanes <= c <= 512; scratch holds 22 + 2·lanes",
			"vectors.")
	}
	lbl := name + t.suffix
	gp := func() reg.GPVirtual { return GP64().(reg.GPVirtual) }
	ld := func(c gotypes.Component) reg.GPVirtual { r := gp(); Load(c, r); return r }

	// Few general registers stay live through the row loops (avo has 14 to give): the per-call
	// scalars wait in the scratch, the statistics' bases in the frame.
	var dst, left, tp reg.GPVirtual
	if lse {
		dst = ld(Param("dst").Base())
		left = ld(Param("n"))
	} else {
		dst = ld(Param("loss").Base())
		left = ld(Param("loss").Len())
		tp = ld(Param("t").Base())
	}
	xp := ld(Param("x").Base())
	scr := ld(Param("scratch").Base())
	c := ld(Param("c"))

	// The scratch, in vectors: constants (mediumConstSlots), the rows' slots (lanes), the spread's
	// slots (lanes), the maxima, the target logits, the AVX2 tail mask, the scalars.
	slotsOff := mediumConstSlots * B
	spreadOff := slotsOff + L*B
	mvecOff := spreadOff + L*B
	ztvOff := mvecOff + B
	tailOff := ztvOff + B
	scalarOff := tailOff + B
	at := func(off int) Mem { return Mem{Base: scr, Disp: off} }
	strideM, fullM, pairM, remM := at(scalarOff), at(scalarOff+8), at(scalarOff+16), at(scalarOff+24)
	tailM := at(tailOff)

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
	zero := fc.zero
	if lse {
		zero = t.zero()
	}
	half := lc.half

	Comment("scalars: bytes per row, bytes of a row's whole vectors (and that less two vectors), C mod lanes and its tail mask")
	var kTail reg.Register // AVX-512: the tail's opmask
	{
		v, rem := gp(), gp()
		MOVQ(c, v)
		SHLQ(U8(2), v)
		MOVQ(v, strideM)
		ANDQ(I32(-B), v)
		MOVQ(v, fullM)
		SUBQ(U32(2*B), v)
		MOVQ(v, pairM)
		MOVQ(c, rem)
		ANDQ(U8(L-1), rem)
		MOVQ(rem, remM)
		if t.zmm {
			ones, bits := GP32(), GP32()
			MOVL(U32(0xFFFF), ones)
			BZHIL(rem.As32(), ones, bits)
			kTail = K()
			KMOVW(bits, kTail)
		} else {
			cnt, iota, mask := XMM(), t.vec(), t.vec()
			VMOVQ(rem, cnt) // VEX: a legacy MOVQ would cost an SSE/AVX transition on Intel cores
			VPBROADCASTD(cnt, mask)
			VMOVDQU(constIota(8), iota)
			VPCMPGTD(iota, mask, mask) // rem > lane
			VMOVDQU(mask, tailM)
		}
	}
	negInf := t.cu("negInf", 0xff800000)
	idx := gp()
	if !lse {
		LEAQ(mediumIndexTable(), idx)
	}

	row, r, sp, off := gp(), gp(), gp(), gp()
	var tg reg.GPVirtual
	if !lse {
		tg = gp()
	}
	xm := func(d int) Mem { return Mem{Base: row, Index: off, Scale: 1, Disp: d} }
	im := func(d int) Mem { return Mem{Base: idx, Index: off, Scale: 1, Disp: d} }

	// rowLoop emits a loop over the group's rows: body for a row that is read (row = its start, sp
	// its slot, r its index), skip for one that is not (t < 0; for the log-sum-exp, a row at or past
	// n, left counting the rows from the group's first on).
	rowLoop := func(pass string, body, skip func()) {
		MOVQ(xp, row)
		XORQ(r, r)
		LEAQ(at(slotsOff), sp)
		Label(lbl + pass + "Row")
		if lse {
			CMPQ(r, left)
			JAE(LabelRef(lbl + pass + "Skip"))
		} else {
			MOVLQSX(Mem{Base: tp, Index: r, Scale: 4}, tg)
			TESTQ(tg, tg)
			JS(LabelRef(lbl + pass + "Skip"))
		}
		body()
		JMP(LabelRef(lbl + pass + "Next"))
		Label(lbl + pass + "Skip")
		skip()
		Label(lbl + pass + "Next")
		ADDQ(strideM, row)
		ADDQ(U32(B), sp)
		INCQ(r)
		CMPQ(r, U8(L))
		JB(LabelRef(lbl + pass + "Row"))
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
	// tailMaskAVX2 loads the AVX2 tail mask into a new register.
	tailMaskAVX2 := func() reg.VecVirtual {
		m := t.vec()
		VMOVUPS(tailM, m)
		return m
	}

	Label(lbl + "Group")
	TESTQ(left, left)
	JLE(LabelRef(lbl + "Done")) // the log-sum-exp's last group may have had fewer than lanes rows

	Comment("pass 1: each row's vertical maximum into its slot (0 for a row that is not read)")
	rowLoop("Max", func() {
		acc := [2]reg.VecVirtual{t.vec(), t.vec()}
		VMOVUPS(Mem{Base: row}, acc[0])
		VMOVUPS(negInf, acc[1])
		MOVQ(U32(B), off)
		vectors("Max", func(a, d int) {
			VMAXPS(xm(d), acc[a], acc[a])
		}, func() {
			if t.zmm {
				VMAXPS(xm(0), acc[1], kTail, acc[1]) // masked-off lanes keep acc and are not read
				return
			}
			m := tailMaskAVX2()
			x := t.vec()
			VMASKMOVPS(xm(0), m, x)
			VBLENDVPS(m, x, acc[1], x) // masked-off lanes take acc
			VMAXPS(x, acc[1], acc[1])
		})
		VMAXPS(acc[1], acc[0], acc[0])
		VMOVUPS(acc[0], Mem{Base: sp})
	}, func() {
		VMOVUPS(zero, Mem{Base: sp})
	})
	Comment("the group's maxima, lane r for row r")
	mx := t.reduceRows(at(slotsOff), func(a, b, d Op) { VMAXPS(a, b, d) })
	VMOVUPS(mx, at(mvecOff))

	// pass2 emits the exp-sum pass over the group's rows; with sm (smoothing) also the spread.
	pass2 := func(pass string, sm bool) {
		rowLoop(pass, func() {
			mb := t.vec()
			VBROADCASTSS(Mem{Base: scr, Index: r, Scale: 4, Disp: mvecOff}, mb)
			var tb, mh, sacc reg.VecVirtual
			if !lse {
				tb = t.vec()
				VPBROADCASTD(Mem{Base: tp, Index: r, Scale: 4}, tb)
				zt := XMM()
				VMOVSS(Mem{Base: row, Index: tg, Scale: 4}, zt)
				VMOVSS(zt, Mem{Base: scr, Index: r, Scale: 4, Disp: ztvOff})
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
			// term adds e^{x−m} of the vector at off + d into acc[a], the target's lane excluded,
			// and with smoothing 2ε/C·(x/2 − m/2) into sacc; tail: the row's last, partial vector.
			term := func(a, d int, tail bool) {
				x, dd, e := t.vec(), t.vec(), t.vec()
				var tm reg.VecVirtual // AVX2: the tail mask
				switch {
				case tail && t.zmm:
					VMOVUPS_Z(xm(d), kTail, x)
				case tail:
					tm = tailMaskAVX2()
					VMASKMOVPS(xm(d), tm, x)
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
					VANDPS(tm, e, e) // masked-off lanes may hold anything (e^{0−m})
					if sm {
						VANDPS(tm, x, x)
					}
				}
				VADDPS(e, acc[a], acc[a])
				if sm {
					VFMADD231PS(fc.k, x, sacc)
				}
			}
			vectors(pass, func(a, d int) { term(a, d, false) }, func() { term(1, 0, true) })
			VADDPS(acc[1], acc[0], acc[0])
			VMOVUPS(acc[0], Mem{Base: sp})
			if sm {
				VMOVUPS(sacc, Mem{Base: sp, Disp: L * B})
			}
		}, func() {
			VMOVUPS(zero, Mem{Base: sp})
			if sm {
				VMOVUPS(zero, Mem{Base: sp, Disp: L * B})
			}
			if !lse {
				VMOVSS(zero.AsX(), Mem{Base: scr, Index: r, Scale: 4, Disp: ztvOff})
			}
		})
	}
	// nextGroup advances to the next group of rows.
	nextGroup := func() {
		ADDQ(U32(B), dst)
		v := gp()
		MOVQ(strideM, v)
		SHLQ(U8(map[int]uint8{8: 3, 16: 4}[L]), v)
		ADDQ(v, xp)
		SUBQ(U32(L), left)
		JMP(LabelRef(lbl + "Group"))
	}

	if lse {
		Comment("pass 2: each row's vertical Σ_j e^{z_j−m} into its slot")
		pass2("Exp", false)
		Comment("lse = m + log1p(s − 1) + (m − m): NaN for a row whose maximum is not finite")
		s := t.reduceRows(at(slotsOff), func(a, b, d Op) { VADDPS(a, b, d) })
		m, a, l := t.vec(), t.vec(), t.vec()
		VMOVUPS(at(mvecOff), m)
		VSUBPS(lc.one, s, a)
		t.log1p(lc, a, l)
		VADDPS(m, l, l)
		VSUBPS(m, m, a)
		VADDPS(a, l, l)
		VMOVUPS(l, Mem{Base: dst})
		nextGroup()
		Label(lbl + "Done")
		VZEROUPPER()
		RET()
		return
	}

	Comment("pass 2: each row's vertical Σ_{j≠t} e^{z_j−m} into its slot, the target logit aside")
	TESTQ(smooth, smooth)
	JNZ(LabelRef(lbl + "Smooth"))
	pass2("Exp", false)
	JMP(LabelRef(lbl + "Finish"))
	Label(lbl + "Smooth")
	Comment("with smoothing also 2ε/C·Σ_j (z_j/2 − m/2) = ε/C·Σ_j (z_j − m) into the spread's slots")
	pass2("ExpSpread", true)
	Label(lbl + "Finish")
	s := t.reduceRows(at(slotsOff), func(a, b, d Op) { VADDPS(a, b, d) })
	neg := t.vec()
	VXORPS(neg, neg, neg)
	TESTQ(smooth, smooth)
	JZ(LabelRef(lbl + "NoSpread"))
	sr := t.reduceRows(at(spreadOff), func(a, b, d Op) { VADDPS(a, b, d) })
	VMOVAPS(sr, neg)
	Label(lbl + "NoSpread")
	m, zt, tv := t.vec(), t.vec(), t.vec()
	VMOVUPS(at(mvecOff), m)
	VMOVUPS(at(ztvOff), zt)
	t.loadInt(Mem{Base: tp}, tv)
	loss, ls, a := t.finishRows(ec, lc, fc, s, m, zt, neg, tv, smooth, lbl+"Plain")
	VMOVUPS(loss, Mem{Base: dst})
	Comment("statistics, when len(m) > 0: at the group's offset from loss")
	stn := ld(Param("m").Len())
	TESTQ(stn, stn)
	JZ(LabelRef(lbl + "Next"))
	{
		o := ld(Param("loss").Base())
		NEGQ(o)
		ADDQ(dst, o)
		mP, lsP, ptP := ld(Param("m").Base()), ld(Param("ls").Base()), ld(Param("pt").Base())
		for _, p := range []reg.GPVirtual{mP, lsP, ptP} {
			ADDQ(o, p)
		}
		t.storeStats(lc, fc, m, ls, s, a, tv, mP, lsP, ptP)
	}
	Label(lbl + "Next")
	ADDQ(U32(B), tp)
	nextGroup()
	Label(lbl + "Done")
	VZEROUPPER()
	RET()
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
