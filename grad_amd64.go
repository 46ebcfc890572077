//go:build !purego

package ohem

// gradAVX2 and gradAVX512 install the tier's gradRows, gradPlanar kernels in ks; fields left alone keep
// the generic implementation.
func gradAVX2(ks *kernelSet) {}

func gradAVX512(ks *kernelSet) {}
