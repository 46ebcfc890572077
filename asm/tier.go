package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

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

// A constTable holds the DATA symbols emitted so far with their contents, so that each constant
// is emitted once and a name is never reused for other contents: the first use of a name emits its
// symbol, a later one with the same contents gets that symbol, and one with other contents is a
// generator bug (it would silently read the first contents), which panics with both.
type constTable map[string]constSym

// A constSym is an emitted DATA symbol and its contents, little-endian.
type constSym struct {
	m    Mem
	data []byte
}

// get returns the symbol name holding data, calling emit to emit it on its first use.
func (c constTable) get(name string, data []byte, emit func() Mem) Mem {
	if s, ok := c[name]; ok {
		if !bytes.Equal(s.data, data) {
			panic(fmt.Sprintf("constant %s reused with other contents: first %s, now %s", name, describeData(s.data), describeData(data)))
		}
		return s.m
	}
	m := emit()
	c[name] = constSym{m: m, data: data}
	return m
}

// describeData shows a constant's contents for get's panic: its size and first 32-bit words, in hex
// (and the float32 a lone word holds).
func describeData(data []byte) string {
	var words []string
	for i := 0; i+4 <= len(data) && i < 64; i += 4 {
		words = append(words, fmt.Sprintf("0x%08x", binary.LittleEndian.Uint32(data[i:])))
	}
	s := fmt.Sprintf("%d bytes [%s", len(data), strings.Join(words, " "))
	if len(data) > 64 {
		s += " ..."
	}
	s += "]"
	if len(data) == 4 {
		s += fmt.Sprintf(" (float32 %g)", math.Float32frombits(binary.LittleEndian.Uint32(data)))
	}
	return s
}

