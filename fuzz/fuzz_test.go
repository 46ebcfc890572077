package fuzz

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/guard"
	"github.com/ohem-go/ohem/internal/ref"
)

// Seeds that reproduce fixed bugs stay as regression tests: FuzzLoss/smoothing_max_float_logits
// (the smoothing term overflowed float32 for logits near ±MaxFloat32), FuzzSelect/gen_equal_1000_k1,
// gen_equal_4681_k2 and FuzzLoss/keep1_of_1500_equal_losses looped forever before 5cc38ae;
// FuzzSelect/topk_dst_reuse_ties (and most seeds with ties) got a new array from TopK although
// dst had room for k indices.

// ---- decoding ----

// input decodes a fuzz input. Bytes are consumed in order; once they run out, a PRNG seeded from
// them continues the stream, so a short input still describes a batch of any size (and the fuzzer
// can still steer every decision through the leading bytes).
type input struct {
	data []byte
	rng  *rand.Rand
}

func newInput(data []byte) *input {
	h := fnv.New64a()
	h.Write(data)
	return &input{data: data, rng: rand.New(rand.NewPCG(h.Sum64(), uint64(len(data))))}
}

func (in *input) u8() int {
	if len(in.data) > 0 {
		b := in.data[0]
		in.data = in.data[1:]
		return int(b)
	}
	return int(in.rng.Uint32() & 0xff)
}

func (in *input) u16() int { return in.u8() | in.u8()<<8 }

func (in *input) u32() uint32 { return uint32(in.u16()) | uint32(in.u16())<<16 }

var (
	inf32    = float32(math.Inf(1))
	ninf32   = float32(math.Inf(-1))
	nan32    = float32(math.NaN())
	negZero  = math.Float32frombits(1 << 31)
	scales   = [4]float64{1, 30, 1e4, 1e30}
	specials = [16]float32{
		nan32, inf32, ninf32, ninf32, math.MaxFloat32, -math.MaxFloat32, 1e30, -1e30,
		negZero, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 0x1p-126, 88.7, -88.7, 1e4, -1e4,
	}
)

// Batch flags (the fourth byte of a batch).
const (
	flagNaNInf   = 1 << 0 // NaN and +Inf logits (errors unless in ignored samples)
	flagNegInf   = 1 << 1 // −Inf logits (masked classes; all −Inf is an error)
	flagHuge     = 1 << 2 // ±MaxFloat32 and ±1e30 among the specials
	flagBadTgt   = 1 << 3 // targets >= Classes
	flagScale    = 3 << 4 // the index of the logits' scale in scales
	flagIgnore   = 1 << 6 // many ignored samples
	flagIdentity = 1 << 7 // every sample a copy of sample 0 (equal losses: ties)
)

// logit decodes one logit: a special (as the flags allow), raw float32 bits, or a coarse or a fine
// value times the scale.
func (in *input) logit(flags int, scale float64) float32 {
	allowed := func(v float32) bool {
		switch {
		case v != v || v == inf32:
			return flags&flagNaNInf != 0
		case v == ninf32:
			return flags&flagNegInf != 0
		case math.Abs(float64(v)) >= 1e30 && flags&flagHuge == 0:
			return false
		}
		return true
	}
	b := in.u8()
	switch {
	case b < 16:
		if v := specials[b]; allowed(v) {
			return v
		}
	case b < 24:
		if v := math.Float32frombits(in.u32()); allowed(v) {
			return v
		}
	case b >= 160:
		return float32(float64(int16(in.u16())) / 4096 * scale)
	}
	return float32(float64(b-92) / 8 * scale)
}

// batch is a decoded batch and what the tests need to know about it.
type batch struct {
	b      ohem.Batch
	n, c   int
	images int // the images of the batch (the grouping for PerImage), >= 1
}

// header is the geometry of a batch being decoded.
type header struct {
	hdr, c, per, images, flags int
	planar                     bool
}

// decodeHeader decodes a batch's geometry, for at most maxLogits logits:
//
//	byte 0: bit 0 planar; bits 1-2 images (1 + v%3); bit 3 set Batch.Images explicitly;
//	  bit 4 a u16 gives the samples per image (v%2048) instead of a byte
//	byte 1: classes: < 128: 1 + v%8; < 224: 1 + v%40; else 64, 100, 257 or 1000
//	byte 2 (or u16): samples per image (row-major: v%33, may be 0) or Spatial (planar: 1 + v%32)
//	byte 3: flags (flag* above)
func decodeHeader(in *input, maxLogits int) header {
	h := header{hdr: in.u8()}
	h.planar = h.hdr&1 != 0
	h.images = 1 + (h.hdr>>1&3)%3
	switch cb := in.u8(); {
	case cb < 128:
		h.c = 1 + cb%8
	case cb < 224:
		h.c = 1 + cb%40
	default:
		h.c = []int{64, 100, 257, 1000}[cb%4]
	}
	switch {
	case h.hdr&0x10 != 0:
		h.per = in.u16() % 2048
	case h.planar:
		h.per = in.u8() % 32
	default:
		h.per = in.u8() % 33
	}
	if h.planar {
		h.per++
	}
	h.per = min(h.per, maxLogits/(h.images*h.c))
	if h.planar && h.per == 0 {
		h.per, h.images = 1, 1
		h.c = min(h.c, maxLogits)
	}
	h.flags = in.u8()
	return h
}

