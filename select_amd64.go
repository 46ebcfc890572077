//go:build !purego

package ohem

// selectAVX2 and selectAVX512 install the tier's band and indicesAtLeast kernels in ks; fields left alone keep
// the generic implementation.
func selectAVX2(ks *kernelSet) {}

func selectAVX512(ks *kernelSet) {}
