package ohem

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"unsafe"
)

// Selection finds the k-th largest element in expected linear time, without sorting the input:
//
//  1. In a deterministic, evenly spread sample of about 4·√n elements, keys a few standard
//     deviations either side of the k-th's expected place (two cuts, see topFew) bound a narrow
//     band [lo, hi].
//  2. One pass of the kernel counts the elements above hi and copies those inside the band to a
//     scratch buffer (a few percent of n).
//  3. If the k-th lies in the band, the same steps run again on the buffer, down to at most
//     smallSelect survivors, which a cut to the k-th largest key (or, in the generic set, a
//     quickselect of their keys) finishes exactly.
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
	bufA []float32 // band survivors, levels 1, 3, ...; topFew's candidates' values
	bufB []float32 // band survivors, levels 2, 4, ...; topFew's sample
	keys []uint32  // the keys of a small input
	smp  []float32 // kth's and topFew's sample
	cand []int32   // topFew's candidates' indices
	last threshold // topFew's last sampled threshold
	idx  []int32   // TopK's candidates of one chunk, when ties overflow dst
	hist [radixBuckets]uint32
	// cutAt and cutExact describe topK's last result: when cutExact is set, it kept exactly the
	// elements >= cutAt (NaNs included), so that one compare over x tells the kept from the dropped.
	cutAt    float32
	cutExact bool
	// cutZeroed reports that topK's last pass set zero[i] = 0 where x[i] < cutAt.
	cutZeroed bool
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
		s.keys = make([]uint32, 0, smallSelect)
	}
	if m := sampleSize(n); cap(s.smp) < m {
		s.smp = make([]float32, m)
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
		// The k-th largest is at ascending rank n−k; its sample rank is about (n−k)·m/n, give or
		// take √(m·q·(1−q)), q = k/n. Two cuts in the sample find keys about spread sample
		// elements either side of it that bound the band (the sample is never sorted).
		m := sampleSize(n)
		smp := s.smp[:m]
		sample(smp, in)
		q := float64(k) / float64(n)
		pos := int(float64(n-k) * float64(m) / float64(n))
		spread := int(3*math.Sqrt(float64(m)*q*(1-q))) + 3
		slack := spread/4 + 1
		topKey, topCount := s.top(smp)
		loKey, hiKey, cl := uint32(keyNegInf), uint32(math.MaxUint32), m
		if i := pos - spread; i >= 0 { // at least m−i sample elements reach lo
			want := m - i
			br := bracket{l: keyNegInf, h: 1 << 32, cl: m}.with(topKey, topCount, want)
			loKey, cl, _ = s.cut(smp, br, want, min(want+slack, m))
		}
		if want := m - (pos + spread) - slack; want >= 1 && want <= cl { // at most m−(pos+spread) reach hi
			br := bracket{l: uint64(loKey), h: 1 << 32, cl: cl}.with(topKey, topCount, want)
			hiKey, _, _ = s.cut(smp, br, want, want+slack)
		}
		if loKey > keyInf { // the band would hold only NaNs: the k-th is NaN if k of them are
			if s.ks.countAtLeast(in, float32(math.NaN())) >= k {
				return float32(math.NaN())
			}
			return s.radix(in, k)
		}
		lo, hi := fromKey(loKey), fromKey(min(hiKey, keyInf))
		if lo == 0 {
			lo = 0 // a cut's key may be −0's
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

// kthSmall selects among at most smallSelect elements: by a cut to the k-th largest key itself
// where the set counts in vectors, else their keys, quickselected.
func (s *selector) kthSmall(x []float32, k int) float32 {
	if s.ks.vectorCount {
		key, count := s.top(x)
		t, _, _ := s.cut(x, bracket{l: keyNegInf, h: 1 << 32, cl: len(x)}.with(key, count, k), k, k-1)
		return fromKey(t)
	}
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
// dst must have room for them: len(x) is always enough. zero, when not nil (len(zero) = len(x)),
// is a gradient that the pass writing the indices also zeroes where x[i] is below the cut, when
// the cut is not NaN and that pass runs (indicesZeroBelow; cutZeroed reports it).
func (s *selector) topK(dst []int32, x []float32, k int, base int32, keepTies bool, zero []float32) []int32 {
	s.cutExact, s.cutZeroed = false, false
	if k == 0 {
		return dst
	}
	if k == len(x) && !keepTies {
		for i := range x {
			dst = append(dst, base+int32(i))
		}
		return dst
	}
	if out, ok := s.topFew(dst, x, k, base, keepTies); ok {
		return out
	}
	v := s.kth(x, k)
	n0 := len(dst)
	var n int
	if zero != nil && v == v {
		n = s.ks.zeroedIndices(dst[n0:cap(dst)], zero, x, v, base)
		s.cutZeroed = true
	} else {
		n = s.ks.indicesAtLeast(dst[n0:cap(dst)], x, v, base)
	}
	dst = dst[:n0+n]
	s.cutAt, s.cutExact = v, keepTies || n == k
	if !keepTies && n > k {
		dst = dst[:n0+trimTies(dst[n0:], x, v, n-k, base)]
	}
	return dst
}

// Top k by counting: for a small group (a detector's per-image selection, 256 of 8,192 anchor
// losses) kth's band, its quickselects and the final pass cost more than the few passes over the
// group itself. topFew instead finds the cut of the top k by counting:
//
//   - A cut is a search over the order keys whose every step is one count kernel: how many
//     elements reach the key. It stops at the first key that exactly k elements reach (every one
//     of them is kept), or at the k-th largest key itself when ties at it make that impossible.
//     Nothing sorts, partitions or branches on the data.
//   - When k is a small part of n (fewPlan), the cut runs on candidates: the threshold t is the
//     cut, in an evenly spread sample of about 4·√n elements, that a few standard deviations more
//     sample elements reach than the k-th's expected place, so that at least k elements reach t
//     with high probability, about twice k; one pass of the index kernel writes the indices of the
//     elements >= t, their values are gathered, and the cut among them gives the kept ones.
//   - Otherwise, up to fewDirect elements, the cut runs on the group itself when the set counts
//     in vectors; a count of each element then costs less than a look at each in Go.
//
// When neither applies, or the sample misled (fewer than k candidates, or more than the scratch
// holds), kth's path takes over.
const (
	fewSample = 1024    // from this many elements, the cut may run on sampled candidates
	fewDirect = 8192    // up to this many elements, the cut may run on all of them
	fewMax    = 1 << 16 // above this many, topFew is not used
)

// keyNegInf is orderKey(−Inf), the least key of any float32: fromKey of a key below it is a NaN.
// octave is the number of keys of one binade of floats.
const (
	keyNegInf = 0x007FFFFF
	keyInf    = 0xFF800000 // orderKey(+Inf): the keys above it are NaNs'
	octave    = 1 << 23
)

// A bracket [l, h) of order keys holds the cut of a count: cl elements are >= fromKey(l), ch
// are >= fromKey(h), and a key no float32 has counts as the next one that does. l >= keyNegInf;
// h <= 1<<32, which no element reaches.
type bracket struct {
	l, h   uint64
	cl, ch int
}

// cut narrows b to a key t >= b.l that at least want and at most most elements of x reach, or
// (when ties make that impossible, or most < want) to the largest key that want of them reach,
// the k-th largest element's for want = k; it returns t with the count of the elements that reach
// it and, in the second case, the count of those above it. b.cl >= want > b.ch.
//
// Each step counts the elements that reach a key inside the bracket, chosen in one of three ways:
// below a known top (b.h < 1<<32), an octave, then two, four, ... under it while the bracket is
// wide (the cut of a top fraction usually lies within a few octaves of the top); in a bracket of
// at most two octaves, where the count falls about linearly with the key, where the line through
// its ends crosses the target count, the weight of an end kept twice in a row halved (Illinois);
// else, or when the last step kept most of the bracket, the middle. The steps are at most about
// twice those of plain bisection, usually far fewer.
func (s *selector) cut(x []float32, b bracket, want, most int) (t uint32, atLeast, above int) {
	target := float64(want+most+1) / 2
	down := uint64(octave)
	shrunk := true
	wl, wh := 1.0, 1.0
	kept := 0 // the end kept by the last step: 1 low, 2 high
	for b.cl > most && b.h-b.l > 1 {
		w := b.h - b.l
		var mid uint64
		switch {
		case b.h < 1<<32 && down < w/2:
			mid = b.h - down
			down <<= 1
		case shrunk && w <= 2*octave:
			gl, gh := wl*(float64(b.cl)-target), wh*(target-float64(b.ch))
			mid = min(max(b.l+uint64(gl/(gl+gh)*float64(w)), b.l+1), b.h-1)
		default:
			mid = b.l + w/2
		}
		if c := s.ks.countAtLeast(x, fromKey(uint32(mid))); c >= want {
			b.l, b.cl = mid, c
			if kept == 2 {
				wh /= 2
			} else {
				wl, wh, kept = 1, 1, 2
			}
		} else {
			b.h, b.ch = mid, c
			if kept == 1 {
				wl /= 2
			} else {
				wl, wh, kept = 1, 1, 1
			}
		}
		shrunk = b.h-b.l <= w-w/8
	}
	return uint32(b.l), b.cl, b.ch
}

// sample copies len(dst) elements of x, evenly spread, to dst (len(dst) <= len(x)).
func sample(dst, x []float32) {
	st := len(x) / len(dst)
	x = x[st/2:]
	for j := range dst {
		dst[j] = x[j*st]
	}
}

// top returns a key for a cut among x to start at and the count of the elements that reach it:
// the key above the largest non-negative element, whose count is 0 but for −0s and NaNs with the
// sign bit. The bits of the non-negative floats order them as int32s do, and all lie above those of
// the negative ones: the largest bits as an int32 (the set's maxTarget kernel) are the largest
// non-negative element's, or the most negative element's when there is none.
func (s *selector) top(x []float32) (key uint64, count int) {
	b := s.ks.maxTarget(unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(x))), len(x)))
	switch {
	case b < 0: // no element is >= +0 but −0s
		key = 1 << 31
	case b > 0x7f800000: // a NaN
		return 1 << 32, 0
	default:
		key = uint64(b) + 1<<31 + 1
	}
	return key, s.ks.countAtLeast(x, fromKey(uint32(key)))
}

