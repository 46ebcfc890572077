//go:build !purego

package ohem

// selectNEON installs the NEON selection kernels. They take whole vectors of 4; the last 0–3
// elements go through the generic code.
func selectNEON(ks *kernelSet) {
	ks.maxTarget = func(t []int32) int32 {
		n := len(t) &^ 3
		return max(maxTargetNEON(t[:n]), maxTargetGeneric(t[n:]))
	}
	count := counter(countAtLeastNEON, countNaNNEON)
	ks.countAtLeast = func(x []float32, t float32) int {
		n := len(x) &^ 3
		return count(x[:n], t) + countAtLeastGeneric(x[n:], t)
	}
	ks.band = func(buf, x []float32, lo, hi float32) (above, inBand int) {
		n := len(x) &^ 3
		above, inBand = bandNEON(buf, x[:n], lo, hi)
		a, b := bandGeneric(buf[min(inBand, len(buf)):], x[n:], lo, hi)
		return above + a, inBand + b
	}
	ks.vectorCount = true
	indices := indexer(indicesAtLeastNEON, indicesNaNNEON)
	ks.indicesAtLeast = func(dst []int32, x []float32, t float32, base int32) int {
		n := len(x) &^ 3
		k := indices(dst, x[:n], t, base)
		return k + indicesAtLeastGeneric(dst[k:], x[n:], t, base+int32(n))
	}
}