// decodeSamples decodes the samples of a batch. Per sample: a u16 t (t%8: 0 ignored −1, 1
// ignored −100, 2 target out of range when flagBadTgt; (t>>3)%C the target; with flagIgnore t%8 < 4
// is ignored), a byte kind (kind%8: 0 the target leads by 16 + the next byte, 1 the target ties the
// maximum), that byte, then C logits.
func decodeSamples(in *input, h header) batch {
	c, flags, planar, images, per := h.c, h.flags, h.planar, h.images, h.per
	scale := scales[flags&flagScale>>4]
	n := images * per

	rows := make([][]float32, n)
	targets := make([]int32, n)
	for i := range rows {
		if flags&flagIdentity != 0 && i > 0 {
			rows[i], targets[i] = rows[0], targets[0]
			continue
		}
		tb := in.u16()
		mode := tb % 8
		t := int32((tb >> 3) % c)
		switch {
		case mode == 0 || flags&flagIgnore != 0 && mode < 4:
			t = -1
		case mode == 1:
			t = -100
		case mode == 2 && flags&flagBadTgt != 0:
			t = int32(c + (tb>>3)%3)
		}
		kind := in.u8() % 8
		gap := float32(16 + in.u8())
		z := make([]float32, c)
		for j := range z {
			z[j] = in.logit(flags, scale)
		}
		if t >= 0 && int(t) < c && (kind == 0 || kind == 1) {
			m := slices.Max(z)
			if kind == 0 {
				m += gap
			}
			if !math.IsInf(float64(m), 0) && m == m {
				z[t] = m
			}
		}
		rows[i], targets[i] = z, t
	}
	s := 0
	if planar {
		s = per
	}
	logits := make([]float32, n*c)
	for i, row := range rows {
		for j, v := range row {
			logits[ref.Index(c, s, i, j)] = v
		}
	}
	b := ohem.Batch{Logits: logits, Targets: targets, Classes: c, Spatial: s}
	if h.hdr&8 != 0 || !planar && images > 1 {
		b.Images = images
	}
	if !planar && b.Images == 0 {
		images = 1
	}
	return batch{b: b, n: n, c: c, images: images}
}

// ---- what the API says about a batch ----

// nonFinite reports whether sample i's logits hold a NaN or +Inf, or are all −Inf.
func nonFinite(b ohem.Batch, i int) bool {
	allNegInf := true
	for j := range b.Classes {
		v := ref.Logit(b.Logits, b.Classes, b.Spatial, i, j)
		if v != v || v == inf32 {
			return true
		}
		if v != ninf32 {
			allNegInf = false
		}
	}
	return allNegInf
}

// dataErrors returns the sentinels the batch's targets and logits call for: ErrTarget for a
// target >= Classes, ErrNonFinite for a sample with a non-negative target and bad logits (every
// sample when all is set: LogSumExp reads them all).
func dataErrors(bt batch, all bool) []error {
	var errs []error
	for _, t := range bt.b.Targets {
		if int(t) >= bt.c && !all {
			errs = append(errs, ohem.ErrTarget)
			break
		}
	}
	for i, t := range bt.b.Targets {
		if (all || t >= 0) && nonFinite(bt.b, i) {
			errs = append(errs, ohem.ErrNonFinite)
			break
		}
	}
	return errs
}

// checkErr checks err against the sentinels allowed: nil when none is, else one of them.
func checkErr(t *testing.T, what string, err error, allowed []error) bool {
	t.Helper()
	if len(allowed) == 0 {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return err == nil
	}
	for _, s := range allowed {
		if errors.Is(err, s) {
			return false
		}
	}
	t.Errorf("%s: error %v, want one wrapping one of %v", what, err, allowed)
	return false
}

// ---- hangs ----

const hangTimeout = 10 * time.Second

// watchdog crashes the process, with every goroutine's stack, when stop is not called within
// hangTimeout: the fuzzer then records the input that hung.
func watchdog(what string) (stop func() bool) {
	return time.AfterFunc(hangTimeout, func() {
		debug.SetTraceback("all")
		panic(fmt.Sprintf("fuzz: %s did not return within %v (an infinite loop?)", what, hangTimeout))
	}).Stop
}

