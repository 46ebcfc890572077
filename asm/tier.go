package main

import (
	"fmt"
	"math"

	"github.com/mmcloughlin/avo/attr"
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
	"github.com/mmcloughlin/avo/x86"
)

// A tier is one amd64 kernel set: AVX2+FMA on 256-bit YMM registers, or AVX-512 on 512-bit ZMM
// registers with opmask registers for tails and compares. Every kernel is written once against
// the tier's helpers and emitted for both tiers; its assembly name carries the tier's suffix.
//
// Operand order follows Go's assembler (and avo): sources first, destination last, so
// VSUBPS(a, b, d) computes d = b − a and VFMADD231PS(a, b, d) computes d += a·b.
type tier struct {
	suffix string // "AVX2" or "AVX512"
	lanes  int    // float32 lanes per vector
	zmm    bool   // AVX-512
}

var (
	avx2   = tier{suffix: "AVX2", lanes: 8}
	avx512 = tier{suffix: "AVX512", lanes: 16, zmm: true}
	tiers  = []tier{avx2, avx512}
)

// vec allocates a vector register of the tier's width.
func (t tier) vec() reg.VecVirtual {
	if t.zmm {
		return ZMM()
	}
	return YMM()
}

// bytes is the width of a vector in bytes.
func (t tier) bytes() int { return 4 * t.lanes }

// text starts a kernel named name+suffix with the given Go signature and documentation (the
// first line starts with the kernel's name), declared noescape: no kernel keeps a pointer it is
// given.
func (t tier) text(name, signature string, doc ...string) {
	t.textFrame(NOSPLIT, name, signature, doc...)
}

// textFrame is text with the given frame attribute: 0 for a kernel whose frame is too large for
// NOSPLIT, so that the runtime grows the stack before it runs.
func (t tier) textFrame(a attr.Attribute, name, signature string, doc ...string) {
	TEXT(name+t.suffix, a, signature)
	Pragma("noescape")
	lines := append([]string{name + t.suffix + " " + doc[0]}, doc[1:]...)
	Doc(lines...) // Doc replaces, so all lines go in one call
}

// paramAddr is the frame slot of the parameter name, for instructions that read it directly
// (VBROADCASTSS from the frame reaches all 32 registers of AVX-512; MOVSS does not).
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	check(err == nil, "%v", err)
	return b.Addr
}

// consts holds the DATA symbols emitted so far, so each constant is emitted once.
var consts = map[string]Mem{}

// constMem returns the 4-byte DATA symbol holding bits, emitted on first use.
func constMem(name string, bits uint32) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := ConstData(name, U32(bits))
	consts[name] = m
	return m
}

// f32 broadcasts the float32 constant v (named for the DATA symbol) into a new register.
func (t tier) f32(name string, v float32) reg.VecVirtual { return t.u32(name, math.Float32bits(v)) }

// u32 broadcasts the 32-bit constant bits into a new register.
func (t tier) u32(name string, bits uint32) reg.VecVirtual {
	r := t.vec()
	VBROADCASTSS(constMem(name, bits), r)
	return r
}

// cf is the float32 constant v as an operand for the first (source) position of an instruction:
// a register on AVX-512, which has 32 of them; a full-width vector in memory on AVX2, which has
// 16 registers and needs them for data.
func (t tier) cf(name string, v float32) Op { return t.cu(name, math.Float32bits(v)) }

// cu is cf for a 32-bit pattern.
func (t tier) cu(name string, bits uint32) Op {
	if t.zmm {
		return t.u32(name, bits)
	}
	key := name + "Vec"
	if m, ok := consts[key]; ok {
		return m
	}
	m := GLOBL(key, RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(bits))
	}
	consts[key] = m
	return m
}

// broadcastF32 broadcasts the float32 in the low lane of x (an XMM register) to a new register.
func (t tier) broadcastF32(x reg.VecVirtual) reg.VecVirtual {
	r := t.vec()
	VBROADCASTSS(x, r)
	return r
}

// zero returns a new register holding zeros.
func (t tier) zero() reg.VecVirtual {
	r := t.vec()
	VXORPS(r, r, r)
	return r
}

