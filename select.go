package ohem

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// Selection finds the k-th largest element in expected linear time, without sorting the input:
//
//  1. In a deterministic, evenly spread sample of about 4·√n elements, the two a few standard
//     deviations either side of the k-th's expected place (found by quickselect) bound a narrow band
//     [lo, hi].
//  2. One pass of the kernel counts the elements above hi and copies those inside the band to a
//     scratch buffer (a few percent of n).
//  3. If the k-th lies in the band, the same steps run again on the buffer, down to at most
//     smallSelect survivors, which quickselect finishes exactly.
//  4. If the band missed (an unlucky or adversarial sample), a three-pass radix select over the
//     order-preserving keys finishes the job, so the worst case stays O(n).
//
// Everything runs on the package's order: IEEE, −0 == +0, NaN above +Inf.

// orderKey maps a float32 to a uint32 whose unsigned order is the package's order: −0 maps to +0's
// key and every NaN to the largest key.
// It is written without branches (the compiler turns the two ifs into conditional moves), so
// inputs with NaNs or mixed signs in random order cost no mispredictions.
func orderKey(v float32) uint32 {
	b := math.Float32bits(v)
	k := b ^ (uint32(int32(b)>>31) | 1<<31) // negative: all bits flipped; positive: the sign bit set
	if b == 1<<31 {
		k = 1 << 31 // −0 as +0
	}
	if b&^(1<<31) > 0x7f800000 {
		k = math.MaxUint32 // NaN
	}
	return k
}

// fromKey inverts orderKey (−0 comes back as +0, NaN as the canonical quiet NaN).
func fromKey(k uint32) float32 {
	if k == math.MaxUint32 {
		return float32(math.NaN())
	}
	if k>>31 != 0 {
		return math.Float32frombits(k &^ (1 << 31))
	}
	return math.Float32frombits(^k)
}

// sameOrder reports whether a and b are equal in the package's order.
func sameOrder(a, b float32) bool { return a == b || (a != a && b != b) }

const (
	tieChunk     = 4096 // TopK lists this many elements' candidates at a time when ties overflow dst
	smallSelect  = 2048 // at most this many elements are selected directly
	radixBits    = 11
	radixBuckets = 1 << radixBits
)

// selector holds the scratch memory of the selection algorithm; it is reused across calls.
type selector struct {
	ks   *kernelSet
	bufA []float32 // band survivors, levels 1, 3, ...
	bufB []float32 // band survivors, levels 2, 4, ...
	keys []uint32  // sorted sample, or the keys of a small input
	idx  []int32   // TopK's candidates of one chunk, when ties overflow dst
	hist [radixBuckets]uint32
}

// bandCap is how many band survivors the buffers hold for an input of n elements: about ten times
// the expected band.
func bandCap(n int) int { return min(n, n/8+4096) }

func (s *selector) reserve(n int) {
	c := bandCap(n)
	if cap(s.bufA) < c {
		s.bufA = make([]float32, c)
		s.bufB = make([]float32, c)
	}
	if cap(s.keys) < smallSelect {
		s.keys = make([]uint32, 0, max(smallSelect, sampleSize(n)))
	}
}

// sampleSize is the sample drawn from n elements: about 4·√n.
func sampleSize(n int) int {
	return min(4*int(math.Sqrt(float64(n)))+64, 1<<16)
}

