package main

import (
	"fmt"
	"math"
	"os"
	"strings"
)

// neonFile is the arm64 emitter: avo has no arm64, so the NEON kernels are written against this
// small builder. It writes Go assembly with physical registers (native mnemonics where Go's
// assembler has them, WORDs from the encoder in neon_enc.go where it does not) and the Go
// declarations of every kernel, with the frame offsets of arm64's ABI0 computed from the same
// parameter list, so `go vet` (asmdecl) checks one against the other.
//
// Registers: R0–R15 and V0–V31 are free in an ABI0 leaf; R15 is kept for materialising
// constants. R16–R18 and R26–R30 are never touched (linker veneers, platform, closure context,
// the assembler's temporary, g, frame pointer and link register).
type neonFile struct {
	asm, stubs strings.Builder
	frame      map[string]string // the current kernel's FP operands by parameter name
	data       map[string]bool   // DATA symbols emitted so far
	dataText   strings.Builder
	count      int // instructions emitted in the current kernel
}

// A param is one parameter or result of a kernel's Go signature.
type param struct{ name, typ string }

func newNEON() *neonFile { return &neonFile{data: map[string]bool{}} }

// sizes of arm64 ABI0 frame slots
func typeSize(typ string) (size, align int) {
	switch {
	case strings.HasPrefix(typ, "[]"):
		return 24, 8
	case typ == "int", strings.HasPrefix(typ, "*"):
		return 8, 8
	case typ == "float32", typ == "int32":
		return 4, 4
	}
	panic("type " + typ)
}

// text starts the kernel name with the given parameters and results (named, so asmdecl checks
// every access by name) and documentation lines, the first starting after the kernel's name.
func (f *neonFile) text(name string, args, results []param, doc ...string) {
	f.frame = map[string]string{}
	off := 0
	slot := func(p param) {
		size, align := typeSize(p.typ)
		off = (off + align - 1) / align * align
		if size == 24 {
			f.frame[p.name] = fmt.Sprintf("%s_base+%d(FP)", p.name, off)
			f.frame[p.name+".len"] = fmt.Sprintf("%s_len+%d(FP)", p.name, off+8)
		} else {
			f.frame[p.name] = fmt.Sprintf("%s+%d(FP)", p.name, off)
		}
		off += size
	}
	for _, p := range args {
		slot(p)
	}
	if len(results) > 0 {
		off = (off + 7) / 8 * 8 // results start at a word boundary
	}
	for _, p := range results {
		slot(p)
	}
	argSize := off

	fmt.Fprintf(&f.stubs, "\n// %s %s\n", name, doc[0])
	for _, l := range doc[1:] {
		fmt.Fprintf(&f.stubs, "// %s\n", l)
	}
	f.stubs.WriteString("//\n//go:noescape\n")
	fmt.Fprintf(&f.stubs, "func %s(%s)", name, joinParams(args))
	switch len(results) {
	case 0:
	default:
		fmt.Fprintf(&f.stubs, " (%s)", joinParams(results))
	}
	f.stubs.WriteString("\n")

	fmt.Fprintf(&f.asm, "\n// func %s(%s)", name, joinParams(args))
	if len(results) > 0 {
		fmt.Fprintf(&f.asm, " (%s)", joinParams(results))
	}
	fmt.Fprintf(&f.asm, "\nTEXT ·%s(SB), NOSPLIT, $0-%d\n", name, argSize)
	f.count = 0
}

func joinParams(ps []param) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.name + " " + p.typ
	}
	return strings.Join(s, ", ")
}

// fp returns the frame operand of a parameter ("x" for a slice's base or a scalar, "x.len").
func (f *neonFile) fp(name string) string {
	s, ok := f.frame[name]
	check(ok, "no parameter %s", name)
	return s
}

// op emits one native instruction.
func (f *neonFile) op(format string, a ...any) {
	fmt.Fprintf(&f.asm, "\t"+format+"\n", a...)
	f.count++
}

// w emits an encoded instruction as a WORD with its text.
func (f *neonFile) w(i inst) {
	fmt.Fprintf(&f.asm, "\tWORD $0x%08x // %s\n", i.word, i.text)
	f.count++
}

func (f *neonFile) label(l string)   { fmt.Fprintf(&f.asm, "%s:\n", l) }
func (f *neonFile) comment(s string) { fmt.Fprintf(&f.asm, "\t// %s\n", s) }

// loopNote records the instruction count of a loop body in the assembly, for comparison with
// the amd64 kernels (the count since mark, covering elems float32 elements).
func (f *neonFile) loopNote(mark int, elems int) {
	n := f.count - mark
	fmt.Fprintf(&f.asm, "\t// loop above: %d instructions per %d elements (%.2f per element)\n", n, elems, float64(n)/float64(elems))
}

