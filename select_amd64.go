//go:build !purego

package ohem

// selectAVX2 and selectAVX512 install the tier's band and indicesAtLeast kernels in ks; fields left alone keep
// the generic implementation.
func selectAVX2(ks *kernelSet) {
	ks.band = bandAVX2
	ks.vectorCount = true
	ks.indicesAtLeast = indexer(indicesAtLeastAVX2, indicesNaNAVX2)
}

func selectAVX512(ks *kernelSet) {
	ks.band = bandAVX512
	ks.vectorCount = true
	ks.indicesAtLeast = indexer(indicesAtLeastAVX512, indicesNaNAVX512)
}
