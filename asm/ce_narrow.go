package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The narrow kernels: row-major cross-entropy for C = 3 and 4 without smoothing, a vector of rows
// (16 or 8) at a time, every value in registers. The tiled kernels take these C too, but for rows
// this short their general machinery costs more than the arithmetic: a half tile of 8 columns
// transposed and stored to the scratch for 3 or 4 used, the columns read back twice, a loop step
// per column and the finish loop over stored reductions. Here a vector of rows is deinterleaved
// into C column registers by permutes (AVX-512: a two-table VPERMI2PS and, at C = 3, a
// merge-masked VPERMPS a column, or two VPERMI2PS and VSHUFF32X4 a pair of columns at C = 4; AVX2:
// at C = 3 three VPERMPS by one index and two VBLENDPS a column, at C = 4 each vector two rows 4
// apart, VMOVUPS and VINSERTF128, then the 4×4 transpose within 128-bit blocks), and the
// arithmetic is the tiled kernels' own, step for step: the columns' maxima in two accumulators in
// the same order, the same compares and masked sums into two accumulators, finishRows and
// storeStats. A row's loss and statistics are therefore those of ceTiled to the bit, so that
// Forward (here) and any path that runs the tiled kernels agree. Targets are compared with each
// class index, never used as an address: a target >= C shows up only in the returned tmax.

// narrowCs lists the C the tier has a narrow kernel for.
func narrowCs(t tier) []int { return []int{3, 4} }

// genNarrow emits the tier's narrow kernels, ceNarrow3 and ceNarrow4.
func genNarrow(t tier) {
	for _, c := range narrowCs(t) {
		genNarrowC(t, c)
	}
}

// narrowGen holds the state of one narrow kernel being generated.
type narrowGen struct {
	t                                 tier
	c                                 int
	lbl                               string
	n, stn, dst, tp, xp, mP, lsP, ptP reg.GPVirtual
	ec                                expConsts
	lc                                logConsts
	fc                                finishConsts
	ninf                              Op
	tmax, lsum                        Op           // the checks: registers, or AVX2's frame slots
	khi, khi2                         reg.Register // C = 3 on AVX-512: the lanes whose element lies in the third vector
}

func genNarrowC(t tier, c int) {
	name := fmt.Sprintf("ceNarrow%d", c)
	g := &narrowGen{t: t, c: c, lbl: name + t.suffix}
	t.text(name, "func(loss, m, ls, pt []float32, x []float32, t []int32, fill float32) (tmax int32, nan bool)",
		fmt.Sprintf("sets loss[i] to the cross-entropy of row i of the row-major [len(t)][%d] logits x (no", c),
		"smoothing), fill where t[i] < 0, NaN for a bad row; with len(m) > 0 also m[i], ls[i], pt[i].",
		"len(loss) is a multiple of the lanes. It returns tmax, the largest t[i] (at least −1), and nan,",
		"some loss written may be NaN (false: none is).")
	g.prologue()
	lbl := g.lbl
	Label(lbl + "Loop")
	TESTQ(g.n, g.n)
	JZ(LabelRef(lbl + "Done"))
	z := narrowColumns(t, c, g.xp, g.khi, g.khi2)
	m := g.maxima(z)
	s, zt := g.sums(z, m)
	g.finish(s, m, zt)
	Label(lbl + "Done")
	t.returnRowChecks(g.tmax, g.lsum)
	VZEROUPPER()
	RET()
}

// prologue loads the parameters and the constants.
func (g *narrowGen) prologue() {
	t, B := g.t, g.t.bytes()
	ld := func(c gotypes.Component) reg.GPVirtual { return Load(c, GP64()).(reg.GPVirtual) }
	g.dst, g.n = ld(Param("loss").Base()), ld(Param("loss").Len())
	g.stn, g.mP = ld(Param("m").Len()), ld(Param("m").Base())
	g.lsP, g.ptP = ld(Param("ls").Base()), ld(Param("pt").Base())
	g.xp, g.tp = ld(Param("x").Base()), ld(Param("t").Base())
	g.ec = t.loadExpConsts()
	g.lc = t.sharedLogConsts(g.ec)
	if t.zmm {
		slots := GP64() // the log1p constants that fit a memory operand: 32 registers do not hold them all
		LEAQ(AllocLocal(12*B), slots)
		t.spillLogConsts(&g.lc, slots, 0)
	}
	fill := t.vec()
	VBROADCASTSS(paramAddr("fill"), fill)
	g.fc = finishConsts{sign: t.cu("signBit", 0x80000000), fill: fill} // zero: made where storeStats needs it
	g.ninf = t.cu("negInf", 0xff800000)
	Comment("the checks: tmax = the lanes' largest target (−1 to start), lsum = the sum of the losses")
	tmax, lsum := t.u32("allOnes", 0xFFFFFFFF), t.zero()
	g.tmax, g.lsum = tmax, lsum
	if !t.zmm {
		// AVX2's 16 registers hold the columns and the exp's temporaries: fill and the checks
		// wait in aligned frame slots (the checks updated once a vector of rows)
		slots := GP64()
		LEAQ(AllocLocal(4*B), slots)
		ADDQ(U8(B-1), slots)
		ANDQ(I8(-B), slots)
		for i, v := range []reg.VecVirtual{tmax, lsum, fill} {
			VMOVUPS(v, Mem{Base: slots, Disp: i * B})
		}
		g.tmax, g.lsum, g.fc.fill = Mem{Base: slots}, Mem{Base: slots, Disp: B}, Mem{Base: slots, Disp: 2 * B}
	}
	if t.zmm && g.c == 3 {
		g.khi, g.khi2 = K(), K()
		r := GP32()
		MOVL(U32(0xF800), r) // rows 11..15: 3r + j >= 32 for j = 0, 1
		KMOVW(r, g.khi)
		MOVL(U32(0xFC00), r) // rows 10..15 for j = 2
		KMOVW(r, g.khi2)
	}
}

