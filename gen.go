package ohem

// The kernels are generated from asm/ (a module of its own, so avo is never an importer's
// dependency): the amd64 ones with avo, the arm64 ones with the NEON emitter there. Run
// `go generate` here after changing the generator; CI regenerates and fails on any difference.
//go:generate go run -C asm . -out ../ohem_amd64.s -stubs ../ohem_stubs_amd64.go -pkg ohem -arm64 ../ohem_arm64.s -arm64stubs ../ohem_stubs_arm64.go -sizes ../ohem_sizes_amd64.go -arm64sizes ../ohem_sizes_arm64.go