// Frame access.
func (f *neonFile) ldArg(name, r string)    { f.op("MOVD %s, %s", f.fp(name), r) }
func (f *neonFile) ldLen(name, r string)    { f.op("MOVD %s, %s", f.fp(name+".len"), r) }
func (f *neonFile) ldW(name, r string)      { f.op("MOVW %s, %s", f.fp(name), r) }
func (f *neonFile) ldF(name string, v vreg) { f.op("FMOVS %s, F%d", f.fp(name), v) }
func (f *neonFile) ret(name, r string)      { f.op("MOVD %s, %s", r, f.fp(name)) }
func (f *neonFile) retW(name, r string)     { f.op("MOVW %s, %s", r, f.fp(name)) }

// Native vector instructions, destination first (Go's assembler wants it last).
func (f *neonFile) fmla(d, n, m vreg)     { f.op("VFMLA V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (f *neonFile) fmls(d, n, m vreg)     { f.op("VFMLS V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (f *neonFile) and(d, n, m vreg)      { f.op("VAND V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (f *neonFile) orr(d, n, m vreg)      { f.op("VORR V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (f *neonFile) eor(d, n, m vreg)      { f.op("VEOR V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (f *neonFile) mov(d, n vreg)         { f.op("VORR V%d.B16, V%d.B16, V%d.B16", n, n, d) }
func (f *neonFile) bit(d, n, m vreg)      { f.op("VBIT V%d.B16, V%d.B16, V%d.B16", m, n, d) } // d = m ? n : d, bitwise
func (f *neonFile) addS(d, n, m vreg)     { f.op("VADD V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (f *neonFile) subS(d, n, m vreg)     { f.op("VSUB V%d.S4, V%d.S4, V%d.S4", m, n, d) } // d = n − m
func (f *neonFile) cmeq(d, n, m vreg)     { f.op("VCMEQ V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (f *neonFile) shl(d, n vreg, s int)  { f.op("VSHL $%d, V%d.S4, V%d.S4", s, n, d) }
func (f *neonFile) dupR(d vreg, r string) { f.op("VDUP %s, V%d.S4", r, d) }
func (f *neonFile) dupLane(d, n vreg, lane int) {
	f.op("VDUP V%d.S[%d], V%d.S4", n, lane, d)
}
func (f *neonFile) zero(d vreg) { f.op("VEOR V%d.B16, V%d.B16, V%d.B16", d, d, d) }

// addv leaves the sum of n's int32 lanes in lane 0 of d.
func (f *neonFile) addv(d, n vreg) { f.op("VADDV V%d.S4, V%d", n, d) }

// toR moves lane 0 (int32, sign-extended by the caller if needed) of v to r.
func (f *neonFile) toR(r string, v vreg) { f.op("VMOV V%d.S[0], %s", v, r) }

// constU32 broadcasts a 32-bit pattern into d, through R15.
func (f *neonFile) constU32(d vreg, bits uint32) {
	f.op("MOVW $0x%08x, R15", bits)
	f.dupR(d, "R15")
}

func (f *neonFile) constF32(d vreg, v float32) { f.constU32(d, math.Float32bits(v)) }

// constLanes loads four different 32-bit patterns into the lanes of d.
func (f *neonFile) constLanes(d vreg, l [4]uint32) {
	f.op("MOVD $0x%016x, R15", uint64(l[1])<<32|uint64(l[0]))
	f.op("VMOV R15, V%d.D[0]", d)
	f.op("MOVD $0x%016x, R15", uint64(l[3])<<32|uint64(l[2]))
	f.op("VMOV R15, V%d.D[1]", d)
}

// table emits a read-only DATA symbol of bytes once and loads its address into r.
func (f *neonFile) table(name string, bytes []byte, r string) {
	if !f.data[name] {
		f.data[name] = true
		for i := 0; i < len(bytes); i += 8 {
			var v uint64
			for j := 7; j >= 0; j-- {
				v = v<<8 | uint64(bytes[i+j])
			}
			fmt.Fprintf(&f.dataText, "DATA %s<>+%d(SB)/8, $0x%016x\n", name, i, v)
		}
		fmt.Fprintf(&f.dataText, "GLOBL %s<>(SB), RODATA|NOPTR, $%d\n\n", name, len(bytes))
	}
	f.op("MOVD $%s<>(SB), %s", name, r)
}

// write stores the assembly and the declarations.
func (f *neonFile) write(asmPath, stubsPath, cmd string) error {
	var a strings.Builder
	fmt.Fprintf(&a, "// Code generated by command: %s. DO NOT EDIT.\n\n//go:build !purego\n\n#include \"textflag.h\"\n\n", cmd)
	a.WriteString(f.dataText.String())
	a.WriteString(strings.TrimPrefix(f.asm.String(), "\n"))
	if err := os.WriteFile(asmPath, []byte(a.String()), 0o644); err != nil {
		return err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "// Code generated by command: %s. DO NOT EDIT.\n\n//go:build !purego\n\npackage ohem\n", cmd)
	s.WriteString(f.stubs.String())
	return os.WriteFile(stubsPath, []byte(s.String()), 0o644)
}
