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
