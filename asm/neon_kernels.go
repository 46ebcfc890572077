package main

import "github.com/ohem-go/ohem/asm/neon"

// neonFile is the emitter of package neon (asm/neon) with, as methods, the helpers the NEON kernels
// share: the exp and log1p sequences (neon_math.go, neon_sigmoid.go), loops and zero fills
// (neon_grad.go), compaction (neon_select.go) and the pieces of the cross-entropy kernels.
type neonFile struct{ *neon.File }

func newNEON() *neonFile { return &neonFile{neon.New()} }
