package main

import (
	"encoding/binary"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// VCMPPS predicates.
const (
	cmpEQ    = 0  // ordered, equal
	cmpLT    = 1  // ordered, less than
	cmpLE    = 2  // ordered, less or equal
	cmpUNORD = 3  // either is NaN
	cmpNLT   = 5  // not less than: >=, or either is NaN
	cmpNLE   = 6  // not less or equal: >, or either is NaN
	cmpNGT   = 10 // not greater than: <=, or either is NaN
	cmpGE    = 13 // ordered, greater or equal
)

func genSelect(t tier) {
	genCount(t, "countAtLeast", cmpNLT, false,
		"returns how many x[i] >= v, NaNs included (v must not be NaN).")
	genCount(t, "countNaN", cmpUNORD, true,
		"returns how many x[i] are NaN (v is not read).")
	genMaxTarget(t)
	genBand(t)
	genIndices(t, "indicesAtLeast", false,
		"writes base+i for every x[i] >= v, NaNs included, ascending to dst and returns their count (v must not be NaN; dst has room for all).")
	genIndices(t, "indicesNaN", true,
		"writes base+i for every NaN x[i], ascending to dst and returns their count (v is not read; dst has room for all).")
	genIndicesZero(t)
}

// hsumD returns the sum of the int32 lanes of v in a new 64-bit register.
func (t tier) hsumD(v reg.VecVirtual) reg.GPVirtual {
	if t.zmm {
		hi := YMM()
		VEXTRACTI32X8(U8(1), v, hi)
		VPADDD(hi, v.AsY(), v.AsY())
	}
	hi := XMM()
	VEXTRACTI128(U8(1), v.AsY(), hi)
	VPADDD(hi, v.AsX(), v.AsX())
	VPSHUFD(U8(0b1110), v.AsX(), hi)
	VPADDD(hi, v.AsX(), v.AsX())
	VPSHUFD(U8(0b0001), v.AsX(), hi)
	VPADDD(hi, v.AsX(), v.AsX())
	r := GP64()
	VMOVD(v.AsX(), r.As32()) // zero-extends into r
	return r
}

// countLanes adds one to the lanes of the count accumulator acc where pred(x, v) holds (self: pred(x, x)),
// restricted to tail when it is not nil.
func (t tier) countLanes(pred int, self bool, x, v, acc reg.VecVirtual, tail Op, ones Op) {
	other := Op(v)
	if self {
		other = x
	}
	if t.zmm {
		k := K()
		if tail != nil {
			VCMPPS(U8(pred), other, x, tail, k)
		} else {
			VCMPPS(U8(pred), other, x, k)
		}
		VPSUBD(ones, acc, k, acc)
		return
	}
	m := t.vec()
	VCMPPS(U8(pred), other, x, m)
	if tail != nil {
		VANDPS(tail, m, m)
	}
	VPSUBD(m, acc, acc) // a true lane is −1
}

// genCount emits name(x []float32, v float32) int: how many lanes satisfy pred(x[i], v), four
// vectors an iteration into four accumulators, the tail through a mask.
func genCount(t tier, name string, pred int, self bool, doc string) {
	t.text(name, "func(x []float32, v float32) int", doc)
	p := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	var v reg.VecVirtual
	if !self {
		v = t.loadParamF32("v")
	}
	acc := [4]reg.VecVirtual{t.zero(), t.zero(), t.zero(), t.zero()}
	var ones Op
	if t.zmm {
		ones = t.u32("allOnes", 0xFFFFFFFF)
	}
	loop, one, tail, done := name+t.suffix+"Loop4", name+t.suffix+"Loop1", name+t.suffix+"Tail", name+t.suffix+"Done"
	Label(loop)
	CMPQ(n, U32(4*t.lanes))
	JB(LabelRef(one))
	for i := range 4 {
		x := t.vec()
		VMOVUPS(Mem{Base: p, Disp: i * t.bytes()}, x)
		t.countLanes(pred, self, x, v, acc[i], nil, ones)
	}
	ADDQ(U32(4*t.bytes()), p)
	SUBQ(U32(4*t.lanes), n)
	JMP(LabelRef(loop))
	Label(one)
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(tail))
	x := t.vec()
	VMOVUPS(Mem{Base: p}, x)
	t.countLanes(pred, self, x, v, acc[0], nil, ones)
	ADDQ(U32(t.bytes()), p)
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(one))
	Label(tail)
	TESTQ(n, n)
	JZ(LabelRef(done))
	mask := t.tailMask(n)
	x = t.loadTail(Mem{Base: p}, mask)
	t.countLanes(pred, self, x, v, acc[1], mask, ones)
	Label(done)
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	Store(t.hsumD(acc[0]), ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// genMaxTarget emits maxTarget(t []int32) int32: the largest element, −1 for an empty slice.
func genMaxTarget(t tier) {
	name := "maxTarget"
	t.text(name, "func(t []int32) int32", "returns the largest element of t, or −1 when t is empty.")
	p := Load(Param("t").Base(), GP64()).(reg.GPVirtual)
	n := Load(Param("t").Len(), GP64()).(reg.GPVirtual)
	minus1 := t.u32("allOnes", 0xFFFFFFFF)
	acc := [2]reg.VecVirtual{t.vec(), t.vec()}
	VMOVDQA32orA(t, minus1, acc[0])
	VMOVDQA32orA(t, minus1, acc[1])
	t.vectorLoop(name, n, []reg.GPVirtual{p}, func(disp int, mask Op) {
		if mask == nil {
			VPMAXSD(Mem{Base: p, Disp: disp}, acc[disp/t.bytes()], acc[disp/t.bytes()])
			return
		}
		x := t.vec()
		if t.zmm {
			VMOVDQA32(minus1, x)
			VMOVDQU32(Mem{Base: p}, mask, x) // masked-off lanes keep −1
		} else {
			VPMASKMOVD(Mem{Base: p}, mask, x)
			VBLENDVPS(mask, x, minus1, x)
		}
		VPMAXSD(x, acc[1], acc[1])
	})
	VPMAXSD(acc[1], acc[0], acc[0])
	Store(t.hmaxD(acc[0]), ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// hmaxD returns the largest int32 lane of v (which it overwrites) in a new general register.
func (t tier) hmaxD(v reg.VecVirtual) reg.GPVirtual {
	if t.zmm {
		hi := YMM()
		VEXTRACTI32X8(U8(1), v, hi)
		VPMAXSD(hi, v.AsY(), v.AsY())
	}
	hi := XMM()
	if t.zmm {
		VEXTRACTI32X4(U8(1), v.AsY(), hi) // EVEX: v may be one of Y16–Y31
	} else {
		VEXTRACTI128(U8(1), v.AsY(), hi)
	}
	VPMAXSD(hi, v.AsX(), v.AsX())
	VPSHUFD(U8(0b1110), v.AsX(), hi)
	VPMAXSD(hi, v.AsX(), v.AsX())
	VPSHUFD(U8(0b0001), v.AsX(), hi)
	VPMAXSD(hi, v.AsX(), v.AsX())
	r := GP32()
	VMOVD(v.AsX(), r)
	return r.(reg.GPVirtual)
}

// VMOVDQA32orA copies a vector register: VMOVDQA32 on AVX-512 (which reaches all 32 registers),
// VMOVDQA on AVX2.
func VMOVDQA32orA(t tier, src, dst reg.VecVirtual) {
	if t.zmm {
		VMOVDQA32(src, dst)
	} else {
		VMOVDQA(src, dst)
	}
}

// Compaction: the selection's second kernel family writes the lanes that pass a compare, left-packed,
// to an output that advances by their number.
//
// AVX-512 packs a vector with VCOMPRESSPS / VPCOMPRESSD into a register (compress straight to memory
// is microcoded on Zen 4). AVX2 has no compress: VMOVMSKPS turns the compare into an 8-bit mask that
// picks, from compactTable, the VPERMPS permutation that moves the passing lanes to the bottom.
// While a whole vector of output room is left for each vector of the step, the packed vector is
// stored whole (the lanes past the count are overwritten later, or lie past the result); the last
// ones store exactly the count (storeCount: an opmask store on AVX-512, pieces on AVX2, never a
// VMASKMOVPS store, which is microcoded on AMD), skipped when nothing passed.

// usePOPCNT counts the passing lanes with POPCNT (dispatch checks the feature) instead of the
// byte counts of compactTable, which cost one load for the 8-bit masks of AVX2 and five
// instructions instead of one for the 16-bit masks of AVX-512.
const usePOPCNT = true

// compactPop is the offset in compactTable of the population counts of the bytes 0..255.
const compactPop = 256 * 8

// compactTable is, for every 8-bit mask, the lane indices of its set bits in ascending order as 8
// bytes (unused bytes 0), for VPMOVZXBD and VPERMPS; then at compactPop the population count of
// every byte.
func compactTable() Mem {
	var words []uint64 // at 8·i
	var pop [256]byte
	for mask := range 256 {
		var e uint64
		j := 0
		for i := range 8 {
			if mask>>i&1 != 0 {
				e |= uint64(i) << (8 * j)
				j++
			}
		}
		pop[mask] = byte(j)
		words = append(words, e)
	}
	for i := 0; i < 256; i += 8 {
		var e uint64
		for j := range 8 {
			e |= uint64(pop[i+j]) << (8 * j)
		}
		words = append(words, e)
	}
	var data []byte
	for _, e := range words {
		data = binary.LittleEndian.AppendUint64(data, e)
	}
	return consts.get("compact", data, func() Mem {
		m := GLOBL("compact", RODATA|NOPTR)
		for i, e := range words {
			DATA(8*i, U64(e))
		}
		return m
	})
}

// popcount returns in a new register the number of set bits of the lane mask r (8 bits on AVX2, 16
// on AVX-512; r is clobbered), looked up in compactTable at tbl.
func (t tier) popcount(tbl, r reg.GPVirtual) reg.GPVirtual {
	c := GP64()
	switch {
	case usePOPCNT:
		POPCNTL(r.As32(), c.As32())
	case !t.zmm:
		MOVBLZX(Mem{Base: tbl, Index: r, Scale: 1, Disp: compactPop}, c.As32())
	default: // the two bytes of the mask
		lo := GP64()
		MOVBLZX(r.As8(), lo.As32())
		SHRL(U8(8), r.As32())
		MOVBLZX(Mem{Base: tbl, Index: lo, Scale: 1, Disp: compactPop}, c.As32())
		MOVBLZX(Mem{Base: tbl, Index: r, Scale: 1, Disp: compactPop}, lo.As32())
		ADDL(lo.As32(), c.As32())
	}
	return c
}

// pack left-packs the lanes of v selected by the compare result m (a K register on AVX-512, a vector
// of all-ones lanes on AVX2) into a new register, whose other lanes are zero on AVX-512 and
// unspecified on AVX2, and returns it with the number of those lanes. ints: v holds int32 lanes.
func (t tier) pack(v reg.VecVirtual, m Op, tbl reg.GPVirtual, ints bool) (reg.VecVirtual, reg.GPVirtual) {
	z := t.vec()
	r := GP64()
	if t.zmm {
		// Zeroing, not merging: a merge would chain each iteration to the last one's z.
		if ints {
			VPCOMPRESSD_Z(v, m, z)
		} else {
			VCOMPRESSPS_Z(v, m, z)
		}
		KMOVW(m, r.As32())
	} else {
		VMOVMSKPS(m, r.As32())
		perm := t.vec()
		VPMOVZXBD(Mem{Base: tbl, Index: r, Scale: 8}, perm) // the set lanes' indices, ascending
		if ints {
			VPERMD(v, perm, z)
		} else {
			VPERMPS(v, perm, z)
		}
	}
	return z, t.popcount(tbl, r)
}

// storeCount stores the first c lanes of z to out (0 <= c <= lanes), and no more: through an
// opmask on AVX-512, in pieces on AVX2 (storeTail: no masked store, see tier.go).
func (t tier) storeCount(z reg.VecVirtual, out, c reg.GPVirtual) {
	skip := label("storeCount" + t.suffix)
	TESTQ(c, c)
	JZ(LabelRef(skip))
	t.storeTail(z, Mem{Base: out}, c, nil)
	Label(skip)
}

// genBand emits band(buf, x []float32, lo, hi float32) (above, inBand int): one pass that counts
// the x[i] above hi (NaN included) and copies those in [lo, hi] to buf in order, at most len(buf)
// of them, counting the rest.
//
// Three loops: the fast one, two vectors a step, while two whole vectors of buf are left (the
// count in band is then the distance the output pointer has moved); the edge one, which stores
// min(passed, room) lanes (storeCount) and keeps counting once buf is full; the masked tail of
// fewer than a vector.
func genBand(t tier) {
	name := "band"
	t.text(name, "func(buf, x []float32, lo, hi float32) (above, inBand int)",
		"counts the x[i] above hi (NaN included) and copies the x[i] in [lo, hi] to buf in order, at",
		"most len(buf) of them, still counting the rest (lo <= hi, neither NaN).")
	out, room, p, n := GP64(), GP64(), GP64(), GP64()
	Load(Param("buf").Base(), out)
	Load(Param("buf").Len(), room)
	Load(Param("x").Base(), p)
	Load(Param("x").Len(), n)
	lo := t.loadParamF32("lo")
	hi := t.loadParamF32("hi")
	above := t.zero() // per lane, the count of lanes above hi
	var ones Op
	if t.zmm {
		ones = t.u32("allOnes", 0xFFFFFFFF)
	}
	tbl := GP64()
	LEAQ(compactTable(), tbl)
	start := GP64()
	MOVQ(out, start)
	limit := GP64() // the last output position that leaves room for two whole vectors (signed: buf may be nil)
	LEAQ(Mem{Base: out, Index: room, Scale: 4, Disp: -2 * t.bytes()}, limit)

	// vector classifies x (tail: a lane mask, or nil): counts the lanes above hi into above, and
	// returns the lanes in [lo, hi], left-packed, with their number.
	vector := func(x reg.VecVirtual, tail Op) (reg.VecVirtual, reg.GPVirtual) {
		if t.zmm {
			up, in := K(), K()
			if tail != nil {
				VCMPPS(U8(cmpNLE), hi, x, tail, up)
				VCMPPS(U8(cmpGE), lo, x, tail, in)
			} else {
				VCMPPS(U8(cmpNLE), hi, x, up)
				VCMPPS(U8(cmpGE), lo, x, in)
			}
			VPSUBD(ones, above, up, above)
			VCMPPS(U8(cmpLE), hi, x, in, in) // lo <= x <= hi
			return t.pack(x, in, tbl, false)
		}
		up, in := t.vec(), t.vec()
		VCMPPS(U8(cmpNLE), hi, x, up)
		VCMPPS(U8(cmpGE), lo, x, in)
		if tail != nil {
			VANDPS(tail, up, up)
			VANDPS(tail, in, in)
		}
		VPSUBD(up, above, above) // a true lane is −1
		VANDNPS(in, up, in)      // lo <= x and not above hi
		return t.pack(x, in, tbl, false)
	}

	fast, edge, edgeLoop, tail, done := name+t.suffix+"Fast", name+t.suffix+"Edge", name+t.suffix+"EdgeLoop", name+t.suffix+"Tail", name+t.suffix+"Done"
	Comment("Fast loop: two vectors a step while buf has room for two whole vectors, each packed vector stored whole.")
	Label(fast)
	CMPQ(n, U32(2*t.lanes))
	JB(LabelRef(edge))
	CMPQ(out, limit)
	JG(LabelRef(edge))
	for i := range 2 {
		x := t.vec()
		VMOVUPS(Mem{Base: p, Disp: i * t.bytes()}, x)
		z, c := vector(x, nil)
		VMOVUPS(z, Mem{Base: out})
		LEAQ(Mem{Base: out, Index: c, Scale: 4}, out)
	}
	ADDQ(U32(2*t.bytes()), p)
	SUBQ(U32(2*t.lanes), n)
	JMP(LabelRef(fast))

	Comment("Edge: cnt counts the lanes in band, rem the room left in buf; each store takes min(passed, rem) lanes.")
	Label(edge)
	cnt, rem := GP64(), GP64()
	MOVQ(out, cnt)
	SUBQ(start, cnt)
	SHRQ(U8(2), cnt)
	MOVQ(room, rem)
	SUBQ(cnt, rem)
	// partial stores the first min(c, rem) lanes of z and advances the counts.
	partial := func(z reg.VecVirtual, c reg.GPVirtual) {
		w, d := GP64(), GP64() // w = min(c, rem) = rem + min(c − rem, 0), without CMOV (not in dispatch's list)
		MOVQ(c, d)
		SUBQ(rem, d)
		MOVQ(d, w)
		SARQ(U8(63), w)
		ANDQ(d, w)
		ADDQ(rem, w)
		t.storeCount(z, out, w)
		LEAQ(Mem{Base: out, Index: w, Scale: 4}, out)
		SUBQ(w, rem)
		ADDQ(c, cnt)
	}
	Label(edgeLoop)
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(tail))
	x := t.vec()
	VMOVUPS(Mem{Base: p}, x)
	partial(vector(x, nil))
	ADDQ(U32(t.bytes()), p)
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(edgeLoop))

	Comment("Tail: the last n < lanes elements, through a mask.")
	Label(tail)
	TESTQ(n, n)
	JZ(LabelRef(done))
	mask := t.tailMask(n)
	x = t.loadTail(Mem{Base: p}, mask)
	partial(vector(x, mask))

	Label(done)
	Store(t.hsumD(above), ReturnIndex(0))
	Store(cnt, ReturnIndex(1))
	VZEROUPPER()
	RET()
}

// passMask returns the mask of the lanes of the vector at at (tail: a lane mask, or nil) that
// genIndices takes: x >= v or NaN, or with nan NaN only. AVX-512 returns an opmask register, AVX2 a
// vector.
func (t tier) passMask(at Mem, tail Op, v reg.VecVirtual, nan bool) Op {
	var m Op
	if t.zmm {
		k := K()
		m = k
		switch {
		case tail != nil || nan:
			x := t.vec()
			if tail != nil {
				VMOVUPS_Z(at, tail, x)
			} else {
				VMOVUPS(at, x)
			}
			pred, other := U8(cmpNLT), Op(v)
			if nan {
				pred, other = U8(cmpUNORD), x
			}
			if tail != nil {
				VCMPPS(pred, other, x, tail, k)
			} else {
				VCMPPS(pred, other, x, k)
			}
		default:
			VCMPPS(U8(cmpNGT), at, v, k) // not v > x: x >= v or NaN
		}
	} else {
		mv := t.vec()
		m = mv
		switch {
		case tail != nil || nan:
			var x reg.VecVirtual
			if tail != nil {
				x = t.loadTail(at, tail)
			} else {
				x = t.vec()
				VMOVUPS(at, x)
			}
			if nan {
				VCMPPS(U8(cmpUNORD), x, x, mv)
			} else {
				VCMPPS(U8(cmpNLT), v, x, mv)
			}
			if tail != nil {
				VANDPS(tail, mv, mv)
			}
		default:
			VCMPPS(U8(cmpNGT), at, v, mv) // not v > x: x >= v or NaN
		}
	}
	return m
}

// genIndicesZero emits indicesZeroBelow(dst []int32, g, x []float32, v float32, base int32) int:
// indicesAtLeast that also sets g[i] = 0 where x[i] < v (zeroBelow), from the same compare in the
// same pass. After the fused Sigmoid pass, the selection's last pass over the ranks then zeroes
// the gradient of the samples it drops, which saves zeroBelow's second read of the ranks.
func genIndicesZero(t tier) {
	genIndicesOpt(t, "indicesZeroBelow", false, true,
		"writes base+i for every x[i] >= v, NaNs included, ascending to dst and returns their count, and sets g[i] = 0 for every other i < len(x) (v must not be NaN; dst has room for all; len(g) >= len(x)).")
}

// genIndices emits name(dst []int32, x []float32, v float32, base int32) int: base+i for every
// x[i] >= v (NaN included; nan: every NaN x[i]) written ascending to dst, which has room for all,
// and their count. The index vector base+i+lane advances by a vector each step. The loops are
// band's: two vectors a step with whole stores while dst has room for two whole vectors, then
// stores masked to the count.
func genIndices(t tier, name string, nan bool, doc string) {
	genIndicesOpt(t, name, nan, false, doc)
}

// genIndicesOpt is genIndices; with zero the function takes g after dst and sets g[i] = 0 where
// the lane does not pass: the passing lanes' mask keeps g (AVX-512 a zeroing-masked load, AVX2 a
// VANDPS with the compare), stored whole, the tail through storeTail.
func genIndicesOpt(t tier, name string, nan, zero bool, doc string) {
	sig := "func(dst []int32, x []float32, v float32, base int32) int"
	if zero {
		sig = "func(dst []int32, g, x []float32, v float32, base int32) int"
	}
	t.text(name, sig, doc)
	out, room, p, n := GP64(), GP64(), GP64(), GP64()
	Load(Param("dst").Base(), out)
	Load(Param("dst").Len(), room)
	Load(Param("x").Base(), p)
	Load(Param("x").Len(), n)
	var gp reg.GPVirtual
	if zero {
		gp = GP64()
		Load(Param("g").Base(), gp)
	}
	var v reg.VecVirtual
	if !nan {
		v = t.loadParamF32("v")
	}
	// The indices of the passing lanes are base+i (i the vector's first element) plus their lane
	// numbers, which compactTable lists for each 8-bit mask: lo holds base+i in every lane, and on
	// AVX-512 hi base+i+8, for the upper eight lanes (no VPCOMPRESSD: it takes several cycles a
	// vector on AMD's Zen 5, as long as the rest of the loop).
	b := Load(Param("base"), GP32())
	lo, hi := YMM(), YMM()
	VMOVD(b, lo.AsX())
	VPBROADCASTD(lo.AsX(), lo)
	var step Op
	if t.zmm {
		eight, sixteen := YMM(), YMM()
		VPBROADCASTD(constMem("eight", 8), eight)
		VPADDD(eight, lo, hi)
		VPBROADCASTD(constMem("sixteen", 16), sixteen)
		step = sixteen
	} else {
		step = t.cu("eight", 8)
	}
	tbl := GP64()
	LEAQ(compactTable(), tbl)
	start := GP64()
	MOVQ(out, start)
	limit := GP64() // the last output position that leaves room for two whole vectors (signed)
	LEAQ(Mem{Base: out, Index: room, Scale: 4, Disp: -2 * t.bytes()}, limit)

	// vector packs the indices of the passing lanes of the elements at p+disp (tail: a lane mask,
	// or nil), stores them (whole when full, else exactly their number) and advances idx.
	vector := func(disp int, tail Op, full bool) {
		m := t.passMask(Mem{Base: p, Disp: disp}, tail, v, nan)
		if zero {
			gv := t.vec()
			at := Mem{Base: gp, Disp: disp}
			if t.zmm {
				VMOVUPS_Z(at, m, gv) // the dropped lanes (and the tail's) zero
			} else {
				if tail != nil {
					gv = t.loadTail(at, tail)
				} else {
					VMOVUPS(at, gv)
				}
				VANDPS(m, gv, gv) // m: all-ones where the lane passes
			}
			if tail != nil {
				t.storeTail(gv, at, n, tail)
			} else {
				VMOVUPS(gv, at)
			}
		}
		// emit stores the indices of the lanes of the 8-bit mask r (base in every lane of base).
		emit := func(r reg.GPVirtual, base reg.VecVirtual) {
			z := YMM()
			VPMOVZXBD(Mem{Base: tbl, Index: r, Scale: 8}, z) // the set lanes' numbers, ascending
			VPADDD(base, z, z)
			c := t.popcount(tbl, r)
			if full {
				VMOVDQU(z, Mem{Base: out})
			} else {
				t.storeCount(z, out, c)
			}
			LEAQ(Mem{Base: out, Index: c, Scale: 4}, out)
			VPADDD(step, base, base)
		}
		r := GP64()
		if t.zmm {
			KMOVW(m, r.As32())
			low := GP64()
			MOVBLZX(r.As8(), low.As32())
			SHRL(U8(8), r.As32())
			emit(low, lo)
			emit(r, hi)
		} else {
			VMOVMSKPS(m, r.As32())
			emit(r, lo)
		}
	}

	fast, edge, tail, done := name+t.suffix+"Fast", name+t.suffix+"Edge", name+t.suffix+"Tail", name+t.suffix+"Done"
	Comment("Fast loop: two vectors a step while dst has room for two whole vectors, each packed vector stored whole.")
	Label(fast)
	CMPQ(n, U32(2*t.lanes))
	JB(LabelRef(edge))
	CMPQ(out, limit)
	JG(LabelRef(edge))
	vector(0, nil, true)
	vector(t.bytes(), nil, true)
	ADDQ(U32(2*t.bytes()), p)
	if zero {
		ADDQ(U32(2*t.bytes()), gp)
	}
	SUBQ(U32(2*t.lanes), n)
	JMP(LabelRef(fast))

	Comment("Edge: whole vectors, each packed vector stored through a mask of as many lanes as passed.")
	Label(edge)
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(tail))
	vector(0, nil, false)
	ADDQ(U32(t.bytes()), p)
	if zero {
		ADDQ(U32(t.bytes()), gp)
	}
	SUBQ(U32(t.lanes), n)
	JMP(LabelRef(edge))

	Comment("Tail: the last n < lanes elements, through a mask.")
	Label(tail)
	TESTQ(n, n)
	JZ(LabelRef(done))
	vector(0, t.tailMask(n), false)

	Label(done)
	SUBQ(start, out)
	SHRQ(U8(2), out)
	Store(out, ReturnIndex(0))
	VZEROUPPER()
	RET()
}