// with returns b narrowed by a key that count elements reach, for a cut aiming at want.
func (b bracket) with(key uint64, count, want int) bracket {
	switch {
	case count >= want && key > b.l:
		b.l, b.cl = key, count
	case count < want && key < b.h:
		b.h, b.ch = key, count
	}
	return b
}

// fewPlan returns the sample size m of topFew for k of n elements and the window [r, most] of the
// sample count its threshold aims at, or ok = false when k is too large a part of n.
func fewPlan(n, k int) (m, r, most int, ok bool) {
	m = sampleSize(n)
	q := float64(k) / float64(n)
	mu := q * float64(m)
	sd := math.Sqrt(mu * (1 - q))
	r = int(mu+3*sd) + 2 // fewer than k candidates about once in a thousand
	most = r + int(sd) + 1
	return m, r, most, 4*most <= m
}

// topFew appends to dst what topK appends (1 <= k < len(x), or k = len(x) with keepTies) and
// reports true, or reports false when it does not apply or the sample misled, leaving dst as it
// was. dst has room for k indices, and for every element >= the k-th largest when keepTies is set.
func (s *selector) topFew(dst []int32, x []float32, k int, base int32, keepTies bool) ([]int32, bool) {
	n := len(x)
	if n > fewMax {
		return dst, false
	}
	if n >= fewSample {
		if m, r, most, ok := fewPlan(n, k); ok {
			if cand, vals, br, ok := s.candidates(x, k, base, m, r, most); ok {
				t, atLeast, above := s.cut(vals, br, k, k)
				return s.keep(dst, cand, vals, t, atLeast, above, k, base, keepTies), true
			}
		}
	}
	if n > fewDirect || !s.ks.vectorCount {
		return dst, false
	}
	t, atLeast, above := s.cut(x, bracket{l: keyNegInf, h: 1 << 32, cl: n}, k, k)
	return s.keep(dst, nil, x, t, atLeast, above, k, base, keepTies), true
}

