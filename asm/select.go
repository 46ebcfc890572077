package main

import (
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
	cmpGE    = 13 // ordered, greater or equal
)

func genSelect(t tier) {
	genCount(t, "countAtLeast", cmpNLT, false,
		"returns how many x[i] >= v, NaNs included (v must not be NaN).")
	genCount(t, "countNaN", cmpUNORD, true,
		"returns how many x[i] are NaN (v is not read).")
	genMaxTarget(t)
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
		v = t.broadcastF32(Load(Param("v"), XMM()).(reg.VecVirtual))
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
	p := Load(Param("t").Base(), GP64())
	n := Load(Param("t").Len(), GP64())
	minus1 := t.u32("allOnes", 0xFFFFFFFF)
	acc := [2]reg.VecVirtual{t.vec(), t.vec()}
	VMOVDQA32orA(t, minus1, acc[0])
	VMOVDQA32orA(t, minus1, acc[1])
	loop, one, tail, done := name+t.suffix+"Loop2", name+t.suffix+"Loop1", name+t.suffix+"Tail", name+t.suffix+"Done"
	Label(loop)
	CMPQ(n, U32(2*t.lanes))
	JB(LabelRef(one))
	VPMAXSD(Mem{Base: p}, acc[0], acc[0])
	VPMAXSD(Mem{Base: p, Disp: t.bytes()}, acc[1], acc[1])
	ADDQ(U32(2*t.bytes()), p)
	SUBQ(U32(2*t.lanes), n)
	JMP(LabelRef(loop))
	Label(one)
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(tail))
	VPMAXSD(Mem{Base: p}, acc[0], acc[0])
	ADDQ(U32(t.bytes()), p)
	SUBQ(U32(t.lanes), n)
	Label(tail)
	TESTQ(n, n)
	JZ(LabelRef(done))
	mask := t.tailMask(n)
	x := t.vec()
	if t.zmm {
		VMOVDQA32(minus1, x)
		VMOVDQU32(Mem{Base: p}, mask, x) // masked-off lanes keep −1
	} else {
		VPMASKMOVD(Mem{Base: p}, mask, x)
		VBLENDVPS(mask, x, minus1, x)
	}
	VPMAXSD(x, acc[1], acc[1])
	Label(done)
	VPMAXSD(acc[1], acc[0], acc[0])
	v := acc[0]
	if t.zmm {
		hi := YMM()
		VEXTRACTI32X8(U8(1), v, hi)
		VPMAXSD(hi, v.AsY(), v.AsY())
	}
	hi := XMM()
	VEXTRACTI128(U8(1), v.AsY(), hi)
	VPMAXSD(hi, v.AsX(), v.AsX())
	VPSHUFD(U8(0b1110), v.AsX(), hi)
	VPMAXSD(hi, v.AsX(), v.AsX())
	VPSHUFD(U8(0b0001), v.AsX(), hi)
	VPMAXSD(hi, v.AsX(), v.AsX())
	r := GP32()
	VMOVD(v.AsX(), r)
	Store(r, ReturnIndex(0))
	VZEROUPPER()
	RET()
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
