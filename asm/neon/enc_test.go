package neon

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// The golden test of the NEON encoder. neonCases calls every encoder function of enc.go with
// several register combinations (low, high, mixed, all distinct), every lane of the indexed forms
// and the edge shift amounts; testdata/neon_golden.txt holds, for the same list in the same order,
// the word llvm-mc assembles from each case's text. Regenerate the table with testdata/golden.sh
// whenever the list changes: the script runs this test with NEON_CASES=<file>, which writes the
// case texts to <file>, one per line, instead of checking them.

const goldenFile = "testdata/neon_golden.txt"

// A neonCase is one call of an encoder function: the function's name and what it returned.
type neonCase struct {
	fn string
	in inst
}

// funcName is the name of the top-level function f, taken from the function value itself so that
// a case cannot be attributed to a function it did not call.
func funcName(f any) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return name[strings.LastIndexByte(name, '.')+1:]
}

// register combinations: all zero, all V31, all distinct, and mixes of low and high registers
// (V15/V16 straddle bit 4, which for the indexed forms is the M bit next to Rm's low four bits)
var (
	regs3 = [][3]Reg{{0, 0, 0}, {31, 31, 31}, {3, 1, 2}, {0, 31, 16}, {31, 0, 15}, {30, 15, 1}, {16, 8, 31}}
	regs2 = [][2]Reg{{0, 0}, {31, 31}, {1, 2}, {31, 0}, {0, 31}, {17, 8}}
)

// neonCases is the deterministic list of golden cases.
func neonCases() []neonCase {
	var cs []neonCase
	add := func(f any, in inst) { cs = append(cs, neonCase{funcName(f), in}) }

	for _, f := range []func(d, n, m Reg) inst{
		fadd, fsub, fmul, fdiv, fmax, fmin, fcmge, fcmgt, fcmeq, faddp, fadd2d,
		smax, cmgt, cmge, bic,
	} {
		for _, r := range regs3 {
			add(f, f(r[0], r[1], r[2]))
		}
	}
	for _, f := range []func(d, n Reg) inst{
		frintn, fcvtzs, fcvtns, scvtf, fabs, fneg, fcvtl, fcvtl2,
		fmaxv, smaxv, faddpD,
	} {
		for _, r := range regs2 {
			add(f, f(r[0], r[1]))
		}
	}
	// sshr: the edge amounts with every register mix, then every amount 1..32 once
	for _, shift := range []int{1, 23, 31, 32} {
		for _, r := range regs2 {
			add(sshr, sshr(r[0], r[1], shift))
		}
	}
	for shift := 1; shift <= 32; shift++ {
		add(sshr, sshr(5, 26, shift))
	}
	for _, f := range []func(d, n, m Reg, lane int) inst{fmlaLane, fmulLane} {
		for lane := 0; lane < 4; lane++ {
			for _, r := range regs3 {
				add(f, f(r[0], r[1], r[2], lane))
			}
		}
	}
	return cs
}

// A golden entry is one line of the table: the word llvm-mc assembled and the text it was given.
type golden struct {
	word uint32
	text string
	line int
}

func readGolden(t *testing.T) []golden {
	t.Helper()
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var gs []golden
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		hex, text, ok := strings.Cut(line, " ")
		w, err := strconv.ParseUint(hex, 0, 32)
		if !ok || err != nil {
			t.Fatalf("%s:%d: want `0x<word> <text>`, got %q", goldenFile, ln, line)
		}
		gs = append(gs, golden{uint32(w), text, ln})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return gs
}

func TestNEONGolden(t *testing.T) {
	cs := neonCases()
	if out := os.Getenv("NEON_CASES"); out != "" {
		var b strings.Builder
		for _, c := range cs {
			fmt.Fprintln(&b, c.in.text)
		}
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Skipf("NEON_CASES: wrote %d case texts to %s", len(cs), out)
	}

	gs := readGolden(t)
	if len(gs) != len(cs) {
		t.Errorf("%d cases, %d golden entries: regenerate %s with testdata/golden.sh", len(cs), len(gs), goldenFile)
	}
	for i, c := range cs[:min(len(cs), len(gs))] {
		g := gs[i]
		switch {
		case c.in.text != g.text:
			t.Errorf("case %d (%s): text %q, golden %q (%s:%d)", i, c.fn, c.in.text, g.text, goldenFile, g.line)
		case c.in.word != g.word:
			t.Errorf("%s: %q encodes as 0x%08x, llvm-mc 0x%08x (bits 0x%08x differ)",
				c.fn, c.in.text, c.in.word, g.word, c.in.word^g.word)
		}
	}
	t.Logf("%d golden cases", len(cs))
}

// nonEncoders are the functions of enc.go that are not encoders themselves: the shared
// encoding helpers, covered through the encoders that call them.
var nonEncoders = map[string]bool{"checkReg": true, "threeSame": true, "twoReg": true, "across": true}

// TestNEONGoldenCoverage fails when an encoder function of enc.go has no golden case, so a new
// encoder cannot go untested; a new helper goes into nonEncoders.
func TestNEONGoldenCoverage(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "enc.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]int{}
	for _, c := range neonCases() {
		covered[c.fn]++
	}
	encoders := map[string]bool{}
	for _, d := range file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || nonEncoders[fd.Name.Name] {
			continue
		}
		encoders[fd.Name.Name] = true
		if covered[fd.Name.Name] == 0 {
			t.Errorf("encoder %s has no golden case: add it to neonCases and rerun testdata/golden.sh (or, for a helper, to nonEncoders)", fd.Name.Name)
		}
	}
	for fn := range covered {
		if !encoders[fn] {
			t.Errorf("golden cases for %s, which is not an encoder function of enc.go", fn)
		}
	}
	t.Logf("%d encoder functions covered", len(encoders))
}
