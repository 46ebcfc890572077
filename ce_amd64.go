//go:build !purego

package ohem

// ceAVX2 and ceAVX512 install the tier's ceRows and lseRows kernels in ks; fields left alone keep
// the generic implementation.
func ceAVX2(ks *kernelSet) {}

func ceAVX512(ks *kernelSet) {}