// u32Data is the contents of a table of the 32-bit words w.
func u32Data(w ...uint32) []byte {
	b := make([]byte, 0, 4*len(w))
	for _, v := range w {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// u32Table returns the DATA symbol name holding the 32-bit words w, emitted on first use.
func u32Table(name string, w []uint32) Mem {
	return consts.get(name, u32Data(w...), func() Mem {
		m := GLOBL(name, RODATA|NOPTR)
		for i, v := range w {
			DATA(4*i, U32(v))
		}
		return m
	})
}

// consts holds the DATA symbols of the amd64 kernels.
var consts = constTable{}

// constMem returns the 4-byte DATA symbol holding bits, emitted on first use.
func constMem(name string, bits uint32) Mem {
	return consts.get(name, u32Data(bits), func() Mem { return ConstData(name, U32(bits)) })
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
	w := make([]uint32, 8)
	for i := range w {
		w[i] = bits
	}
	return u32Table(name+"Vec", w)
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

// Instruction forms. Every instruction of an AVX2 or AVX-512 kernel is VEX- or EVEX-encoded, and
// no kernel stores through a vector mask on AVX2 or compresses to memory on AVX-512; TestVEXOnly and
// TestNoSlowStores in the root package check ohem_amd64.s for both.
//
//   - Legacy SSE: an SSE instruction without the V prefix (avo's MOVQ GPR, X and MOVSS; Load of a
//     float32 parameter emits MOVSS) keeps the bits of its destination above 128, where the VEX form
//     zeroes them. Run while the upper halves of the YMM/ZMM registers are dirty it costs an SSE/AVX
//     transition on Intel cores: ~136 ns per instruction on a Sapphire Rapids Xeon, where VMOVQ
//     costs 0.7 ns. AMD cores have no transition, but the kept bits make the instruction wait for
//     the register's last writer: on a Zen 5 EPYC a MOVQ GPR, X in a dependency chain cost
//     ~1.3 ns more than VMOVQ, and Forward with the AVX2 kernels took 30–50% less time at C = 37
//     and 81 once the tail masks' MOVQ became VMOVQ. A kernel moves a general register into a
//     vector with gpToVec or broadcastGP (VMOVQ, VMOVD, VPBROADCASTD) and a float32 parameter with
//     paramF32 or loadParamF32 (VMOVSS, VBROADCASTSS from the frame); scalar float arithmetic is
//     VADDSS, VCVTSI2SSQ and the like.
//   - Masked stores: what VMASKMOVPS and VPMASKMOVD to memory cost depends on the core: one or two
//     µops on Intel, microcoded with a store per lane on AMD cores by the published tables (on the
//     Zen 5 EPYC this was written on they ran as fast as plain stores, so only older cores show
//     it). An AVX2 kernel stores a tail as a whole vector that ends at the tail's end, where the
//     lanes before it are the kernel's own output and get the same values again (or are written
//     again later), and otherwise in pieces of 16, 8 and 4 bytes chosen by the bits of the count
//     (storeTail), which costs a few branches, well predicted where it matters: the tail's length
//     is the same from row to row, or comes once per call. Masked loads (VMASKMOVPS, VPMASKMOVD
//     from memory) are fast on both vendors and stay. AVX-512 opmask loads and stores are fast on
//     both.
//   - Compression: VCOMPRESSPS and VPCOMPRESSD with a memory destination are microcoded on Zen 4;
//     the selection compresses into a register and stores that whole or through an opmask.

// gpToVec moves the general register r (64 or 32 bits) into the low lane of a new XMM register,
// zeroing the rest: VMOVQ or VMOVD, never avo's MOVQ, which is legacy SSE (see above).
func gpToVec(r reg.Register) reg.VecVirtual {
	x := XMM()
	if r.Size() == 8 {
		VMOVQ(r, x)
	} else {
		VMOVD(r, x)
	}
	return x
}

// broadcastGP broadcasts the low 32 bits of the general register r into every int32 lane of a new
// register.
func (t tier) broadcastGP(r reg.Register) reg.VecVirtual {
	x := gpToVec(r)
	v := t.vec()
	VPBROADCASTD(x, v)
	return v
}

// paramF32 loads the float32 parameter name into the low lane of a new XMM register with VMOVSS
// (avo's Load would emit the legacy MOVSS).
func paramF32(name string) reg.VecVirtual {
	x := XMM()
	VMOVSS(paramAddr(name), x)
	return x
}

// loadParamF32 broadcasts the float32 parameter name into a new register (VBROADCASTSS from the
// frame: unlike MOVSS it reaches the 32 registers of AVX-512, and it is not legacy SSE).
func (t tier) loadParamF32(name string) reg.VecVirtual {
	r := t.vec()
	VBROADCASTSS(paramAddr(name), r)
	return r
}

// tailMask prepares a masked access of the first n lanes (0 < n <= lanes, n in a 64-bit GP
// register that is left unchanged). AVX-512 returns an opmask register; AVX2 a vector whose lanes
// below n are all ones, for VMASKMOVPS loads and VBLENDVPS.
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
	cnt := t.broadcastGP(n)
	VPCMPGTD(iota, cnt, cnt) // n > lane index
	return cnt
}

// constIota is the int32 lane indices 0..lanes−1 (8 or 16), for tail masks and index vectors.
func constIota(lanes int) Mem {
	name := "iota"
	if lanes == 16 {
		name = "iota16"
	}
	w := make([]uint32, lanes)
	for i := range w {
		w[i] = uint32(i)
	}
	return u32Table(name, w)
}

// loadTail loads the first lanes of mask from m into a new register, zeroing the others; no byte
// past them is read (masked loads do not fault on masked-off lanes). VMASKMOVPS loads are fast on
// both vendors; only its stores are not.
func (t tier) loadTail(m Mem, mask Op) reg.VecVirtual {
	r := t.vec()
	if t.zmm {
		VMOVUPS_Z(m, mask, r)
	} else {
		VMASKMOVPS(m, mask, r)
	}
	return r
}

// labels numbers the labels of code emitted more than once in a kernel.
var labels int

// label returns a new label name, unique in the file, that starts with prefix.
func label(prefix string) string {
	labels++
	return fmt.Sprintf("%s_%d", prefix, labels)
}

// storeTail stores the first n lanes of r to m and no byte past them (n in a GP register, 0 <= n
// <= lanes, left unchanged). AVX-512 stores through mask, tailMask(n), which it computes when mask
// is nil. AVX2 does not use mask: it stores in pieces chosen by the bits of n, 16 bytes (the low
// half, after which the high half moves down), 8 and 4 (a masked VMASKMOVPS store is microcoded
// on AMD; see "Instruction forms" above). r is left unchanged.
func (t tier) storeTail(r reg.VecVirtual, m Mem, n reg.GPVirtual, mask Op) {
	if t.zmm {
		if mask == nil {
			mask = t.tailMask(n)
		}
		VMOVUPS(r, mask, m)
		return
	}
	l := label("storeTail")
	quad, pair, one, done := l+"Quad", l+"Pair", l+"One", l+"Done"
	p, x := GP64(), XMM()
	LEAQ(m, p)
	VMOVAPS(r.AsX(), x) // the low half
	CMPQ(n, U8(t.lanes))
	JB(LabelRef(quad))
	VMOVUPS(r, Mem{Base: p})
	JMP(LabelRef(done))
	Label(quad)
	TESTQ(U32(4), n)
	JZ(LabelRef(pair))
	VMOVUPS(x, Mem{Base: p})
	VEXTRACTF128(U8(1), r, x) // the high half moves down
	ADDQ(U8(16), p)
	Label(pair)
	TESTQ(U32(2), n)
	JZ(LabelRef(one))
	VMOVSD(x, Mem{Base: p})
	VMOVHLPS(x, x, x)
	ADDQ(U8(8), p)
	Label(one)
	TESTQ(U32(1), n)
	JZ(LabelRef(done))
	VMOVSS(x, Mem{Base: p})
	Label(done)
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

// vectorLoop emits the loop of a kernel named name (maxTarget, the rank kernels) over the n
// elements (a GP register, counted down) at the pointers ptrs: two vectors an iteration
// (body(0, nil) and body(bytes, nil) at the pointers, which then advance), one, then the last
// n < lanes through body(0, tailMask(n)).
func (t tier) vectorLoop(name string, n reg.GPVirtual, ptrs []reg.GPVirtual, body func(disp int, mask Op)) {
	lbl := name + t.suffix
	loop, one, tail, done := lbl+"Loop2", lbl+"Loop1", lbl+"Tail", lbl+"Done"
	step := func(vecs int) {
		for _, p := range ptrs {
			ADDQ(U32(vecs*t.bytes()), p)
		}
		SUBQ(U32(vecs*t.lanes), n)
	}
	Label(loop)
	CMPQ(n, U32(2*t.lanes))
	JB(LabelRef(one))
	body(0, nil)
	body(t.bytes(), nil)
	step(2)
	JMP(LabelRef(loop))
	Label(one)
	CMPQ(n, U32(t.lanes))
	JB(LabelRef(tail))
	body(0, nil)
	step(1)
	Label(tail)
	TESTQ(n, n)
	JZ(LabelRef(done))
	body(0, t.tailMask(n))
	Label(done)
}