func kernelSets(t *testing.T) ([]ohem.KernelSet, ohem.KernelSet) {
	sets := ohem.KernelSets()
	gen, err := ohem.LookupKernelSet("generic")
	if err != nil || len(sets) == 0 || sets[len(sets)-1].Name() != "generic" {
		t.Fatalf("kernel sets %v, generic: %v", sets, err)
	}
	return sets, gen
}

// ---- FuzzCrossEntropy ----

func FuzzCrossEntropy(f *testing.F) {
	f.Add([]byte{0, 1, 8, 0})
	f.Add([]byte{1, 2, 5, 0x12})
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, generic := kernelSets(t)
		in := newInput(data)
		bt := decodeSamples(in, decodeHeader(in, 4096))
		defer watchdog("CrossEntropy/LogSumExp")()
		checkCrossEntropy(t, sets, generic, bt)
		checkLogSumExp(t, sets, generic, bt)
	})
}

// guardCopy copies x into a buffer that ends at an unmapped page.
func guardCopy[T float32 | int32](x []T) ([]T, func()) {
	buf, free := guard.Make[T](len(x))
	copy(buf, x)
	return buf, free
}

func guardBatch(b ohem.Batch) (ohem.Batch, func()) {
	lg, f1 := guardCopy(b.Logits)
	tg, f2 := guardCopy(b.Targets)
	if b.Targets == nil {
		tg = nil
	}
	b.Logits, b.Targets = lg, tg
	return b, func() { f1(); f2() }
}

func checkCrossEntropy(t *testing.T, sets []ohem.KernelSet, generic ohem.KernelSet, bt batch) {
	t.Helper()
	b, free := guardBatch(bt.b)
	defer free()
	allowed := dataErrors(bt, false)
	want := make([]float64, bt.n)
	if len(allowed) == 0 {
		for i, tg := range b.Targets {
			if tg >= 0 {
				want[i] = ref.CrossEntropy(b.Logits, b.Classes, b.Spatial, i, tg, 0)
			}
		}
	}
	gen := make([]float32, bt.n)
	genErr := generic.CrossEntropy(gen, b)
	for _, set := range sets {
		dst, freeDst := guard.Float32s(bt.n)
		err := set.CrossEntropy(dst, b)
		what := fmt.Sprintf("%s CrossEntropy (C=%d N=%d S=%d)", set.Name(), bt.c, bt.n, b.Spatial)
		if !checkErr(t, what, err, allowed) {
			if err != nil && genErr == nil {
				t.Errorf("%s: error %v, generic none", what, err)
			}
			freeDst()
			continue
		}
		for i, got := range dst {
			switch {
			case b.Targets[i] < 0 && got != 0:
				t.Fatalf("%s: ignored sample %d: loss %v, want 0", what, i, got)
			case !ref.CEWithin(got, want[i]):
				t.Fatalf("%s: sample %d (target %d, logits %v): loss %v, want %v (|err| %.3g > %.3g)",
					what, i, b.Targets[i], ref.Row(b.Logits, b.Classes, b.Spatial, i), got, want[i], math.Abs(float64(got)-want[i]), ref.CETol(want[i]))
			case !ref.BothWithin(got, gen[i], ref.CETol(want[i])):
				t.Fatalf("%s: sample %d: loss %v, generic %v", what, i, got, gen[i])
			}
		}
		freeDst()
	}
}

func checkLogSumExp(t *testing.T, sets []ohem.KernelSet, generic ohem.KernelSet, bt batch) {
	t.Helper()
	b, free := guardBatch(ohem.Batch{Logits: bt.b.Logits, Classes: bt.b.Classes, Spatial: bt.b.Spatial, Images: bt.b.Images})
	defer free()
	allowed := dataErrors(bt, true)
	want, maxZ := make([]float64, bt.n), make([]float64, bt.n)
	if len(allowed) == 0 {
		for i := range bt.n {
			want[i] = ref.LogSumExp(b.Logits, b.Classes, b.Spatial, i)
			maxZ[i] = slices.Max(ref.Row(b.Logits, b.Classes, b.Spatial, i))
		}
	}
	gen := make([]float32, bt.n)
	generic.LogSumExp(gen, b)
	for _, set := range sets {
		dst, freeDst := guard.Float32s(bt.n)
		err := set.LogSumExp(dst, b)
		what := fmt.Sprintf("%s LogSumExp (C=%d N=%d S=%d)", set.Name(), bt.c, bt.n, b.Spatial)
		if checkErr(t, what, err, allowed) {
			for i, got := range dst {
				switch {
				case !ref.LSEWithin(got, want[i], maxZ[i]):
					t.Fatalf("%s: sample %d (logits %v): %v, want %v", what, i, ref.Row(b.Logits, b.Classes, b.Spatial, i), got, want[i])
				case !ref.BothWithin(got, gen[i], ref.LSETol(want[i], maxZ[i])):
					t.Fatalf("%s: sample %d: %v, generic %v", what, i, got, gen[i])
				}
			}
		}
		freeDst()
	}
}