// maxima returns the rows' maxima as the tiled kernels take them: two accumulators from −Inf,
// column j into j mod 2, then the second into the first.
func (g *narrowGen) maxima(z []reg.VecVirtual) reg.VecVirtual {
	t := g.t
	Comment("the maxima as the tiled kernels take them: two accumulators from −Inf, column j into j mod 2")
	acc := [2]reg.VecVirtual{t.vec(), t.vec()}
	for _, a := range acc {
		VMOVUPS(g.ninf, a)
	}
	for j := range g.c {
		VMAXPS(z[j], acc[j%2], acc[j%2])
	}
	m := t.vec()
	VMAXPS(acc[1], acc[0], m)
	return m
}

// sums returns s = Σ_{j≠t} e^{z_j−m} lane by lane (column j into sum j mod 2, as columnTerm
// does) and zt, the target logits (0 for t < 0).
func (g *narrowGen) sums(z []reg.VecVirtual, m reg.VecVirtual) (s, zt reg.VecVirtual) {
	t := g.t
	Comment("Σ_{j≠t} e^{z_j−m} lane by lane, column j into sum j mod 2; zt = the target logits (0 for t < 0)")
	tm := Mem{Base: g.tp}
	var tv reg.VecVirtual // AVX-512: the targets in a register; AVX2 compares with them in memory
	if t.zmm {
		tv = t.vec()
		t.loadInt(tm, tv)
	}
	zt = t.vec()
	VXORPS(zt, zt, zt)
	sum := [2]reg.VecVirtual{t.vec(), t.vec()}
	for _, v := range sum {
		VXORPS(v, v, v)
	}
	for j := range g.c {
		jm := constMem(fmt.Sprintf("int%d", j), uint32(j)) // the class index
		dd, e := t.vec(), t.vec()
		if t.zmm {
			keq := K()
			VPCMPD_BCST(U8(0), jm, tv, keq) // t == j
			VMOVAPS(z[j], keq, zt)
			VSUBPS(m, z[j], dd)
			t.exp(g.ec, dd, e)
			keep := K()
			KNOTW(keq, keep)
			VADDPS(e, sum[j%2], keep, sum[j%2])
			continue
		}
		eq := t.vec()
		VPBROADCASTD(jm, eq)
		VPCMPEQD(tm, eq, eq)
		VBLENDVPS(eq, z[j], zt, zt)
		VSUBPS(m, z[j], dd)
		t.exp(g.ec, dd, e)
		VANDNPS(e, eq, e) // 0 where t == j
		VADDPS(e, sum[j%2], sum[j%2])
	}
	VADDPS(sum[1], sum[0], sum[0])
	return sum[0], zt
}

// finish turns the vector of rows' s, m and zt into losses (finishRows) and, when len(m) > 0,
// statistics (storeStats), folds them into the checks, and moves on to the next vector of rows.
func (g *narrowGen) finish(s, m, zt reg.VecVirtual) {
	t, lbl, B := g.t, g.lbl, g.t.bytes()
	tv := t.vec()
	t.loadInt(Mem{Base: g.tp}, tv)
	loss, ls, a := t.finishRows(g.ec, g.lc, g.fc, s, m, zt, nil, tv, nil, lbl)
	t.accumulate(g.tmax, tv, vpmaxsd)
	t.accumulate(g.lsum, loss, vaddps)
	VMOVUPS(loss, Mem{Base: g.dst})
	Comment("statistics, when len(m) > 0")
	TESTQ(g.stn, g.stn)
	JZ(LabelRef(lbl + "Next"))
	g.fc.zero = t.zero()
	t.storeStats(g.lc, g.fc, m, ls, s, a, tv, g.mP, g.lsP, g.ptP)
	Label(lbl + "Next")
	for _, p := range []reg.GPVirtual{g.dst, g.tp, g.mP, g.lsP, g.ptP} {
		ADDQ(U32(B), p)
	}
	ADDQ(U32(g.c*B), g.xp)
	SUBQ(U32(t.lanes), g.n)
	JMP(LabelRef(lbl + "Loop"))
}

