//go:build !purego

package ohem

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRequires checks that dispatch tests exactly the features the generated kernels need: the
// union of the "// Requires:" lines of each tier's kernels in ohem_amd64.s is tierFeatures.
func TestRequires(t *testing.T) {
	f, err := os.Open("ohem_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := regexp.MustCompile(`^TEXT ·\w+?(AVX2|AVX512)\(SB\)`)
	need := map[string]map[string]bool{"avx2": {}, "avx512": {}}
	var pending []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if r, ok := strings.CutPrefix(line, "// Requires: "); ok {
			pending = strings.Split(r, ", ")
			continue
		}
		if m := text.FindStringSubmatch(line); m != nil {
			if pending == nil {
				t.Errorf("%s has no Requires line", line)
			}
			for _, feat := range pending {
				need[strings.ToLower(m[1])][feat] = true
			}
			pending = nil
		}
	}
	for tier, feats := range need {
		var got []string
		for f := range feats {
			got = append(got, f)
			if _, known := x86Features[f]; !known {
				t.Errorf("%s kernels require %s, which dispatch does not check", tier, f)
			}
		}
		slices.Sort(got)
		if want := tierFeatures[tier]; !slices.Equal(got, want) {
			t.Errorf("%s kernels require %v, dispatch checks %v", tier, got, want)
		}
	}
}

// TestAVX2Registers checks that no AVX2 kernel names a vector register an AVX2 CPU lacks (X16–X31,
// Y16–Y31, any Z or K register): avo hands them out when more than 16 values are live, and the
// instruction then needs AVX-512 encoding.
func TestAVX2Registers(t *testing.T) {
	src, err := os.ReadFile("ohem_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	high := regexp.MustCompile(`\b([XY](1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b`)
	fn := ""
	for i, line := range strings.Split(string(src), "\n") {
		if name, ok := strings.CutPrefix(line, "TEXT ·"); ok {
			fn = name[:strings.Index(name, "(")]
			continue
		}
		if strings.HasSuffix(fn, "AVX2") && !strings.HasPrefix(strings.TrimSpace(line), "//") {
			if r := high.FindString(line); r != "" {
				t.Errorf("ohem_amd64.s:%d: %s uses %s: %s", i+1, fn, r, strings.TrimSpace(line))
			}
		}
	}
}

// TestSelectionKernelsVEX checks that the selection kernels (count, maxTarget, band, indices)
// execute no legacy-SSE instruction: every instruction that names a vector register is a VEX or
// EVEX one (its mnemonic starts with V, or K for the mask registers). On Intel, one legacy-SSE
// instruction while the upper halves are dirty costs as much as a short call, and the selection
// calls these kernels many times per group (avo's Load of a float32 argument is a MOVSS, a move
// of a general register into a vector register a MOVQ).
func TestSelectionKernelsVEX(t *testing.T) {
	src, err := os.ReadFile("ohem_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	selection := regexp.MustCompile(`^(count\w+|maxTarget|band|indices\w+)(AVX2|AVX512)$`)
	vector := regexp.MustCompile(`\b[XYZ]([0-9]|[12][0-9]|3[01])\b`)
	fn, seen := "", 0
	for i, line := range strings.Split(string(src), "\n") {
		if name, ok := strings.CutPrefix(line, "TEXT ·"); ok {
			fn = name[:strings.Index(name, "(")]
			if selection.MatchString(fn) {
				seen++
			}
			continue
		}
		code := strings.TrimSpace(line)
		if !selection.MatchString(fn) || code == "" || strings.HasPrefix(code, "//") || strings.HasSuffix(code, ":") {
			continue
		}
		if op := strings.Fields(code)[0]; vector.MatchString(code) && !strings.HasPrefix(op, "V") && !strings.HasPrefix(op, "K") {
			t.Errorf("ohem_amd64.s:%d: %s runs the legacy-SSE instruction %s", i+1, fn, code)
		}
	}
	if seen < 12 {
		t.Errorf("found %d selection kernels in ohem_amd64.s, want the 6 of each tier", seen)
	}
}
