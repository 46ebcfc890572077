package ohem

// The amd64 kernels are generated from asm/ (a module of its own, so avo is never an importer's
// dependency). Run `go generate` here after changing the generator; CI regenerates and fails on
// any difference.
//go:generate go run -C asm . -out ../ohem_amd64.s -stubs ../ohem_stubs_amd64.go -pkg ohem
