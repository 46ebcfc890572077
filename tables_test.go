package ohem

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// kernelTables lists, per kernel set, exactly which kernelSet entries it replaces; every other
// entry is the generic set's. A tier starts as a copy of the generic set, so a kernel forgotten
// in a tier would silently run pure Go and every accuracy test would still pass: this table makes
// that a failure. Adding a kernel to a set means adding its entry here.
var kernelTables = map[string][]string{
	"avx512": {"band", "ceGradRows", "cePlanar", "ceRows", "checksTargets", "countAtLeast", "countTargets", "expf", "fuseRows", "gradPlanar", "gradRows", "indicesAtLeast", "indicesZeroBelow", "log1pUnitf", "log1pf", "lsePlanar", "lseRows", "maxTarget", "negPosRanks", "sigGrad", "sigLSE", "sigLoss", "sigLossGrad", "sigLossGradRank", "sigLossRank", "zeroBelow"},
	"avx2":   {"band", "ceGradRows", "cePlanar", "ceRows", "checksTargets", "countAtLeast", "countTargets", "expf", "fuseRows", "gradPlanar", "gradRows", "indicesAtLeast", "indicesZeroBelow", "log1pUnitf", "log1pf", "lsePlanar", "lseRows", "maxTarget", "negPosRanks", "sigGrad", "sigLSE", "sigLoss", "sigLossGrad", "sigLossGradRank", "sigLossRank", "zeroBelow"},
	// neon finishes its softmax rows in Go and has no fused softmax pass.
	"neon":    {"band", "cePlanar", "ceRows", "countAtLeast", "expf", "gradPlanar", "gradRows", "indicesAtLeast", "log1pUnitf", "log1pf", "lsePlanar", "lseRows", "maxTarget", "sigGrad", "sigLSE", "sigLoss", "sigLossGrad"},
	"generic": {},
}

// replaced lists the func entries of ks that differ from the generic set's.
func replaced(ks *kernelSet) []string {
	got, gen := reflect.ValueOf(ks).Elem(), reflect.ValueOf(genericSet).Elem()
	var out []string
	for i := range got.NumField() {
		f := got.Field(i)
		if f.Kind() != reflect.Func {
			continue
		}
		g := gen.Field(i)
		if f.IsNil() != g.IsNil() || !f.IsNil() && f.Pointer() != g.Pointer() {
			out = append(out, got.Type().Field(i).Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestKernelTables(t *testing.T) {
	for _, ks := range usable {
		want, ok := kernelTables[ks.name]
		if !ok {
			t.Errorf("kernel set %q has no entry in kernelTables", ks.name)
			continue
		}
		if got := replaced(ks); !slices.Equal(got, want) {
			t.Errorf("%s replaces [%s] of the generic set, want [%s]", ks.name, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
}