// ---- FuzzSelect ----

var selectSpecials = [24]float32{
	nan32, math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00000), math.Float32frombits(0x7f800001),
	inf32, ninf32, 0, negZero,
	math.Float32frombits(1), math.Float32frombits(0x80000001), math.Float32frombits(0x007fffff), math.Float32frombits(0x807fffff),
	0x1p-126, -0x1p-126, math.MaxFloat32, -math.MaxFloat32, 1, -1, 0.5, 2, 1e30, -1e30, 3, -3,
}

// distributions draws n values; used by FuzzSelect's generated mode.
var distributions = []func(r *rand.Rand, n int) []float32{
	func(r *rand.Rand, n int) []float32 { return fill(n, func(int) float32 { return r.Float32() }) },
	func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 { return float32(r.NormFloat64()) })
	},
	func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 { return []float32{-1, 0.5, 2}[r.IntN(3)] })
	},
	func(r *rand.Rand, n int) []float32 { return fill(n, func(int) float32 { return 1.5 }) },
	func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 { return []float32{0, negZero}[r.IntN(2)] })
	},
	func(r *rand.Rand, n int) []float32 {
		x := fill(n, func(int) float32 { return float32(r.IntN(n + 1)) })
		slices.Sort(x)
		return x
	},
	func(r *rand.Rand, n int) []float32 {
		x := fill(n, func(int) float32 { return float32(r.NormFloat64()) })
		slices.Sort(x)
		slices.Reverse(x)
		return x
	},
	func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 {
			if r.IntN(4) == 0 {
				return selectSpecials[r.IntN(len(selectSpecials))]
			}
			return float32(r.NormFloat64())
		})
	},
	func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 {
			if r.IntN(10) == 0 {
				return float32(r.NormFloat64())
			}
			return 0.25
		})
	},
	func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 { return math.Float32frombits(r.Uint32() & 0x807fffff) })
	},
	// Small values where a band estimated from an evenly spread sample would look, large elsewhere.
	func(r *rand.Rand, n int) []float32 {
		m := min(4*int(math.Sqrt(float64(n)))+64, 1<<16)
		x := fill(n, func(int) float32 { return 1000 + float32(r.IntN(1000)) })
		if m < n {
			for j := range m {
				x[int((2*uint64(j)+1)*uint64(n)/(2*uint64(m)))] = float32(-r.IntN(50))
			}
		}
		return x
	},
	func(r *rand.Rand, n int) []float32 {
		return fill(n, func(int) float32 { return float32(r.IntN(4)) })
	},
}

func fill(n int, f func(int) float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = f(i)
	}
	return x
}

// decodeValues decodes FuzzSelect's input:
//
//	byte 0: mode%4: 0 one byte a value (< 24: selectSpecials, else (v−140)/4), 1 bfloat16 (the
//	  high half of a float32), 2 raw float32 bits, 3 generated: a distribution and a seed
//	u16: n (modes 0-2: n%1100; mode 3: n%12000)
//	mode 3: a byte (the distribution) and a u32 (its seed); then the values (modes 0-2)
//	u16: k = 1 + v%n
func decodeValues(in *input) (x []float32, k int) {
	mode := in.u8() % 4
	n := in.u16()
	if mode == 3 {
		n %= 12000
		d := distributions[in.u8()%len(distributions)]
		seed := in.u32()
		x = d(rand.New(rand.NewPCG(uint64(seed), 7)), n)
	} else {
		n %= 1100
		x = make([]float32, n)
		for i := range x {
			switch mode {
			case 0:
				if b := in.u8(); b < 24 {
					x[i] = selectSpecials[b]
				} else {
					x[i] = float32(b-140) / 4
				}
			case 1:
				x[i] = math.Float32frombits(uint32(in.u16()) << 16)
			default:
				x[i] = math.Float32frombits(in.u32())
			}
		}
	}
	if n > 0 {
		k = 1 + in.u16()%n
	}
	return x, k
}

