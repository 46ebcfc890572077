//go:build !purego

package ohem

// selectAVX2 and selectAVX512 install the tier's band, indicesAtLeast and negPosRanks kernels in ks; fields left alone keep
// the generic implementation.
func selectAVX2(ks *kernelSet) {
	ks.band = bandAVX2
	ks.vectorCount = true
	ks.indicesAtLeast = indexer(indicesAtLeastAVX2, indicesNaNAVX2)
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
	ks.negPosRanks = func(rank, loss []float32, t []int32, bg int32) int {
		_, _ = rank[:len(loss)], t[:len(loss)] // the kernel reads and writes len(loss) of each
		return negPosRanksAVX512(rank, loss, t, bg)
	}
	ks.countTargets = countTargetsAVX512
}