// candidates writes, for topFew, the indices (plus base) of the elements of x that reach a
// threshold to s.cand, gathers their values to s.bufA, and returns both with the bracket of the cut
// among them. The threshold is the last group's when it was drawn for as many elements and the
// same k (the groups of a batch, and the batches of a training run, are alike: images of one kind
// through one model) and it holds between k and twice the candidates a sample would give; else the
// cut, in a sample of m elements, that at least r and at most most of them reach. It reports false
// when fewer than k elements reach the sampled threshold, or more than s.bufA holds.
func (s *selector) candidates(x []float32, k int, base int32, m, r, most int) (cand []int32, vals []float32, br bracket, ok bool) {
	n := len(x)
	s.reserve(n)
	if cap(s.cand) < n {
		s.cand = make([]int32, n)
	}
	lo, top, c := uint32(0), uint64(1<<32), -1
	if h := s.last; h.n == n && h.k == k {
		lo, top = h.lo, h.top
		if c = s.ks.indicesAtLeast(s.cand[:n], x, fromKey(lo), base); c < k || c > min(2*n*most/m, cap(s.bufA)) {
			c = -1 // the last threshold does not fit this group
		}
	}
	if c < 0 {
		smp := s.smp[:m]
		sample(smp, x)
		var count int
		top, count = s.top(smp)
		lo, _, _ = s.cut(smp, bracket{l: keyNegInf, h: 1 << 32, cl: m}.with(top, count, r), r, most)
		s.last = threshold{n: n, k: k, lo: lo, top: top}
		if c = s.ks.indicesAtLeast(s.cand[:n], x, fromKey(lo), base); c < k || c > cap(s.bufA) {
			s.last = threshold{}
			return nil, nil, br, false
		}
	}
	cand, vals = s.cand[:c], s.bufA[:c]
	for j, i := range cand {
		vals[j] = x[i-base]
	}
	// The cut among the candidates lies below the sample's top, most likely: one count checks it.
	br = bracket{l: uint64(lo), h: 1 << 32, cl: c}
	if top > br.l && top < 1<<32 {
		br = br.with(top, s.ks.countAtLeast(vals, fromKey(uint32(top))), k)
	}
	return cand, vals, br, true
}

