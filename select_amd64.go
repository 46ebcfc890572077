//go:build !purego

package ohem

// selectAVX2 and selectAVX512 install the tier's band and indicesAtLeast kernels in ks; fields left alone keep
// the generic implementation.
func selectAVX2(ks *kernelSet) {
	ks.band = bandAVX2
	ks.indicesAtLeast = indexer(indicesAtLeastAVX2, indicesNaNAVX2)
}

func selectAVX512(ks *kernelSet) {
	ks.band = bandAVX512
	ks.indicesAtLeast = indexer(indicesAtLeastAVX512, indicesNaNAVX512)
}

// indexer joins the two index kernels: NaN as the threshold selects the NaNs.
func indexer(atLeast, nans func([]int32, []float32, float32, int32) int) func([]int32, []float32, float32, int32) int {
	return func(dst []int32, x []float32, t float32, base int32) int {
		if t != t {
			return nans(dst, x, t, base)
		}
		return atLeast(dst, x, t, base)
	}
}
