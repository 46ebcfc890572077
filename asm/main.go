// Command asm generates ohem's kernels: the amd64 ones with avo, every kernel in two tiers,
// AVX2+FMA and AVX-512, into ../ohem_amd64.s and their Go declarations into ../ohem_stubs_amd64.go;
// the arm64 NEON ones with the emitter of package neon (asm/neon) into ../ohem_arm64.s and
// ../ohem_stubs_arm64.go.
//
// Run it through `go generate` at the repository root (see gen.go there), or by hand:
//
//	go run . -out ../ohem_amd64.s -stubs ../ohem_stubs_amd64.go -pkg ohem \
//		-arm64 ../ohem_arm64.s -arm64stubs ../ohem_stubs_arm64.go
//
// One file per concern: tier.go (the helpers every amd64 kernel shares), exp.go (the exp and
// log1p sequences, written once and used by every kernel that needs them), select.go (counting
// and compaction for the selection), ce.go (row-major cross-entropy and log-sum-exp, and the cross-entropy fused with the gradient),
// ce_medium.go (the same for medium class counts, a group of rows at a time), planar.go
// (the same for planar batches), grad.go (the gradient). For arm64: package neon in neon/ (the
// emitter, and the encoder of the instructions Go's assembler lacks), neon_kernels.go (the
// generator's neonFile: the emitter with the kernels' shared helpers), neon_math.go (exp),
// neon_select.go, neon_ce.go, neon_medium.go (4×4 tiles), neon_planar.go, neon_grad.go and
// neon_sigmoid.go.
package main

import (
	"flag"
	"log"

	. "github.com/mmcloughlin/avo/build"
)

var (
	arm64Out   = flag.String("arm64", "", "file for the arm64 NEON assembly")
	arm64Stubs = flag.String("arm64stubs", "", "file for the arm64 Go declarations")
)

func main() {
	ConstraintExpr("!purego")
	genAMD64()
	Generate() // parses the flags
	writeSizes()
	if *arm64Out != "" {
		f := genNEON()
		cmd := "go run . -arm64 " + *arm64Out + " -arm64stubs " + *arm64Stubs
		if err := f.Write(*arm64Out, *arm64Stubs, "ohem", cmd); err != nil {
			log.Fatal(err)
		}
	}
}

// genAMD64 emits every amd64 kernel, in both tiers, into avo's global context.
func genAMD64() {
	for _, t := range tiers {
		genMath(t)
		genSelect(t)
		genCE(t)
		genPlanar(t)
		genGrad(t)
		genSigmoid(t)
	}
	for _, t := range tiers {
		genMedium(t)
		genNarrow(t)
	}
	for _, t := range tiers {
		genRanks(t)
		genZeroBelow(t)
		genCountTargets(t)
	}
}

// genNEON emits every arm64 kernel.
func genNEON() *neonFile {
	f := newNEON()
	genMathNEON(f)
	genSelectNEON(f)
	genCENEON(f)
	genPlanarNEON(f)
	genGradNEON(f)
	genSigmoidNEON(f)
	genTiledNEON(f)
	return f
}
