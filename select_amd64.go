//go:build !purego

package ohem

// selectAVX2 and selectAVX512 install the tier's band, indicesAtLeast, indicesZeroBelow,
// negPosRanks and countTargets kernels in ks; fields left alone keep the generic implementation.
func selectAVX2(ks *kernelSet) {
	ks.band = bandAVX2
	ks.vectorCount = true
	ks.indicesAtLeast = indexer(indicesAtLeastAVX2, indicesNaNAVX2)
	ks.indicesZeroBelow = func(dst []int32, g, x []float32, t float32, base int32) int {
		return indicesZeroBelowAVX2(dst, g[:len(x)], x, t, base) // reads and writes len(x) of g
	}
	ks.negPosRanks = func(rank, loss []float32, t []int32, bg int32) int {
		_, _ = rank[:len(loss)], t[:len(loss)] // the kernel reads and writes len(loss) of each
		return negPosRanksAVX2(rank, loss, t, bg)
	}
	ks.countTargets = countTargetsAVX2
}

func selectAVX512(ks *kernelSet) {
	ks.band = bandAVX512
	ks.vectorCount = true
	ks.indicesAtLeast = indexer(indicesAtLeastAVX512, indicesNaNAVX512)
	ks.indicesZeroBelow = func(dst []int32, g, x []float32, t float32, base int32) int {
		return indicesZeroBelowAVX512(dst, g[:len(x)], x, t, base) // reads and writes len(x) of g
	}
	ks.negPosRanks = func(rank, loss []float32, t []int32, bg int32) int {
		_, _ = rank[:len(loss)], t[:len(loss)] // the kernel reads and writes len(loss) of each
		return negPosRanksAVX512(rank, loss, t, bg)
	}
	ks.countTargets = countTargetsAVX512
}