// tailMask prepares a masked access of the first n lanes (0 < n < lanes, n in a 64-bit GP
// register that is left unchanged). AVX-512 returns an opmask register; AVX2 a vector whose lanes
// below n are all ones, for VMASKMOVPS and VBLENDVPS.
func (t tier) tailMask(r reg.Register) Op {
	n := r.(reg.GPVirtual)
	if t.zmm {
		ones, bits := GP32(), GP32()
		MOVL(U32(0xFFFF), ones)
		BZHIL(n.As32(), ones, bits)
		k := K()
		KMOVW(bits, k)
		return k
	}
	iota := t.vec()
	VMOVDQU(constIota(8), iota)
	cnt := t.vec()
	MOVQ(n, cnt.AsX())
	VPBROADCASTD(cnt.AsX(), cnt)
	VPCMPGTD(iota, cnt, cnt) // n > lane index
	return cnt
}

// constIota is the int32 lane indices 0..lanes−1 (8 or 16), for tail masks and index vectors.
func constIota(lanes int) Mem {
	name := "iota"
	if lanes == 16 {
		name = "iota16"
	}
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := range lanes {
		DATA(4*i, U32(i))
	}
	consts[name] = m
	return m
}

// loadTail loads the first lanes of mask from m into a new register, zeroing the others; no byte
// past them is read (masked loads do not fault on masked-off lanes).
func (t tier) loadTail(m Mem, mask Op) reg.VecVirtual {
	r := t.vec()
	if t.zmm {
		VMOVUPS_Z(m, mask, r)
	} else {
		VMASKMOVPS(m, mask, r)
	}
	return r
}

// storeTail stores the lanes of mask of r to m.
func (t tier) storeTail(r reg.VecVirtual, m Mem, mask Op) {
	if t.zmm {
		VMOVUPS(r, mask, m)
	} else {
		VMASKMOVPS(r, mask, m)
	}
}

// selectLanes sets d to a where mask is set and to b elsewhere (mask from tailMask or a compare).
func (t tier) selectLanes(mask Op, a, b, d reg.VecVirtual) {
	if t.zmm {
		VBLENDMPS(a, b, mask, d)
	} else {
		VBLENDVPS(mask, a, b, d)
	}
}

// hmax reduces v to its largest lane, left in lane 0 of v's XMM part. On AVX-512 it uses EVEX
// forms throughout, since v may be one of Z16–Z31, which VEX instructions cannot encode. NaN lanes
// may or may not survive; the kernels detect NaN elsewhere.
func (t tier) hmax(v reg.VecVirtual) {
	h := XMM()
	if t.zmm {
		hi := YMM()
		VEXTRACTF32X8(U8(1), v, hi)
		VMAXPS(hi, v.AsY(), v.AsY())
		VEXTRACTF32X4(U8(1), v.AsY(), h)
	} else {
		VEXTRACTF128(U8(1), v.AsY(), h)
	}
	VMAXPS(h, v.AsX(), v.AsX())
	VMOVHLPS(v.AsX(), h, h)
	VMAXPS(h, v.AsX(), v.AsX())
	VMOVSHDUP(v.AsX(), h)
	VMAXSS(h, v.AsX(), v.AsX())
}

// prefetchT0 and prefetchT1 emit PREFETCHT0 and PREFETCHT1 m (a prefetch never faults, so m may
// lie past a slice's end). avo files them under AMD's "MMX+"; Intel's manual and CPUID put them in
// SSE, which every amd64 CPU has, so that is what the kernels' Requires lines say.
func prefetchT0(m Mem) { prefetchAs(x86.PREFETCHT0, m) }
func prefetchT1(m Mem) { prefetchAs(x86.PREFETCHT1, m) }

func prefetchAs(op func(Op) (*ir.Instruction, error), m Mem) {
	i, err := op(m)
	check(err == nil, "prefetch: %v", err)
	i.ISA = []string{"SSE"}
	Instruction(i)
}

func check(cond bool, format string, a ...any) {
	if !cond {
		panic(fmt.Sprintf(format, a...))
	}
}
