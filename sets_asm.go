//go:build !purego && (amd64 || arm64)

package ohem

// Helpers shared by the assembly kernel sets of every architecture.

// rowBlock is how many rows a large-C kernel reduces per call; their reductions wait on the stack
// for ceFinish (or, for the log-sum-exp, for Go).
const rowBlock = 64

// newArchSet starts a set from the generic one; the tier's kernels then replace its fields.
func newArchSet(name string) *kernelSet {
	ks := *genericSet
	ks.name = name
	return &ks
}

// lanewise wraps a kernel that takes whole vectors: the tail goes through a padded buffer.
func lanewise(lanes int, f func(dst, x []float32)) func(dst, x []float32) {
	return func(dst, x []float32) {
		n := len(x) / lanes * lanes
		if n > 0 {
			f(dst[:n], x[:n])
		}
		if n < len(x) {
			var in, out [16]float32
			copy(in[:], x[n:])
			f(out[:lanes], in[:lanes])
			copy(dst[n:len(x)], out[:])
		}
	}
}

// counter joins the two count kernels: NaN as the threshold counts the NaNs.
func counter(atLeast, nans func([]float32, float32) int) func([]float32, float32) int {
	return func(x []float32, t float32) int {
		if t != t {
			return nans(x, t)
		}
		return atLeast(x, t)
	}
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
