//go:build !purego

package ohem

// planarNEON installs the NEON planar kernels.
func planarNEON(ks *kernelSet) {}
