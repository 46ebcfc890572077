package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// genRanks emits negPosRanks(rank, loss []float32, t []int32, bg int32) int, NegPosRatio's
// ranking pass: rank[i] = NaN (the quiet NaN 0x7FC00000, above every loss in the selection's
// order) for a positive (t[i] >= 0 and t[i] != bg), loss[i] for every other sample; it returns the
// number of positives. len(rank) and len(t) are at least len(loss). Two vectors an iteration, one,
// then a masked tail; the positives counted per lane (AVX2: VPSUBD of the all-ones compare) or by
// POPCNT of the opmask (AVX-512). The stores are plain (the tail's through storeTail, which avoids
// VMASKMOVPS stores, microcoded on AMD).
func genRanks(t tier) {
	name := "negPosRanks"
	t.text(name, "func(rank, loss []float32, t []int32, bg int32) int",
		"sets rank[i] to NaN for a positive (t[i] >= 0, t[i] != bg) and to loss[i] otherwise, for i < len(loss),",
		"and returns the number of positives.")
	r, l, tp, n := GP64(), GP64(), GP64(), GP64()
	Load(Param("rank").Base(), r)
	Load(Param("loss").Base(), l)
	Load(Param("t").Base(), tp)
	Load(Param("loss").Len(), n)
	bg := t.broadcastGP(Load(Param("bg"), GP32()))
	nan := t.u32("quietNaN", 0x7fc00000)
	minus1 := t.u32("allOnes", 0xFFFFFFFF)
	cnt := GP64() // AVX-512: the count so far
	acc := t.zero()
	XORQ(cnt, cnt)
	// one vector: positives → NaN, the count of positives into acc or cnt (tail: the lanes of mask).
	vector := func(disp int, mask Op) {
		tv, lv := t.vec(), t.vec()
		if mask == nil {
			VMOVDQU32orU(t, Mem{Base: tp, Disp: disp}, tv)
			VMOVUPS(Mem{Base: l, Disp: disp}, lv)
		} else if t.zmm {
			VMOVDQU32_Z(Mem{Base: tp}, mask, tv)
			VMOVUPS_Z(Mem{Base: l}, mask, lv)
		} else {
			VPMASKMOVD(Mem{Base: tp}, mask, tv)
			VMASKMOVPS(Mem{Base: l}, mask, lv)
		}
		if t.zmm {
			k := K()
			if mask != nil {
				VPCMPGTD(minus1, tv, mask, k) // t > −1, within the tail
			} else {
				VPCMPGTD(minus1, tv, k)
			}
			VPCMPD(U8(4), bg, tv, k, k) // and t != bg (predicate 4: not equal)
			VMOVAPS(nan, k, lv)
			c := GP32()
			KMOVW(k, c)
			POPCNTL(c, c)
			ADDQ(c.As64(), cnt)
		} else {
			p, e := t.vec(), t.vec()
			VPCMPGTD(minus1, tv, p) // t > −1
			VPCMPEQD(bg, tv, e)
			VPANDN(p, e, p) // and not t == bg
			if mask != nil {
				VPAND(mask, p, p)
			}
			VBLENDVPS(p, nan, lv, lv)
			VPSUBD(p, acc, acc) // a positive lane is −1
		}
		if mask == nil {
			VMOVUPS(lv, Mem{Base: r, Disp: disp})
		} else {
			t.storeTail(lv, Mem{Base: r}, n, mask)
		}
	}
	t.vectorLoop(name, n, []reg.GPVirtual{r, l, tp}, vector)
	if !t.zmm {
		ADDQ(t.hsumD(acc), cnt)
	}
	Store(cnt, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// VMOVDQU32orU loads a vector of int32s: VMOVDQU32 on AVX-512 (which reaches all 32 registers),
// VMOVDQU on AVX2.
func VMOVDQU32orU(t tier, m Mem, d reg.VecVirtual) {
	if t.zmm {
		VMOVDQU32(m, d)
	} else {
		VMOVDQU(m, d)
	}
}

// genZeroBelow emits zeroBelow(g, rank []float32, thr float32): g[i] = 0 where rank[i] < thr (an
// ordered compare: a NaN rank, a positive of NegPosRatio, keeps its g[i]), for i < len(rank);
// len(g) >= len(rank). After the fused Sigmoid pass this zeroes the gradient of the samples the
// selection dropped when its threshold alone tells them apart. Two vectors an iteration, then
// one, then the tail: g is loaded, blended with zero and stored whole (AVX-512 stores the tail
// through the opmask, AVX2 through storeTail: no VMASKMOVPS store, microcoded on AMD).
func genZeroBelow(t tier) {
	name := "zeroBelow"
	t.text(name, "func(g, rank []float32, thr float32)",
		"sets g[i] = 0 where rank[i] < thr (not where rank[i] is NaN), for i < len(rank).")
	gp, rp, n := GP64(), GP64(), GP64()
	Load(Param("g").Base(), gp)
	Load(Param("rank").Base(), rp)
	Load(Param("rank").Len(), n)
	thr := t.loadParamF32("thr")
	zero := t.zero()
	vector := func(disp int, mask Op) {
		rv, gv := t.vec(), t.vec()
		if mask == nil {
			VMOVUPS(Mem{Base: rp, Disp: disp}, rv)
			VMOVUPS(Mem{Base: gp, Disp: disp}, gv)
		} else {
			rv = t.loadTail(Mem{Base: rp}, mask)
			gv = t.loadTail(Mem{Base: gp}, mask)
		}
		if t.zmm {
			k := K()
			VCMPPS(U8(cmpLT), thr, rv, k) // rank < thr, ordered
			VMOVAPS(zero, k, gv)
		} else {
			m := t.vec()
			VCMPPS(U8(cmpLT), thr, rv, m)
			VBLENDVPS(m, zero, gv, gv)
		}
		switch {
		case mask == nil:
			VMOVUPS(gv, Mem{Base: gp, Disp: disp})
		default:
			t.storeTail(gv, Mem{Base: gp}, n, mask)
		}
	}
	t.vectorLoop(name, n, []reg.GPVirtual{gp, rp}, vector)
	VZEROUPPER()
	RET()
}

// genCountTargets emits countTargets(t []int32, bg int32) (valid, pos int): how many t[i] >= 0 and
// how many of those differ from bg (NegPosRatio's positives). ForwardBackward needs both before the
// loss pass to know the scale of the kept samples. Two vectors an iteration, then one, then a
// masked tail; the counts per lane (AVX2: VPSUBD of the all-ones compares) or by POPCNT of the
// opmasks (AVX-512).
func genCountTargets(t tier) {
	name := "countTargets"
	t.text(name, "func(t []int32, bg int32) (valid, pos int)",
		"returns how many t[i] are >= 0 and how many of those are not bg.")
	tp, n := GP64(), GP64()
	Load(Param("t").Base(), tp)
	Load(Param("t").Len(), n)
	bg := t.broadcastGP(Load(Param("bg"), GP32()))
	minus1 := t.u32("allOnes", 0xFFFFFFFF)
	cv, cp := GP64(), GP64() // AVX-512: the counts so far
	av, ap := t.zero(), t.zero()
	XORQ(cv, cv)
	XORQ(cp, cp)
	vector := func(disp int, mask Op) {
		tv := t.vec()
		switch {
		case mask == nil:
			VMOVDQU32orU(t, Mem{Base: tp, Disp: disp}, tv)
		case t.zmm:
			VMOVDQU32_Z(Mem{Base: tp}, mask, tv)
		default:
			VPMASKMOVD(Mem{Base: tp}, mask, tv)
		}
		if t.zmm {
			kv, kp := K(), K()
			if mask != nil {
				VPCMPGTD(minus1, tv, mask, kv) // t > −1, within the tail
			} else {
				VPCMPGTD(minus1, tv, kv)
			}
			VPCMPD(U8(4), bg, tv, kv, kp) // and t != bg (predicate 4: not equal)
			for _, kc := range []struct {
				k reg.Register
				c reg.GPVirtual
			}{{kv, cv}, {kp, cp}} {
				r := GP32()
				KMOVW(kc.k, r)
				POPCNTL(r, r)
				ADDQ(r.As64(), kc.c)
			}
			return
		}
		v, e := t.vec(), t.vec()
		VPCMPGTD(minus1, tv, v) // t > −1
		if mask != nil {
			VPAND(mask, v, v)
		}
		VPCMPEQD(bg, tv, e)
		VPSUBD(v, av, av) // a true lane is −1
		VPANDN(v, e, e)   // valid and not bg
		VPSUBD(e, ap, ap)
	}
	t.vectorLoop(name, n, []reg.GPVirtual{tp}, vector)
	if !t.zmm {
		ADDQ(t.hsumD(av), cv)
		ADDQ(t.hsumD(ap), cp)
	}
	Store(cv, ReturnIndex(0))
	Store(cp, ReturnIndex(1))
	VZEROUPPER()
	RET()
}
