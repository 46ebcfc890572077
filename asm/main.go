// Command asm generates ohem's amd64 kernels with avo: every kernel in two tiers, AVX2+FMA and
// AVX-512, into ../ohem_amd64.s and their Go declarations into ../ohem_amd64_stubs.go.
//
// Run it through `go generate` at the repository root (see gen.go there), or by hand:
//
//	go run . -out ../ohem_amd64.s -stubs ../ohem_stubs_amd64.go -pkg ohem
//
// One file per concern: tier.go (the helpers every kernel shares), exp.go (the exp and log1p
// sequences, written once and used by every kernel that needs them), select.go (counting and
// compaction for the selection), ce.go (row-major cross-entropy and log-sum-exp), planar.go (the
// same for planar batches), grad.go (the gradient).
package main

import . "github.com/mmcloughlin/avo/build"

func main() {
	ConstraintExpr("!purego")
	for _, t := range tiers {
		genMath(t)
		genSelect(t)
		genCE(t)
		genPlanar(t)
		genGrad(t)
	}
	Generate()
}