// narrowColumns loads the vector of rows at xp (lanes rows of c floats) and returns its c
// columns, lane r holding row r's logit of that class.
func narrowColumns(t tier, c int, xp reg.GPVirtual, khi, khi2 reg.Register) []reg.VecVirtual {
	B := t.bytes()
	z := make([]reg.VecVirtual, c)
	if !t.zmm && c == 3 {
		Comment("class j: element 3r + j of the three vectors, each permuted by the one index (3r + j) mod 8,")
		Comment("then blended: lanes with 3r + j >= 8 from the second vector, >= 16 from the third")
		for j := range 3 {
			idx := t.vec()
			VMOVDQU(intTable(fmt.Sprintf("narrow3Avx2Idx%d", j), func(l int) int { return (3*l + j) % 8 }), idx)
			var p [3]reg.VecVirtual
			var imm [3]uint8 // lanes r with 3r + j >= 8q
			for q := range 3 {
				p[q] = t.vec()
				VPERMPS(Mem{Base: xp, Disp: q * B}, idx, p[q])
				for r := range 8 {
					if 3*r+j >= 8*q {
						imm[q] |= 1 << r
					}
				}
			}
			z[j] = t.vec()
			VBLENDPS(U8(imm[1]), p[1], p[0], z[j])
			VBLENDPS(U8(imm[2]), p[2], z[j], z[j])
		}
		return z
	}
	if !t.zmm { // C = 4: vector q holds rows q and q + 4; transposed within the 128-bit blocks
		Comment("rows q and q + 4 in vector q, then the 4×4 transpose within the blocks: column k")
		var r [4]reg.VecVirtual
		for q := range 4 {
			r[q] = t.vec()
			// a whole-register load (rows q, q + 1), then row q + 4 over the high half: a write
			// of the XMM part alone would leave the register live into the kernel for avo
			VMOVUPS(Mem{Base: xp, Disp: 16 * q}, r[q])
			VINSERTF128(U8(1), Mem{Base: xp, Disp: 16 * (q + 4)}, r[q], r[q])
		}
		u := transpose4(t, r)
		copy(z, u[:])
		return z
	}
	if c == 4 {
		Comment("rows 0..7 (vectors 0, 1) and 8..15 (2, 3): classes 0, 1 and 2, 3 of 8 rows each, then the halves joined")
		a0, a2 := t.vec(), t.vec()
		VMOVUPS(Mem{Base: xp}, a0)
		VMOVUPS(Mem{Base: xp, Disp: 2 * B}, a2)
		var b [2][2]reg.VecVirtual // b[half][pair]: pair 0 classes 0, 1; pair 1 classes 2, 3
		for pair := range 2 {
			tab := intTable(fmt.Sprintf("narrow4Pair%d", pair), func(l int) int { return 4*(l%8) + 2*pair + l/8 })
			for half, src := range []reg.VecVirtual{a0, a2} {
				b[half][pair] = t.vec()
				VMOVDQU32(tab, b[half][pair])
				VPERMI2PS(Mem{Base: xp, Disp: (2*half + 1) * B}, src, b[half][pair])
			}
		}
		for k := range 4 {
			z[k] = t.vec()
			VSHUFF32X4(U8([]uint8{0x44, 0xEE}[k%2]), b[1][k/2], b[0][k/2], z[k]) // rows 0..7 low, 8..15 high
		}
		return z
	}
	Comment("class j: 3r + j from vectors 0, 1 (VPERMI2PS), the rows past 32 floats from vector 2 (merge-masked VPERMPS)")
	a0, a1 := t.vec(), t.vec()
	VMOVUPS(Mem{Base: xp}, a0)
	VMOVUPS(Mem{Base: xp, Disp: B}, a1)
	for j := range 3 {
		z[j] = t.vec()
		VMOVDQU32(intTable(fmt.Sprintf("narrow3Lo%d", j), func(l int) int { return (3*l + j) % 32 }), z[j])
		VPERMI2PS(a1, a0, z[j])
		hi := t.vec()
		VMOVDQU32(intTable(fmt.Sprintf("narrow3Hi%d", j), func(l int) int { return (3*l + j) % 16 }), hi)
		k := khi
		if j == 2 {
			k = khi2
		}
		VPERMPS(Mem{Base: xp, Disp: 2 * B}, hi, k, z[j]) // lanes in k: element 3r + j − 32 of vector 2
	}
	return z
}
