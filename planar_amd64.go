//go:build !purego

package ohem

// planarAVX2 and planarAVX512 install the tier's cePlanar and lsePlanar kernels in ks; fields
// left alone keep the generic implementation.
func planarAVX2(ks *kernelSet) {}

func planarAVX512(ks *kernelSet) {}