func FuzzSelect(f *testing.F) {
	f.Add([]byte{0, 20, 0})
	f.Add([]byte{3, 0x10, 0x27, 2, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, generic := kernelSets(t)
		x, k := decodeValues(newInput(data))
		n := len(x)
		defer watchdog(fmt.Sprintf("selection (n=%d, k=%d)", n, k))()
		gx, free := guardCopy(x)
		defer free()
		x0 := slices.Clone(x)

		thresholds := append(selectSpecials[:], ninf32)
		for _, i := range []int{0, n / 2, n - 1, k - 1} {
			if i >= 0 && i < n {
				thresholds = append(thresholds, x[i])
			}
		}
		for _, th := range thresholds {
			want := ref.CountAtLeast(x, th)
			for _, set := range sets {
				if got := set.CountAtLeast(gx, th); got != want {
					t.Fatalf("%s: CountAtLeast(n=%d, %v [%#x]) = %d, want %d", set.Name(), n, th, math.Float32bits(th), got, want)
				}
			}
		}
		if n == 0 {
			for _, set := range sets {
				if _, err := set.KthLargest(gx, 1); !errors.Is(err, ohem.ErrK) {
					t.Fatalf("%s: KthLargest(empty, 1): %v, want ErrK", set.Name(), err)
				}
			}
			return
		}
		ks := []int{k}
		for _, kk := range []int{1, n, (n + 1) / 2} {
			if !slices.Contains(ks, kk) {
				ks = append(ks, kk)
			}
		}
		ord := ref.Order(x)
		for _, k := range ks {
			// The k-th of the order, and the first k of it ascending; ref's own functions (a sort
			// per call) are asked directly only for small inputs, to keep the executions fast.
			wantV := x[ord[k-1]]
			wantTop := make([]int32, k)
			for j, i := range ord[:k] {
				wantTop[j] = int32(i)
			}
			slices.Sort(wantTop)
			if n <= 600 && (math.Float32bits(ref.KthLargest(x, k)) != math.Float32bits(wantV) || !slices.Equal(ref.TopK(x, k), wantTop)) {
				t.Fatalf("test bug: refOrder disagrees with ref (n=%d, k=%d)", n, k)
			}
			genV, _ := generic.KthLargest(gx, k)
			for _, set := range sets {
				v, err := set.KthLargest(gx, k)
				if err != nil || !ref.Equal(v, wantV) || math.Float32bits(v) != math.Float32bits(genV) {
					t.Fatalf("%s: KthLargest(n=%d, k=%d) = %v [%#x], %v; want %v (generic [%#x])",
						set.Name(), n, k, v, math.Float32bits(v), err, wantV, math.Float32bits(genV))
				}
				// dst[:0] semantics: a dst with room for k indices is reused, ties or not.
				dst := make([]int32, min(2, k), k)
				top, err := set.TopK(dst, gx, k)
				if err != nil || !slices.Equal(top, wantTop) {
					t.Fatalf("%s: TopK(n=%d, k=%d) = %v, %v; want %v", set.Name(), n, k, head(top), err, head(wantTop))
				}
				if &top[0] != &dst[:1][0] {
					t.Fatalf("%s: TopK(k=%d) did not reuse a dst of cap k", set.Name(), k)
				}
			}
		}
		if !slices.Equal(bits(gx), bits(x0)) {
			t.Fatalf("selection modified its input")
		}
	})
}

func head(x []int32) []int32 { return x[:min(len(x), 16)] }

