//go:build !purego

package ohem

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The instruction forms of the generated kernels (asm/tier.go, "Instruction forms", says why):
// VEX/EVEX encodings only, no masked vector store and no compress to memory.

// asmInstr is one instruction of ohem_amd64.s.
type asmInstr struct {
	line int      // 1-based
	fn   string   // the TEXT symbol it belongs to
	op   string   // the mnemonic, with any suffix (VMOVUPS.Z)
	args []string // the operands, as written
	text string
}

// amd64Instrs returns every instruction of every TEXT symbol of ohem_amd64.s.
func amd64Instrs(t *testing.T) []asmInstr {
	t.Helper()
	src, err := os.ReadFile("ohem_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	var ins []asmInstr
	fn := ""
	for i, line := range strings.Split(string(src), "\n") {
		if name, ok := strings.CutPrefix(line, "TEXT ·"); ok {
			fn = name[:strings.Index(name, "(")]
			continue
		}
		if line == "" {
			continue
		}
		if line[0] != '\t' && line[0] != ' ' {
			if !strings.HasPrefix(line, "//") && !strings.HasSuffix(line, ":") {
				fn = "" // DATA, GLOBL, #include: outside any kernel
			}
			continue // a label, a comment, a directive
		}
		if c := strings.Index(line, "//"); c >= 0 {
			line = line[:c]
		}
		text := strings.TrimSpace(line)
		if text == "" || fn == "" {
			continue
		}
		op, rest, _ := strings.Cut(text, " ")
		var args []string
		for a := range strings.SplitSeq(rest, ",") {
			if a = strings.TrimSpace(a); a != "" {
				args = append(args, a)
			}
		}
		ins = append(ins, asmInstr{i + 1, fn, op, args, text})
	}
	return ins
}

// vecRegOperand matches an operand that names an SSE/AVX or MMX register.
var vecRegOperand = regexp.MustCompile(`\b([XYZ]([0-9]|[12][0-9]|3[01])|M[0-7])\b`)

// legacySSE reports whether in is a legacy-SSE (or MMX) instruction: a mnemonic without the V
// prefix of the VEX and EVEX forms (K: the opmask instructions) with a vector register operand.
// Run while the upper halves of the vector registers are dirty, one costs an SSE/AVX transition
// on Intel cores.
func legacySSE(in asmInstr) bool {
	if strings.HasPrefix(in.op, "V") || strings.HasPrefix(in.op, "K") {
		return false
	}
	for _, a := range in.args {
		if vecRegOperand.MatchString(a) {
			return true
		}
	}
	return false
}

// slowStore reports why in is a store whose cost swings by core, or "": a VMASKMOVPS/VPMASKMOVD
// store (microcoded on AMD; its loads are fast everywhere) or a compress with a memory destination
// (microcoded on Zen 4). Go's assembler writes the destination last.
func slowStore(in asmInstr) string {
	if len(in.args) == 0 || !strings.Contains(in.args[len(in.args)-1], "(") {
		return ""
	}
	op, _, _ := strings.Cut(in.op, ".")
	switch op {
	case "VMASKMOVPS", "VMASKMOVPD", "VPMASKMOVD", "VPMASKMOVQ", "MASKMOVDQU", "VMASKMOVDQU":
		return "a masked vector store"
	case "VCOMPRESSPS", "VCOMPRESSPD", "VPCOMPRESSD", "VPCOMPRESSQ", "VPCOMPRESSB", "VPCOMPRESSW":
		return "a compress to memory"
	}
	return ""
}

// TestVEXOnly checks that no kernel in ohem_amd64.s has a legacy-SSE instruction: every one is
// VEX- or EVEX-encoded (VMOVQ, VMOVD, VMOVSS, ..., never avo's MOVQ GPR, X or MOVSS).
func TestVEXOnly(t *testing.T) {
	fns := map[string]int{}
	for _, in := range amd64Instrs(t) {
		fns[in.fn]++
		if legacySSE(in) {
			t.Errorf("ohem_amd64.s:%d: %s has the legacy-SSE instruction %s (use its VEX form)", in.line, in.fn, in.text)
		}
	}
	for fn, n := range fns {
		if !strings.HasSuffix(fn, "AVX2") && !strings.HasSuffix(fn, "AVX512") || fns[fn] < 10 {
			t.Errorf("ohem_amd64.s: %s: %d instructions; the parser is broken", fn, n)
		}
	}
	if len(fns) < 40 {
		t.Fatalf("found %d kernels in ohem_amd64.s; the parser is broken", len(fns))
	}
}

// TestNoSlowStores checks that no kernel in ohem_amd64.s stores through VMASKMOVPS or VPMASKMOVD
// or compresses to memory.
func TestNoSlowStores(t *testing.T) {
	loads := 0
	for _, in := range amd64Instrs(t) {
		if why := slowStore(in); why != "" {
			t.Errorf("ohem_amd64.s:%d: %s has %s: %s", in.line, in.fn, why, in.text)
		}
		if strings.HasSuffix(in.op, "MASKMOVPS") && strings.Contains(in.args[0], "(") {
			loads++
		}
	}
	if loads == 0 {
		t.Fatalf("found no VMASKMOVPS load in ohem_amd64.s; the parser is broken")
	}
}

// TestFormChecks checks legacySSE and slowStore on lines of the kinds they must tell apart.
func TestFormChecks(t *testing.T) {
	for _, c := range []struct {
		text         string
		legacy, slow bool
	}{
		{"MOVQ R10, X5", true, false}, // avo's MOVQ GPR, X: the instruction that cost ~136 ns on Intel
		{"MOVQ X5, R10", true, false},
		{"MOVSS v+24(FP), X0", true, false},
		{"MOVSD X1, (AX)", true, false},
		{"CVTSL2SS AX, X1", true, false},
		{"PXOR X1, X1", true, false},
		{"MOVUPS X1, (AX)", true, false},
		{"ADDSS X1, X2", true, false},
		{"SHUFPS $0x1b, X1, X2", true, false},
		{"PINSRD $0x01, AX, X1", true, false},
		{"MOVQ M0, AX", true, false},
		{"VMOVQ R10, X5", false, false},
		{"VMOVSS v+24(FP), X0", false, false},
		{"MOVQ R10, AX", false, false},
		{"MOVL $0x3f800000, (R8)", false, false},
		{"PREFETCHT0 (AX)(R8*1)", false, false},
		{"KMOVW AX, K1", false, false},
		{"VMASKMOVPS Y3, Y5, (AX)", false, true},
		{"VMASKMOVPS Y6, Y7, (R12)(R10*1)", false, true},
		{"VPMASKMOVD Y1, Y2, 32(AX)", false, true},
		{"VMASKMOVPS (AX), Y5, Y3", false, false},
		{"VPMASKMOVD (SI)(R8*1), Y4, Y4", false, false},
		{"VCOMPRESSPS Z4, K2, (AX)", false, true},
		{"VPCOMPRESSD.Z Z1, K1, (DI)", false, true},
		{"VCOMPRESSPS.Z Z4, K2, Z4", false, false},
		{"VMOVUPS Z1, K1, (AX)", false, false},
	} {
		op, rest, _ := strings.Cut(c.text, " ")
		in := asmInstr{op: op, text: c.text}
		for a := range strings.SplitSeq(rest, ",") {
			in.args = append(in.args, strings.TrimSpace(a))
		}
		if got := legacySSE(in); got != c.legacy {
			t.Errorf("legacySSE(%s) = %v, want %v", c.text, got, c.legacy)
		}
		if got := slowStore(in) != ""; got != c.slow {
			t.Errorf("slowStore(%s) = %v, want %v", c.text, got, c.slow)
		}
	}
}