// kth returns the k-th largest element of x, 1 <= k <= len(x).
func (s *selector) kth(x []float32, k int) float32 {
	s.reserve(len(x))
	in, out, spare := x, s.bufA[:cap(s.bufA)], s.bufB[:cap(s.bufB)]
	for {
		n := len(in)
		if n <= smallSelect {
			return s.kthSmall(in, k)
		}
		m := sampleSize(n)
		keys := s.keys[:0]
		for j := range m {
			keys = append(keys, orderKey(in[int((2*uint64(j)+1)*uint64(n)/(2*uint64(m)))]))
		}
		s.keys = keys
		// The k-th largest is at ascending rank n−k; its sample rank is about (n−k)·m/n, give or
		// take √(m·q·(1−q)), q = k/n. Two quickselects find the sample elements that bound the
		// band (the sample is never sorted).
		q := float64(k) / float64(n)
		pos := int(float64(n-k) * float64(m) / float64(n))
		spread := int(3*math.Sqrt(float64(m)*q*(1-q))) + 3
		loKey, hiKey := orderKey(float32(math.Inf(-1))), uint32(math.MaxUint32)
		below := 0 // keys[:below] are <= loKey after the first quickselect
		if i := pos - spread; i >= 0 {
			loKey, below = quickselect(keys, i), i
		}
		if i := pos + spread; i < m {
			hiKey = quickselect(keys[below:], i-below)
		}
		if loKey == math.MaxUint32 { // the band would hold only NaNs: the k-th is NaN if k of them are
			if s.ks.countAtLeast(in, float32(math.NaN())) >= k {
				return float32(math.NaN())
			}
			return s.radix(in, k)
		}
		lo, hi := fromKey(loKey), fromKey(hiKey)
		if hi != hi {
			hi = float32(math.Inf(1))
		}
		above, inBand := s.ks.band(out, in, lo, hi)
		switch {
		case k <= above && hi == float32(math.Inf(1)):
			return float32(math.NaN()) // only NaNs are above +Inf
		case k <= above || k > above+inBand:
			return s.radix(in, k) // the band missed the k-th
		case lo == hi:
			return lo
		case inBand > len(out) || 2*inBand > n:
			return s.radix(in, k) // too many survivors to keep, or too few dropped to go on
		}
		in, k = out[:inBand], k-above
		out, spare = spare, out
	}
}

// kthSmall selects among at most smallSelect elements: their keys, quickselected.
func (s *selector) kthSmall(x []float32, k int) float32 {
	keys := s.keys[:0]
	for _, v := range x {
		keys = append(keys, orderKey(v))
	}
	s.keys = keys
	return fromKey(quickselect(keys, len(keys)-k))
}

// quickselect returns the element of ascending rank r (0-based) of a, reordering a. Its median-of-three
// pivots fall back to a sort after too many rounds, so it is never quadratic.
func quickselect(a []uint32, r int) uint32 {
	lo, hi := 0, len(a)-1
	budget := 2*bits.Len(uint(len(a))) + 4
	for hi > lo {
		if hi-lo < 16 || budget == 0 {
			slices.Sort(a[lo : hi+1])
			return a[r]
		}
		budget--
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case r <= j:
			hi = j
		case r >= i:
			lo = i
		default:
			return a[r]
		}
	}
	return a[r]
}

// radix is the fallback: a most-significant-digit radix select over the order keys in three passes
// of 11, 11 and 10 bits.
func (s *selector) radix(x []float32, k int) float32 {
	var prefix, mask uint32
	want := uint32(k)
	for _, shift := range [3]uint{21, 10, 0} {
		digits := uint32(radixBuckets - 1)
		if shift == 0 {
			digits = 1<<10 - 1
		}
		clear(s.hist[:])
		for _, v := range x {
			key := orderKey(v)
			if key&mask == prefix {
				s.hist[(key>>shift)&digits]++
			}
		}
		b := digits
		for ; ; b-- {
			if s.hist[b] >= want {
				break
			}
			want -= s.hist[b]
		}
		prefix |= b << shift
		mask |= digits << shift
	}
	return fromKey(prefix)
}

// topK appends to dst the indices (plus base) of the k largest elements of x in ascending order,
// ties broken toward the lower index, or every element >= the k-th largest when keepTies is set.
// dst must have room for them: len(x) is always enough.
func (s *selector) topK(dst []int32, x []float32, k int, base int32, keepTies bool) (out []int32, kth float32) {
	if k == 0 {
		return dst, 0
	}
	if k == len(x) && !keepTies {
		for i := range x {
			dst = append(dst, base+int32(i))
		}
		return dst, s.minOf(x)
	}
	v := s.kth(x, k)
	n0 := len(dst)
	n := s.ks.indicesAtLeast(dst[n0:cap(dst)], x, v, base)
	dst = dst[:n0+n]
	if !keepTies && n > k {
		dst = dst[:n0+trimTies(dst[n0:], x, v, n-k, base)]
	}
	return dst, v
}