func bits(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

// ---- FuzzLoss ----

var (
	ratioTable  = []float64{0.01, 0.25, 0.3, 0.5, 0.7, 1, 1e-9, 0.999, 1.5, -0.1, math.NaN(), math.Inf(1)}
	probTable   = []float32{0.05, 0.3, 0.5, 0.7, 0.9, 1, 1e-30, 0.13533528, 1.5, -0.5, nan32, 0.999}
	negPosTable = []float64{0.5, 1, 3, 1e-9, 100, 0.3, -1, math.NaN(), math.Inf(1)}
	smoothTable = []float32{0, 0, 0, 0.1, 0.45, 0.99, 1e-7, 1}
	weightTable = []float32{0, 0.5, 1, 2, 1e-3, 1e3, 1, 0.25}
)

// decodeConfig decodes a Config for a batch of c classes (FuzzLoss reads it between the batch's
// header and its samples):
//
//	byte r: r%8 the rule: 0 none, 1-2 Keep, 3 KeepRatio, 4 ProbThreshold+MinKept,
//	  5 NegPosRatio+Background+MinKept, 6 two rules, 7 MinKept with Keep or no rule;
//	  bit 7 with rules 1-5: one invalid field (Keep, MinKept, Workers, Reduction or Kernel)
//	  then bytes for the rule's fields
//	byte o: bit 0 KeepTies, bit 1 PerImage, bits 2-3 ClassWeights (0 nil, 1-2 valid, 3 invalid),
//	  bits 4-6 LabelSmoothing (smoothTable), bit 7 a Reduction byte follows
//	byte: Workers (v%4)
func decodeConfig(in *input, c int) ohem.Config {
	var cfg ohem.Config
	r := in.u8()
	switch r % 8 {
	case 1, 2:
		cfg.Keep = in.u8() % 40
	case 3:
		cfg.KeepRatio = ratioTable[in.u8()%len(ratioTable)]
	case 4:
		cfg.ProbThreshold = probTable[in.u8()%len(probTable)]
		cfg.MinKept = in.u8() % 24
	case 5:
		cfg.NegPosRatio = negPosTable[in.u8()%len(negPosTable)]
		switch bg := in.u8(); bg % 16 {
		case 15:
			cfg.Background = -1
		case 14:
			cfg.Background = int32(c)
		default:
			cfg.Background = int32(bg % c)
		}
		cfg.MinKept = in.u8() % 8
	case 6:
		cfg.Keep = 1 + in.u8()%5
		switch in.u8() % 3 {
		case 0:
			cfg.KeepRatio = 0.5
		case 1:
			cfg.ProbThreshold = 0.5
		default:
			cfg.NegPosRatio = 1
		}
	case 7:
		cfg.MinKept = 1 + in.u8()%5
		cfg.Keep = in.u8() % 3
	}
	if r&0x80 != 0 && r%8 >= 1 && r%8 <= 5 {
		switch in.u8() % 6 {
		case 0:
			cfg.Keep = -1
		case 1:
			cfg.MinKept = -1
		case 2:
			cfg.Workers = -1
		case 3:
			cfg.Reduction = 3
		case 4:
			cfg.Reduction = -1
		default:
			cfg.Kernel = "bogus"
		}
	}
	o := in.u8()
	cfg.KeepTies = o&1 != 0
	cfg.PerImage = o&2 != 0
	switch o >> 2 & 3 {
	case 1, 2:
		cfg.ClassWeights = make([]float32, c)
		for j := range cfg.ClassWeights {
			cfg.ClassWeights[j] = weightTable[in.u8()%len(weightTable)]
		}
	case 3:
		cfg.ClassWeights = make([]float32, c)
		for j := range cfg.ClassWeights {
			cfg.ClassWeights[j] = 1
		}
		switch v := in.u8(); v % 4 {
		case 0:
			cfg.ClassWeights = append(cfg.ClassWeights, 1) // wrong length: an error at Forward
		case 1:
			cfg.ClassWeights[v/4%c] = -1
		case 2:
			cfg.ClassWeights[v/4%c] = nan32
		default:
			cfg.ClassWeights[v/4%c] = inf32
		}
	}
	cfg.LabelSmoothing = smoothTable[o>>4&7]
	if o&0x80 != 0 {
		cfg.Reduction = ohem.Reduction(in.u8() % 3)
	}
	if cfg.Workers == 0 {
		cfg.Workers = in.u8() % 4
	}
	return cfg
}

// configErrors says, from API.md alone, whether New must reject cfg (atNew), and whether Forward
// on a batch of c classes must (atForward) when New has not. A negative Background with NegPosRatio
// may be rejected by either.
func configErrors(cfg ohem.Config, c int, kernels []ohem.KernelSet) (atNew, either, atForward bool) {
	rules := 0
	for _, set := range []bool{cfg.Keep != 0, cfg.KeepRatio != 0, cfg.ProbThreshold != 0, cfg.NegPosRatio != 0} {
		if set {
			rules++
		}
	}
	known := false
	for _, s := range kernels {
		known = known || s.Name() == cfg.Kernel
	}
	switch {
	case rules > 1,
		cfg.Keep < 0,
		cfg.KeepRatio != 0 && !(cfg.KeepRatio > 0 && cfg.KeepRatio <= 1),
		cfg.ProbThreshold != 0 && !(cfg.ProbThreshold > 0 && cfg.ProbThreshold <= 1),
		cfg.NegPosRatio != 0 && !(cfg.NegPosRatio > 0 && cfg.NegPosRatio <= math.MaxFloat64),
		cfg.MinKept < 0,
		cfg.MinKept != 0 && cfg.ProbThreshold == 0 && cfg.NegPosRatio == 0,
		cfg.Workers < 0,
		!(cfg.LabelSmoothing >= 0 && cfg.LabelSmoothing < 1),
		cfg.ProbThreshold != 0 && cfg.LabelSmoothing != 0,
		cfg.Reduction < ohem.MeanKept || cfg.Reduction > ohem.Sum,
		cfg.Kernel != "" && !known:
		atNew = true
	}
	for _, w := range cfg.ClassWeights {
		if !(w >= 0 && w <= math.MaxFloat32) {
			atNew = true
		}
	}
	if cfg.NegPosRatio != 0 && cfg.Background < 0 {
		either = true
	}
	if cfg.ClassWeights != nil && len(cfg.ClassWeights) != c || cfg.NegPosRatio != 0 && int(cfg.Background) >= c {
		atForward = true
	}
	return atNew, either, atForward
}

func refConfig(cfg ohem.Config) ref.Config {
	return ref.Config{
		Keep: cfg.Keep, KeepRatio: cfg.KeepRatio, ProbThreshold: cfg.ProbThreshold, NegPosRatio: cfg.NegPosRatio,
		Background: cfg.Background, MinKept: cfg.MinKept, KeepTies: cfg.KeepTies, PerImage: cfg.PerImage,
		ClassWeights: cfg.ClassWeights, LabelSmoothing: cfg.LabelSmoothing, Reduction: int(cfg.Reduction),
	}
}

func FuzzLoss(f *testing.F) {
	f.Add([]byte{0, 3, 12, 0, 1, 5})
	f.Add([]byte{1, 4, 6, 0x10, 4, 3, 0x13})
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, generic := kernelSets(t)
		in := newInput(data)
		h := decodeHeader(in, 4096)
		cfg := decodeConfig(in, h.c)
		bt := decodeSamples(in, h)
		// The config on every set (unless it names an unknown one).
		cfgs := make([]ohem.Config, len(sets))
		var genLosses []float32
		for si, set := range sets {
			cfgs[si] = cfg
			if cfg.Kernel == "" {
				cfgs[si].Kernel = set.Name()
			}
		}
		for si, set := range sets {
			stop := watchdog(fmt.Sprintf("%s Loss %+v (N=%d C=%d)", set.Name(), cfgs[si], bt.n, bt.c))
			losses := checkLoss(t, set, cfgs[si], bt)
			stop()
			if set.Name() == generic.Name() {
				genLosses = losses
			}
		}
		// Every set's losses against generic's.
		if genLosses != nil {
			for si, set := range sets {
				if set.Name() == generic.Name() {
					continue
				}
				l, err := ohem.New(cfgs[si])
				if err != nil {
					continue
				}
				if _, err := l.Forward(bt.b); err != nil {
					continue
				}
				want := ref.Losses(bt.b.Logits, bt.b.Targets, bt.c, bt.b.Spatial, float64(cfgs[si].LabelSmoothing))
				for i, v := range l.Losses() {
					if !ref.BothWithin(v, genLosses[i], ref.CETol(want[i])) {
						t.Fatalf("%s: Losses()[%d] = %v, generic %v", set.Name(), i, v, genLosses[i])
					}
				}
			}
		}
	})
}