// threshold is the candidates' threshold of the last group (the zero value: none), the key lo,
// with the key above its sample's top, for n elements and k kept.
type threshold struct {
	n, k int
	lo   uint32
	top  uint64
}

// keep appends to dst, for topFew, the indices of the kept elements of vals given the cut t
// among them with its counts (see cut): base+j for vals[j] when cand is nil, else cand[j].
func (s *selector) keep(dst, cand []int32, vals []float32, t uint32, atLeast, above, k int, base int32, keepTies bool) []int32 {
	n0 := len(dst)
	if atLeast == k || keepTies {
		// All of dst's room: the kernel stores whole vectors while two fit (lanes past the count
		// are overwritten later or lie past the result), not lanes masked to the room.
		out := dst[n0:cap(dst)]
		if cand == nil {
			s.ks.indicesAtLeast(out, vals, fromKey(t), base)
		} else {
			s.ks.indicesAtLeast(out, vals, fromKey(t), 0)
			for w, j := range out[:atLeast] {
				out[w] = cand[j]
			}
		}
		return dst[:n0+atLeast]
	}
	// Ties at the k-th largest key t: every element above it, and the first k − above equal to it.
	need := k - above
	for j, v := range vals {
		switch key := orderKey(v); {
		case key > t:
		case key == t && need > 0:
			need--
		default:
			continue
		}
		if cand == nil {
			dst = append(dst, base+int32(j))
		} else {
			dst = append(dst, cand[j])
		}
	}
	return dst
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
	s.ks, s.last = ks, threshold{} // the pool's selectors serve unrelated calls
	dst = slices.Grow(dst[:0], k)
	if k == len(x) {
		for i := range x {
			dst = append(dst, int32(i))
		}
		selectors.Put(s)
		return dst, nil
	}
	if out, ok := s.topFew(dst, x, k, 0, false); ok {
		selectors.Put(s)
		return out, nil
	}
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