func (s *selector) minOf(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if orderKey(v) < orderKey(m) {
			m = v
		}
	}
	return m
}

// above returns the least float32 above v, which is not NaN, in the package's order: NaN above
// +Inf.
func above(v float32) float32 {
	switch {
	case v == float32(math.Inf(1)):
		return float32(math.NaN())
	case v == 0:
		return math.SmallestNonzeroFloat32
	}
	return math.Nextafter32(v, float32(math.Inf(1)))
}

// trimTies removes the last excess indices whose element equals v from idx (ascending indices
// into x, offset by base) and returns the new length.
func trimTies(idx []int32, x []float32, v float32, excess int, base int32) int {
	w := len(idx)
	r := len(idx) - 1
	for ; excess > 0; r-- {
		if sameOrder(x[idx[r]-base], v) {
			excess--
		} else {
			w--
			idx[w] = idx[r]
		}
	}
	n := copy(idx[r+1:], idx[w:])
	return r + 1 + n
}

var selectors = sync.Pool{New: func() any { return new(selector) }}

func countAtLeast(ks *kernelSet, x []float32, t float32) int { return ks.countAtLeast(x, t) }

func kthLargest(ks *kernelSet, x []float32, k int) (float32, error) {
	if k < 1 || k > len(x) {
		return 0, fmt.Errorf("%w: k = %d, want 1 <= k <= %d", ErrK, k, len(x))
	}
	s := selectors.Get().(*selector)
	s.ks = ks
	v := s.kth(x, k)
	selectors.Put(s)
	return v, nil
}

func topK(ks *kernelSet, dst []int32, x []float32, k int) ([]int32, error) {
	if k < 1 || k > len(x) {
		return dst[:0], fmt.Errorf("%w: k = %d, want 1 <= k <= %d", ErrK, k, len(x))
	}
	if len(x) > math.MaxInt32 {
		return dst[:0], fmt.Errorf("%w: %d elements, TopK indexes at most %d", ErrShape, len(x), math.MaxInt32)
	}
	s := selectors.Get().(*selector)
	s.ks = ks
	v := s.kth(x, k)
	if n := ks.countAtLeast(x, v); n <= cap(dst) {
		dst = dst[:n]
		ks.indicesAtLeast(dst, x, v, 0)
		if n > k {
			dst = dst[:trimTies(dst, x, v, n-k, 0)]
		}
	} else {
		// Ties beyond dst's capacity: dst grows to k and no further. Every element above v is
		// kept, and the first k − above that equal it: the kernel lists a chunk's candidates (>= v)
		// at a time, and the scan stops once k are taken.
		need := k
		if v == v {
			need -= ks.countAtLeast(x, above(v))
		}
		dst = slices.Grow(dst[:0], k)
		if s.idx == nil {
			s.idx = make([]int32, tieChunk)
		}
		for lo := 0; lo < len(x) && len(dst) < k; lo += tieChunk {
			seg := x[lo:min(lo+tieChunk, len(x))]
			n := ks.indicesAtLeast(s.idx, seg, v, int32(lo))
			for _, i := range s.idx[:n] {
				if !sameOrder(x[i], v) {
					dst = append(dst, i)
				} else if need > 0 {
					dst = append(dst, i)
					need--
				}
			}
		}
	}
	selectors.Put(s)
	return dst, nil
}

// CountAtLeast returns how many elements of x are >= t, in the package's order: −0 == +0 and NaN
// above +Inf, so CountAtLeast(x, NaN) counts the NaNs.
func CountAtLeast(x []float32, t float32) int { return countAtLeast(active, x, t) }

// KthLargest returns the k-th largest element of x, 1 <= k <= len(x), in the package's order
// (−0 == +0, and returned as +0; NaN above +Inf). It does not modify x.
func KthLargest(x []float32, k int) (float32, error) { return kthLargest(active, x, k) }

// TopK returns dst[:0] with the indices of the k largest elements of x appended, in ascending
// index order: exactly k (1 <= k <= len(x)), ties broken toward the lower index.
func TopK(dst []int32, x []float32, k int) ([]int32, error) { return topK(active, dst, x, k) }