// newLoss runs New(cfg) and checks its error against configErrors's atNew and either: it returns
// the Loss, or nil where New failed as it had to (the check ends there).
func newLoss(t *testing.T, what string, cfg ohem.Config, atNew, either bool) *ohem.Loss {
	t.Helper()
	l, err := ohem.New(cfg)
	switch {
	case atNew:
		if !errors.Is(err, ohem.ErrConfig) || l != nil {
			t.Fatalf("%s: New = %v, %v; want ErrConfig", what, l, err)
		}
		return nil
	case either && err != nil:
		if !errors.Is(err, ohem.ErrConfig) {
			t.Fatalf("%s: New: %v, want ErrConfig", what, err)
		}
		return nil
	case err != nil:
		t.Fatalf("%s: New: %v", what, err)
	}
	return l
}

// checkLoss runs New, Forward and ForwardBackward of one set and checks them against the
// reference; it returns the losses of a successful Forward, or nil.
func checkLoss(t *testing.T, set ohem.KernelSet, cfg ohem.Config, bt batch) []float32 {
	t.Helper()
	b := bt.b
	what := fmt.Sprintf("%s: Loss %+v on N=%d C=%d S=%d Images=%d", set.Name(), cfg, bt.n, bt.c, b.Spatial, b.Images)
	atNew, either, atForward := configErrors(cfg, bt.c, ohem.KernelSets())
	l := newLoss(t, what, cfg, atNew, either)
	if l == nil {
		return nil
	}
	allowed := dataErrors(bt, false)
	if atForward || either {
		allowed = append(allowed, ohem.ErrConfig)
	}
	gb, free := guardBatch(b)
	defer free()
	res, err := l.Forward(gb)
	if !checkErr(t, what+" Forward", err, allowed) {
		if err == nil {
			t.Fatalf("%s: Forward succeeded, want one of %v", what, allowed)
		}
		grad, freeGrad := guard.Float32s(len(b.Logits))
		_, err = l.ForwardBackward(grad, gb)
		freeGrad()
		checkErr(t, what+" ForwardBackward", err, allowed)
		return nil
	}
	losses := slices.Clone(l.Losses())
	selected := slices.Clone(l.Selected())

	// Losses against the reference.
	eps := float64(cfg.LabelSmoothing)
	wantLosses := ref.Losses(b.Logits, b.Targets, bt.c, b.Spatial, eps)
	if len(losses) != bt.n {
		t.Fatalf("%s: %d losses, want %d", what, len(losses), bt.n)
	}
	for i, v := range losses {
		if b.Targets[i] < 0 && v != 0 || !ref.CEWithin(v, wantLosses[i]) {
			t.Fatalf("%s: Losses()[%d] = %v, want %v (target %d, logits %v)", what, i, v, wantLosses[i], b.Targets[i], ref.Row(b.Logits, bt.c, b.Spatial, i))
		}
	}

	// Selection: exactly the rule on the set's own losses.
	rc := refConfig(cfg)
	wantSel, wantThr := ref.Select(rc, losses, b.Targets, b.Spatial, b.Images)
	valid := 0
	for _, tg := range b.Targets {
		if tg >= 0 {
			valid++
		}
	}
	if !slices.Equal(selected, wantSel) || res.Kept != len(wantSel) || res.Valid != valid || !ref.Equal(res.Threshold, wantThr) {
		t.Fatalf("%s: selected %v (Kept %d, Valid %d, Threshold %v), want %v (Kept %d, Valid %d, Threshold %v); losses %v, targets %v",
			what, head(selected), res.Kept, res.Valid, res.Threshold, head(wantSel), len(wantSel), valid, wantThr, losses[:min(len(losses), 16)], b.Targets[:min(bt.n, 16)])
	}

	// Reduction against the reference on that selection. The per-sample bound allows 1e-30
	// absolute, so the reduced loss is allowed that much per unit of the weights it averages.
	ev := ref.Evaluate(rc, b.Logits, b.Targets, bt.c, b.Spatial, selected)
	_, W := ref.Reduce(rc, ev.Losses, b.Targets, selected)
	keptW, overflow := 0.0, false
	for _, i := range selected {
		keptW += ref.Weight(rc, b.Targets, int(i))
		overflow = overflow || math.IsInf(float64(losses[i]), 1) && !math.IsInf(ev.Losses[i], 1) && ref.Weight(rc, b.Targets, int(i)) != 0
	}
	slack := 0.0
	if W > 0 {
		slack = 1e-30 * keptW / W
	}
	got := float64(res.Loss)
	switch {
	case math.IsNaN(got):
		t.Fatalf("%s: Loss NaN", what)
	case math.IsInf(ev.Loss, 1):
		if !math.IsInf(got, 1) {
			t.Fatalf("%s: Loss %v, want +Inf", what, got)
		}
	case overflow || ev.Loss > math.MaxFloat32:
		// A kept loss beyond float32 (its float32 value is +Inf) may make the reduced loss +Inf.
		if !math.IsInf(got, 1) && math.Abs(got-ev.Loss) > 1e-5*ev.Loss {
			t.Fatalf("%s: Loss %v, want %v", what, got, ev.Loss)
		}
	case math.Abs(got-ev.Loss) > 1e-5*math.Abs(ev.Loss)+slack+0x1p-149:
		t.Fatalf("%s: Loss %v, want %v (|err| %.3g)", what, got, ev.Loss, math.Abs(got-ev.Loss))
	}

	// ForwardBackward on the same Loss: the same result, and the gradient.
	grad, freeGrad := guard.Float32s(len(b.Logits))
	defer freeGrad()
	for i := range grad {
		grad[i] = nan32
	}
	res2, err := l.ForwardBackward(grad, gb)
	if err != nil {
		t.Fatalf("%s: ForwardBackward: %v (Forward succeeded)", what, err)
	}
	if res2 != res {
		t.Fatalf("%s: ForwardBackward %+v, Forward %+v", what, res2, res)
	}
	if !slices.Equal(bits(l.Losses()), bits(losses)) || !slices.Equal(l.Selected(), selected) {
		t.Fatalf("%s: ForwardBackward's losses or selection differ from Forward's", what)
	}
	// API.md's gradient bound (ref.GradTol): 1e-5·max|ref| + 1e-6·|ref| + 1e-30·w/W per element,
	// plus 2^-22·w/W with label smoothing, where p_j − q_j cancels when p_j ≈ q_j.
	maxG := 0.0
	for _, g := range ev.Grad {
		maxG = math.Max(maxG, math.Abs(g))
	}
	scale := ref.ElementScales(rc, b.Targets, bt.c, b.Spatial, selected)
	for i, g := range grad {
		if d := math.Abs(float64(g) - ev.Grad[i]); !(d <= ref.GradTol(ev.Grad[i], maxG, scale[i], cfg.LabelSmoothing != 0)) {
			t.Fatalf("%s: grad[%d] = %v, want %v (max |grad| %v, w/W %v)", what, i, g, ev.Grad[i], maxG, scale[i])
		}
	}
	return losses
}
