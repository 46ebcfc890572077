//go:build !purego

package ohem

// gradNEON installs the NEON gradient kernels.
func gradNEON(ks *kernelSet) {}
