package ohem_test

// Every kernel set of ohem.KernelSets() against the float64 reference (internal/ref) and against
// the generic set: CrossEntropy and LogSumExp within the bounds of API.md, selection exactly, on
// every length from 0 to a few vector widths past a multiple, at unaligned starts and in buffers
// that end at (or start after) an unmapped page.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/guard"
	"github.com/ohem-go/ohem/internal/ref"
)

var (
	f32Inf     = float32(math.Inf(1))
	f32NegInf  = float32(math.Inf(-1))
	f32NaN     = float32(math.NaN())
	f32NegZero = math.Float32frombits(1 << 31)
)

// kernelSets returns every set this CPU can run (the last one generic) and the generic set.
func kernelSets(t testing.TB) (all []ohem.KernelSet, generic ohem.KernelSet) {
	t.Helper()
	all = ohem.KernelSets()
	if len(all) == 0 || all[len(all)-1].Name() != "generic" {
		t.Fatalf("KernelSets() = %v, want generic last", setNames(all))
	}
	generic, err := ohem.LookupKernelSet("generic")
	if err != nil {
		t.Fatal(err)
	}
	return all, generic
}

func setNames(sets []ohem.KernelSet) []string {
	var names []string
	for _, s := range sets {
		names = append(names, s.Name())
	}
	return names
}

func seededRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x0e4e)) }

// ---- batches ----

// A sampleKind says how one sample's logits are drawn.
type sampleKind int

const (
	kindRandom    sampleKind = iota // normal logits times the scale
	kindTiny                        // the target holds the maximum by a wide margin: tiny or exactly-0 loss
	kindTie                         // two or more classes share the maximum
	kindMasked                      // some non-target classes are −Inf (masked)
	kindInfTarget                   // the target logit is −Inf: +Inf loss
	kindIgnored                     // a negative target; with garbage, NaN, ±Inf logits or all −Inf
	numKinds
)

// tinyGaps are target-minus-others margins: losses of about 1e-7, 1e-20, 1e-30, values around
// the float32 normal and subnormal limits of exp, and margins where the loss is exactly 0.
var tinyGaps = []float64{16.118, 23, 46.05, 69.1, 80, 87.3, 88.7, 95, 103.3, 200, 1e4, 1e30}

// genSample draws one sample's C logits (class order) and its target.
func genSample(r *rand.Rand, c int, scale float64, kind sampleKind, garbage bool) ([]float32, int32) {
	z := make([]float32, c)
	for j := range z {
		z[j] = float32(r.NormFloat64() * scale)
	}
	t := int32(r.IntN(c))
	if c == 1 && (kind == kindInfTarget || kind == kindMasked) {
		kind = kindRandom
	}
	switch kind {
	case kindTiny:
		base := float32(r.NormFloat64() * min(scale, 30))
		gap := tinyGaps[r.IntN(len(tinyGaps))]
		for j := range z {
			z[j] = float32(float64(base) - gap*(1+0.05*r.Float64()))
		}
		z[t] = base
	case kindTie:
		m := slices.Max(z)
		n := 2 + r.IntN(3)
		for range n {
			z[r.IntN(c)] = m
		}
		if r.IntN(2) == 0 {
			z[t] = m
		}
	case kindMasked:
		for j := range z {
			if int32(j) != t && r.IntN(2) == 0 {
				z[j] = f32NegInf
			}
		}
	case kindInfTarget:
		for j := range z {
			if r.IntN(4) == 0 {
				z[j] = f32NegInf
			}
		}
		z[(int(t)+1+r.IntN(c-1))%c] = float32(r.NormFloat64() * scale) // one finite logit
		z[t] = f32NegInf
	case kindIgnored:
		t = []int32{-1, -100, math.MinInt32, -2}[r.IntN(4)]
		if garbage {
			pool := []float32{f32NaN, f32Inf, f32NegInf, 0, 1}
			all := r.IntN(4) == 0
			for j := range z {
				if all {
					z[j] = f32NegInf
				} else if r.IntN(2) == 0 {
					z[j] = pool[r.IntN(len(pool))]
				}
			}
		}
	}
	return z, t
}

// genRows draws n samples; kinds lists the kinds to draw from.
func genRows(r *rand.Rand, n, c int, scale float64, kinds []sampleKind, garbage bool) ([][]float32, []int32) {
	rows := make([][]float32, n)
	targets := make([]int32, n)
	for i := range rows {
		rows[i], targets[i] = genSample(r, c, scale, kinds[r.IntN(len(kinds))], garbage)
	}
	return rows, targets
}

var allKinds = []sampleKind{kindRandom, kindRandom, kindTiny, kindTie, kindMasked, kindInfTarget, kindIgnored}

// layout lays the samples out row-major (s == 0) or planar with s positions per image
// (len(rows) a multiple of s).
func layoutSamples(rows [][]float32, targets []int32, c, s int) ohem.Batch {
	logits := make([]float32, len(rows)*c)
	for i, row := range rows {
		for j, v := range row {
			logits[ref.Index(c, s, i, j)] = v
		}
	}
	return ohem.Batch{Logits: logits, Targets: slices.Clone(targets), Classes: c, Spatial: s}
}

// lseSafe returns copies of rows in which every row has a finite maximum (LogSumExp reads the
// rows of ignored samples too).
func lseSafe(r *rand.Rand, rows [][]float32) [][]float32 {
	out := make([][]float32, len(rows))
	for i, row := range rows {
		out[i] = slices.Clone(row)
		ok := false
		for j, v := range row {
			if v != v || v == f32Inf {
				out[i][j] = float32(r.NormFloat64())
			}
			if out[i][j] != f32NegInf {
				ok = true
			}
		}
		if !ok {
			out[i][r.IntN(len(row))] = 0
		}
	}
	return out
}

func bitsOf(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

// refCE returns the reference losses of a batch (0 for ignored samples).
func refCE(b ohem.Batch) []float64 {
	out := make([]float64, len(b.Targets))
	for i, t := range b.Targets {
		if t >= 0 {
			out[i] = ref.CrossEntropy(b.Logits, b.Classes, b.Spatial, i, t, 0)
		}
	}
	return out
}

// refLSE returns the reference log-sum-exp of every sample and each sample's maximum logit.
func refLSE(b ohem.Batch) (lse, maxZ []float64) {
	n := len(b.Logits) / b.Classes
	lse, maxZ = make([]float64, n), make([]float64, n)
	for i := range n {
		lse[i] = ref.LogSumExp(b.Logits, b.Classes, b.Spatial, i)
		maxZ[i] = slices.Max(ref.Row(b.Logits, b.Classes, b.Spatial, i))
	}
	return lse, maxZ
}

// errLimit caps the mismatches one check reports.
const errLimit = 6

// checkCE runs CrossEntropy of every set on b, writing into dst (len(dst) >= N; anything past N
// must stay as it was), and checks each value against the reference and the generic set.
func checkCE(t *testing.T, what string, sets []ohem.KernelSet, generic ohem.KernelSet, b ohem.Batch, dstFor func() ([]float32, func())) {
	t.Helper()
	n := len(b.Targets)
	want := refCE(b)
	logits0, targets0 := bitsOf(b.Logits), slices.Clone(b.Targets)
	genOut := make([]float32, n)
	if err := generic.CrossEntropy(genOut, b); err != nil {
		t.Errorf("%s: generic CrossEntropy: %v", what, err)
		return
	}
	for _, set := range sets {
		dst, free := dstFor()
		const sentinel = 0x7fa5a5a5 // a NaN no kernel produces
		for i := range dst {
			dst[i] = math.Float32frombits(sentinel)
		}
		err := set.CrossEntropy(dst, b)
		if err != nil {
			t.Errorf("%s: %s CrossEntropy: %v", what, set.Name(), err)
			free()
			continue
		}
		bad := 0
		for i := 0; i < n && bad < errLimit; i++ {
			got := dst[i]
			switch {
			case b.Targets[i] < 0 && got != 0:
				t.Errorf("%s: %s: ignored sample %d has loss %v, want 0", what, set.Name(), i, got)
				bad++
			case !ref.CEWithin(got, want[i]):
				t.Errorf("%s: %s: sample %d (target %d, logits %v): loss %v, want %v (|err| %.3g > %.3g)",
					what, set.Name(), i, b.Targets[i], shortRow(b, i), got, want[i], math.Abs(float64(got)-want[i]), ref.CETol(want[i]))
				bad++
			case !ref.BothWithin(got, genOut[i], ref.CETol(want[i])):
				t.Errorf("%s: %s: sample %d: loss %v, generic %v", what, set.Name(), i, got, genOut[i])
				bad++
			}
		}
		for i := n; i < len(dst); i++ {
			if math.Float32bits(dst[i]) != sentinel {
				t.Errorf("%s: %s: CrossEntropy wrote dst[%d] = %v past N = %d", what, set.Name(), i, dst[i], n)
				break
			}
		}
		free()
	}
	if !slices.Equal(bitsOf(b.Logits), logits0) || !slices.Equal(b.Targets, targets0) {
		t.Errorf("%s: CrossEntropy modified its input", what)
	}
}

// checkLSE is checkCE for LogSumExp (every row of b must have a finite maximum).
func checkLSE(t *testing.T, what string, sets []ohem.KernelSet, generic ohem.KernelSet, b ohem.Batch, dstFor func() ([]float32, func())) {
	t.Helper()
	n := len(b.Logits) / b.Classes
	want, maxZ := refLSE(b)
	logits0 := bitsOf(b.Logits)
	genOut := make([]float32, n)
	if err := generic.LogSumExp(genOut, b); err != nil {
		t.Errorf("%s: generic LogSumExp: %v", what, err)
		return
	}
	for _, set := range sets {
		dst, free := dstFor()
		const sentinel = 0x7fa5a5a5
		for i := range dst {
			dst[i] = math.Float32frombits(sentinel)
		}
		if err := set.LogSumExp(dst, b); err != nil {
			t.Errorf("%s: %s LogSumExp: %v", what, set.Name(), err)
			free()
			continue
		}
		bad := 0
		for i := 0; i < n && bad < errLimit; i++ {
			got := dst[i]
			switch {
			case !ref.LSEWithin(got, want[i], maxZ[i]):
				t.Errorf("%s: %s: sample %d (logits %v): lse %v, want %v (|err| %.3g > %.3g)",
					what, set.Name(), i, shortRow(b, i), got, want[i], math.Abs(float64(got)-want[i]), ref.LSETol(want[i], maxZ[i]))
				bad++
			case !ref.BothWithin(got, genOut[i], ref.LSETol(want[i], maxZ[i])):
				t.Errorf("%s: %s: sample %d: lse %v, generic %v", what, set.Name(), i, got, genOut[i])
				bad++
			}
		}
		for i := n; i < len(dst); i++ {
			if math.Float32bits(dst[i]) != sentinel {
				t.Errorf("%s: %s: LogSumExp wrote dst[%d] = %v past N = %d", what, set.Name(), i, dst[i], n)
				break
			}
		}
		free()
	}
	if !slices.Equal(bitsOf(b.Logits), logits0) {
		t.Errorf("%s: LogSumExp modified its input", what)
	}
}

// shortRow formats sample i's logits for a message (the first few of a long row).
func shortRow(b ohem.Batch, i int) string {
	row := make([]float32, min(b.Classes, 8))
	for j := range row {
		row[j] = ref.Logit(b.Logits, b.Classes, b.Spatial, i, j)
	}
	if b.Classes > len(row) {
		return fmt.Sprintf("%v... (C=%d)", row, b.Classes)
	}
	return fmt.Sprint(row)
}

// plainDst returns a dst of n elements plus pad sentinel slots, in ordinary memory.
func plainDst(n, pad int) func() ([]float32, func()) {
	return func() ([]float32, func()) { return make([]float32, n+pad), func() {} }
}

// guardDst returns a dst of exactly n elements ending at an unmapped page.
func guardDst(n int) func() ([]float32, func()) {
	return func() ([]float32, func()) { return guard.Float32s(n) }
}

// ---- buffers at chosen places ----

// alignedAt returns n float32s whose first element lies a elements (4a bytes) past a 64-byte
// boundary, with cap n, in ordinary memory.
func alignedAt[T float32 | int32](n, a int) []T {
	buf := make([]T, n+32)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	off := ((4*a-int(addr%64))%64 + 64) % 64 / 4
	return buf[off : off+n : off+n]
}

// placement says where the test puts a batch's buffers.
type placement int

const (
	placeTail    placement = iota // every buffer ends at an unmapped page
	placeFront                    // every buffer starts right after an unmapped page
	placeAligned                  // ordinary memory, at a chosen offset from a 64-byte boundary
)

func (p placement) String() string { return [...]string{"guard-tail", "guard-front", "offset"}[p] }

// place copies x into a buffer of the given placement (a: the offset for placeAligned).
func placeCopy[T float32 | int32](x []T, p placement, a int) ([]T, func()) {
	var buf []T
	free := func() {}
	switch p {
	case placeTail:
		buf, free = guard.Make[T](len(x))
	case placeFront:
		buf, free = guard.MakeFront[T](len(x))
		buf = buf[:len(x):len(x)]
	default:
		buf = alignedAt[T](len(x), a)
	}
	copy(buf, x)
	return buf, free
}

// placedBatch copies b's logits and targets to buffers of the given placement.
func placedBatch(b ohem.Batch, p placement, a int) (ohem.Batch, func()) {
	lg, f1 := placeCopy(b.Logits, p, a)
	tg, f2 := placeCopy(b.Targets, p, (a+5)%16)
	if b.Targets == nil {
		tg = nil
	}
	pb := b
	pb.Logits, pb.Targets = lg, tg
	return pb, func() { f1(); f2() }
}

// ---- CrossEntropy and LogSumExp ----

func TestCrossEntropyAccuracy(t *testing.T) {
	sets, generic := kernelSets(t)
	r := seededRand(1)
	for _, c := range []int{1, 2, 3, 5, 16, 21, 100, 1000, 65536} {
		for _, scale := range []float64{1, 30, 1e4, 1e30} {
			for _, planar := range []bool{false, true} {
				n, s := 48, 0
				if planar {
					n, s = 2*23, 23
				}
				if testing.Short() && c >= 100 {
					n, s = n/3, s/3
					if planar {
						n = 2 * s
					}
				}
				if c == 65536 {
					n = 3
					if planar {
						n, s = 10, 5 // more than a vector of positions per image on NEON
					}
				}
				what := fmt.Sprintf("C=%d scale=%g planar=%v", c, scale, planar)
				rows, targets := genRows(r, n, c, scale, allKinds, true)
				b := layoutSamples(rows, targets, c, s)
				if planar && r.IntN(2) == 0 {
					b.Images = n / s
				}
				checkCE(t, what, sets, generic, b, plainDst(n, 3))
				lb := layoutSamples(lseSafe(r, rows), nil, c, s)
				checkLSE(t, what, sets, generic, lb, plainDst(n, 3))
			}
		}
	}
}

// TestCrossEntropyCases checks samples whose answers are known: tiny losses (computed as
// log1p(Σ exp(z_j − z_t)), not lse − z_t), exactly-0 losses, ties, masked classes and a −Inf
// target logit (+Inf).
func TestCrossEntropyCases(t *testing.T) {
	sets, generic := kernelSets(t)
	type sample struct {
		z    []float32
		t    int32
		want float64 // the expected loss, NaN: take the reference's
	}
	nan := math.NaN()
	inf := math.Inf(1)
	tinyRow := func(c int, gap float32) []float32 {
		z := make([]float32, c)
		for j := range z {
			z[j] = 2 - gap
		}
		z[c/2] = 2
		return z
	}
	cases := []sample{
		{[]float32{0, -16.118095}, 0, 1.0000000e-07},
		{[]float32{-16.118095, 0}, 1, 1.0000000e-07},
		{[]float32{7, 7 - 46.0517}, 0, 1.0000029e-20},
		{[]float32{3, 3 - 69.0776}, 0, 1e-30},
		{[]float32{3, 3 - 80}, 0, math.Exp(-80)},
		{[]float32{0, -1e4}, 0, 0},
		{[]float32{0, -1e30}, 0, 0},
		{[]float32{1e30, -1e30}, 0, 0},
		{[]float32{1e30, -1e30}, 1, 2e30},
		{[]float32{3, 3}, 0, math.Ln2},
		{[]float32{3, 3, 1}, 2, nan},
		{[]float32{3, 3, 3}, 1, math.Log(3)},
		{[]float32{f32NegInf, 1}, 0, inf},
		{[]float32{1, f32NegInf}, 0, 0},
		{[]float32{1, f32NegInf, f32NegInf}, 0, 0},
		{[]float32{f32NegInf, 2, f32NegInf, 2}, 1, math.Ln2},
		{[]float32{f32NegInf, 2, f32NegInf, 5}, 2, inf},
		{[]float32{5}, 0, 0},
		{[]float32{-1e30}, 0, 0},
		{[]float32{math.MaxFloat32, -math.MaxFloat32}, 0, 0},
		{[]float32{math.MaxFloat32, -math.MaxFloat32}, 1, 2 * math.MaxFloat32}, // overflows float32
		{[]float32{f32NaN, f32Inf, f32NegInf}, -1, 0},
		{[]float32{f32NegInf, f32NegInf, f32NegInf}, -100, 0},
		{tinyRow(21, 46), 10, nan},
		{tinyRow(21, 20), 10, nan},
		{tinyRow(1000, 30), 500, nan},
		{tinyRow(1000, 100), 500, nan},
		{tinyRow(65536, 35), 32768, nan},
	}
	// Batches of equal C, in both layouts.
	byC := map[int][]sample{}
	var cs []int
	for _, s := range cases {
		if len(byC[len(s.z)]) == 0 {
			cs = append(cs, len(s.z))
		}
		byC[len(s.z)] = append(byC[len(s.z)], s)
	}
	for _, c := range cs {
		var rows [][]float32
		var targets []int32
		for _, s := range byC[c] {
			rows, targets = append(rows, s.z), append(targets, s.t)
			w := s.want
			if math.IsNaN(w) {
				continue
			}
			// The hand-computed value agrees with the reference (a check of the test itself).
			if got := ref.CrossEntropy(s.z, c, 0, 0, max(s.t, 0), 0); s.t >= 0 && !(got == w || math.Abs(got-w) <= 1e-4*math.Abs(w)) {
				t.Errorf("test table: reference loss of %v (t=%d) is %v, table says %v", s.z, s.t, got, w)
			}
		}
		n := len(rows)
		checkCE(t, fmt.Sprintf("cases C=%d rows", c), sets, generic, layoutSamples(rows, targets, c, 0), plainDst(n, 2))
		checkCE(t, fmt.Sprintf("cases C=%d planar", c), sets, generic, layoutSamples(rows, targets, c, n), guardDst(n))
		checkCE(t, fmt.Sprintf("cases C=%d planar S=1", c), sets, generic, layoutSamples(rows, targets, c, 1), guardDst(n))
	}
	// A tiny loss must come out tiny, not 0 and not doubled: spelled out for the 1e-7 case.
	for _, set := range sets {
		dst := make([]float32, 1)
		b := ohem.Batch{Logits: []float32{0, -16.118095}, Targets: []int32{0}, Classes: 2}
		if err := set.CrossEntropy(dst, b); err != nil || dst[0] < 0.99999e-7 || dst[0] > 1.00001e-7 {
			t.Errorf("%s: loss of a confident correct sample = %v (err %v), want 1e-7", set.Name(), dst[0], err)
		}
	}
}

// TestKernelTails runs every number of rows (and planar positions) from 0 to 70, and a few large
// ones, with every buffer at a guard page or at an unaligned start.
func TestKernelTails(t *testing.T) {
	sets, generic := kernelSets(t)
	r := seededRand(2)
	kinds := []sampleKind{kindRandom, kindRandom, kindTiny, kindMasked, kindInfTarget, kindIgnored}
	run := func(what string, rows [][]float32, targets []int32, c, s, images int) {
		t.Helper()
		n := len(rows)
		b := layoutSamples(rows, targets, c, s)
		b.Images = images
		lb := layoutSamples(lseSafe(r, rows), nil, c, s)
		lb.Images = images
		places := []placement{placeTail, placeFront, placeAligned}
		if testing.Short() {
			places = []placement{placement((n + c) % 3)}
		}
		for _, p := range places {
			a := (n*3 + c + int(p)) % 16
			pb, free := placedBatch(b, p, a)
			plb, free2 := placedBatch(lb, p, (a+7)%16)
			w := fmt.Sprintf("%s %v@%d", what, p, a)
			switch p {
			case placeTail:
				checkCE(t, w, sets, generic, pb, guardDst(n))
				checkLSE(t, w, sets, generic, plb, guardDst(n))
			case placeFront:
				dst := func() ([]float32, func()) {
					d, f := guard.Float32sFront(n + 5)
					return d, f
				}
				checkCE(t, w, sets, generic, pb, dst)
				checkLSE(t, w, sets, generic, plb, dst)
			default:
				dst := func() ([]float32, func()) { return alignedAt[float32](n+9, (a+3)%16), func() {} }
				checkCE(t, w, sets, generic, pb, dst)
				checkLSE(t, w, sets, generic, plb, dst)
			}
			free()
			free2()
		}
	}
	for _, c := range []int{1, 2, 3, 7, 21, 64} {
		sizes := []int{1000, 4099}
		if testing.Short() {
			sizes = []int{1000}
		}
		for n := 0; n <= 70; n++ {
			sizes = append(sizes, n)
		}
		for _, n := range sizes {
			if n > 70 && c > 7 && testing.Short() {
				continue
			}
			rows, targets := genRows(r, n, c, 5, kinds, true)
			images := 0
			if n%2 == 0 && n > 0 && r.IntN(2) == 0 {
				images = 2
			}
			run(fmt.Sprintf("rows N=%d C=%d", n, c), rows, targets, c, 0, images)
		}
	}
	for _, c := range []int{1, 2, 3, 7, 21} {
		for s := 1; s <= 70; s++ {
			imgs := 1 + s%3
			rows, targets := genRows(r, imgs*s, c, 5, kinds, true)
			images := 0
			if r.IntN(2) == 0 {
				images = imgs
			}
			run(fmt.Sprintf("planar S=%d images=%d C=%d", s, imgs, c), rows, targets, c, s, images)
		}
	}
	// A large planar image (several of the kernels' position blocks, plus a tail).
	rows, targets := genRows(r, 2*1031, 5, 5, kinds, true)
	run("planar S=1031 images=2 C=5", rows, targets, 5, 1031, 2)
}

// ---- hangs ----

// hangTimeout bounds one checkSelection (or one call of a regression test); the slowest, 100000
// elements under the race detector, takes a few seconds.
const hangTimeout = 2 * time.Minute

// watchdog crashes the test binary, printing every goroutine's stack, unless stop is called
// within hangTimeout: a selection that loops forever then fails the run with a message naming the
// input, instead of at go test's 10-minute timeout.
func watchdog(what string) (stop func() bool) {
	return time.AfterFunc(hangTimeout, func() {
		debug.SetTraceback("all")
		panic(fmt.Sprintf("LIBRARY BUG: %s did not return within %v (an infinite loop?)", what, hangTimeout))
	}).Stop
}

// ---- selection ----

var selectSpecials = []float32{
	f32NaN, math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00000), math.Float32frombits(0x7f800001),
	f32Inf, f32NegInf, 0, f32NegZero,
	math.Float32frombits(1), math.Float32frombits(0x80000001), math.Float32frombits(0x007fffff), math.Float32frombits(0x807fffff),
	math.SmallestNonzeroFloat32 * (1 << 23), math.MaxFloat32, -math.MaxFloat32, 1, -1, 0.5,
}

// A distribution draws n float32s.
type distribution struct {
	name string
	gen  func(r *rand.Rand, n int) []float32
}

func fillWith(n int, f func(i int) float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = f(i)
	}
	return x
}

var distributions = []distribution{
	{"uniform", func(r *rand.Rand, n int) []float32 { return fillWith(n, func(int) float32 { return r.Float32() }) }},
	{"normal", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 { return float32(r.NormFloat64() * 100) })
	}},
	{"ties3", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 { return []float32{-1, 0.5, 2}[r.IntN(3)] })
	}},
	{"equal", func(r *rand.Rand, n int) []float32 { return fillWith(n, func(int) float32 { return 1.5 }) }},
	{"zeros", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 {
			if r.IntN(2) == 0 {
				return f32NegZero
			}
			return 0
		})
	}},
	{"ascending", func(r *rand.Rand, n int) []float32 {
		x := fillWith(n, func(int) float32 { return float32(r.IntN(n + 1)) })
		slices.Sort(x)
		return x
	}},
	{"descending", func(r *rand.Rand, n int) []float32 {
		x := fillWith(n, func(int) float32 { return float32(r.NormFloat64()) })
		slices.Sort(x)
		slices.Reverse(x)
		return x
	}},
	{"nans", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 {
			if r.IntN(5) == 0 {
				return selectSpecials[r.IntN(4)]
			}
			return float32(r.NormFloat64())
		})
	}},
	{"signed-zeros", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 {
			switch r.IntN(4) {
			case 0:
				return f32NegZero
			case 1:
				return 0
			}
			return float32(r.NormFloat64())
		})
	}},
	{"infs", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 {
			switch r.IntN(4) {
			case 0:
				return f32Inf
			case 1:
				return f32NegInf
			}
			return float32(r.NormFloat64())
		})
	}},
	{"subnormals", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 {
			v := math.Float32frombits(uint32(r.IntN(1 << 23)))
			if r.IntN(2) == 0 {
				v = -v
			}
			return v
		})
	}},
	{"specials", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 { return selectSpecials[r.IntN(len(selectSpecials))] })
	}},
	{"mostly-one", func(r *rand.Rand, n int) []float32 {
		return fillWith(n, func(int) float32 {
			if r.IntN(10) == 0 {
				return float32(r.NormFloat64())
			}
			return 0.25
		})
	}},
	// Values where a band estimated from an evenly spread sample misses: the elements at the
	// sample's positions are small, the rest large (exercises the radix fallback).
	{"sample-adversarial", func(r *rand.Rand, n int) []float32 {
		m := min(4*int(math.Sqrt(float64(n)))+64, 1<<16)
		x := fillWith(n, func(int) float32 { return 1000 + float32(r.IntN(1000)) })
		if m < n {
			for j := range m {
				x[int((2*uint64(j)+1)*uint64(n)/(2*uint64(m)))] = float32(-r.IntN(50))
			}
		}
		return x
	}},
}

// refOrder returns ref.Order(x) and each index's rank in that order.
func refOrder(x []float32) (ord, rank []int) {
	ord = ref.Order(x)
	rank = make([]int, len(x))
	for p, i := range ord {
		rank[i] = p
	}
	return ord, rank
}

// spreadK returns a spread of k in 1..n: the ends, fractions, random picks and both sides of
// every boundary between distinct values among the first and last few ranks.
func spreadK(r *rand.Rand, x []float32, ord []int) []int {
	n := len(x)
	if n == 0 {
		return nil
	}
	ks := []int{1, 2, 3, n / 100, n / 10, n / 4, n / 2, n/2 + 1, 3 * n / 4, n - 1, n}
	for range 5 {
		ks = append(ks, 1+r.IntN(n))
	}
	boundaries := 0
	for p := 1; p < n && boundaries < 12; p++ {
		if !ref.Equal(x[ord[p-1]], x[ord[p]]) {
			ks = append(ks, p, p+1) // the last of one value, the first of the next
			boundaries++
		}
	}
	var out []int
	for _, k := range ks {
		if k >= 1 && k <= n && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// checkSelection checks CountAtLeast, KthLargest and TopK of every set on x against the
// reference and the generic set, for the given k (nil: a spread of k); x is not modified.
func checkSelection(t *testing.T, what string, sets []ohem.KernelSet, generic ohem.KernelSet, r *rand.Rand, x []float32, ks []int, direct bool) {
	t.Helper()
	n := len(x)
	defer watchdog(fmt.Sprintf("selection on %s (n=%d)", what, n))()
	x0 := bitsOf(x)
	ord, rank := refOrder(x)
	if ks == nil {
		ks = spreadK(r, x, ord)
		if n >= 100000 {
			ks = ks[:min(len(ks), 18)]
		}
	}

	thresholds := slices.Clone(selectSpecials)
	if n <= 70 {
		thresholds = append(thresholds, x...)
	} else {
		for range 24 {
			thresholds = append(thresholds, x[r.IntN(n)])
		}
	}
	for _, th := range thresholds {
		want := ref.CountAtLeast(x, th)
		gen := generic.CountAtLeast(x, th)
		for _, set := range sets {
			if got := set.CountAtLeast(x, th); got != want || got != gen {
				t.Errorf("%s: %s: CountAtLeast(x, %v [%#x]) = %d, want %d (generic %d)", what, set.Name(), th, math.Float32bits(th), got, want, gen)
				return
			}
		}
	}

	dst := make([]int32, 3, n+8)
	for _, k := range ks {
		wantV := x[ord[k-1]]
		if direct {
			if rv := ref.KthLargest(x, k); math.Float32bits(rv) != math.Float32bits(wantV) {
				t.Fatalf("test helper: refOrder disagrees with ref.KthLargest at k=%d", k)
			}
		}
		genV, err := generic.KthLargest(x, k)
		if err != nil {
			t.Errorf("%s: generic KthLargest(k=%d): %v", what, k, err)
			return
		}
		genTop, err := generic.TopK(nil, x, k)
		if err != nil {
			t.Errorf("%s: generic TopK(k=%d): %v", what, k, err)
			return
		}
		var wantTop []int32
		if direct {
			wantTop = ref.TopK(x, k)
		}
		for _, set := range sets {
			v, err := set.KthLargest(x, k)
			if err != nil || !ref.Equal(v, wantV) || math.Float32bits(v) != math.Float32bits(genV) {
				t.Errorf("%s: %s: KthLargest(n=%d, k=%d) = %v [%#x] (err %v), want %v (generic %v [%#x])",
					what, set.Name(), n, k, v, math.Float32bits(v), err, wantV, genV, math.Float32bits(genV))
				return
			}
			for i := range dst[:3] {
				dst[i] = -7
			}
			top, err := set.TopK(dst, x, k)
			if err != nil {
				t.Errorf("%s: %s: TopK(k=%d): %v", what, set.Name(), k, err)
				return
			}
			if msg := topKProblem(top, rank, k); msg != "" {
				t.Errorf("%s: %s: TopK(n=%d, k=%d) = %v: %s", what, set.Name(), n, k, shortIdx(top), msg)
				return
			}
			if direct && !slices.Equal(top, wantTop) {
				t.Errorf("%s: %s: TopK(k=%d) = %v, ref.TopK %v", what, set.Name(), k, shortIdx(top), shortIdx(wantTop))
				return
			}
			if !slices.Equal(top, genTop) {
				t.Errorf("%s: %s: TopK(k=%d) differs from generic", what, set.Name(), k)
				return
			}
			// dst[:0] semantics: dst's array is reused when it is big enough.
			if k <= cap(dst) && unsafe.SliceData(top) != unsafe.SliceData(dst) {
				t.Errorf("%s: %s: TopK(k=%d) did not reuse dst (cap %d)", what, set.Name(), k, cap(dst))
				return
			}
		}
	}
	if !slices.Equal(bitsOf(x), x0) {
		t.Errorf("%s: selection modified its input", what)
	}
}

// topKProblem returns what is wrong with top as the answer of TopK(x, k), given every index's
// reference rank: it must hold exactly the k best-ranked indices, ascending.
func topKProblem(top []int32, rank []int, k int) string {
	if len(top) != k {
		return fmt.Sprintf("%d indices, want %d", len(top), k)
	}
	for j, i := range top {
		if i < 0 || int(i) >= len(rank) {
			return fmt.Sprintf("index %d out of range", i)
		}
		if j > 0 && top[j-1] >= i {
			return "not strictly ascending"
		}
		if rank[i] >= k {
			return fmt.Sprintf("index %d has rank %d, not among the %d largest (ties toward the lower index)", i, rank[i], k)
		}
	}
	return ""
}

func shortIdx(x []int32) string {
	if len(x) > 20 {
		return fmt.Sprintf("%v... (%d)", x[:20], len(x))
	}
	return fmt.Sprint(x)
}

// TestSelectionBandHoldsEverything is a regression test: KthLargest, TopK and a Loss selecting k
// of n samples looped forever when 512 < n <= 4681 and the band estimated from the sample held
// every element, e.g. KthLargest(513 copies of 1.5, k=1), or Config{Keep: 1}.Forward of 1000
// samples whose logits are all 0 (every loss log 2): the selection recursed on a band as large as
// its input with the same sample. Found by this file's TestSelectionSmall; fixed in 5cc38ae.
func TestSelectionBandHoldsEverything(t *testing.T) {
	sets, _ := kernelSets(t)
	for _, set := range sets {
		for _, n := range []int{513, 1000, 4681} {
			x := fillWith(n, func(int) float32 { return 1.5 })
			for _, k := range []int{1, 2, n / 2, n} {
				stop := watchdog(fmt.Sprintf("%s: KthLargest/TopK(%d × 1.5, k=%d)", set.Name(), n, k))
				v, err := set.KthLargest(x, k)
				if err != nil || v != 1.5 {
					t.Errorf("%s: KthLargest(%d × 1.5, k=%d) = %v, %v; want 1.5", set.Name(), n, k, v, err)
				}
				top, err := set.TopK(nil, x, k)
				stop()
				if err != nil || len(top) != k || (k > 0 && (top[0] != 0 || top[k-1] != int32(k-1))) {
					t.Errorf("%s: TopK(%d × 1.5, k=%d) = %v, %v; want 0..%d", set.Name(), n, k, shortIdx(top), err, k-1)
				}
			}
		}
		const n = 1000
		b := ohem.Batch{Logits: make([]float32, 2*n), Targets: make([]int32, n), Classes: 2}
		l, err := ohem.New(ohem.Config{Keep: 1, Kernel: set.Name()})
		if err != nil {
			t.Fatal(err)
		}
		stop := watchdog(fmt.Sprintf("%s: Loss{Keep: 1}.Forward of %d zero-logit samples", set.Name(), n))
		res, err := l.Forward(b)
		stop()
		if err != nil || res.Kept != 1 || !slices.Equal(l.Selected(), []int32{0}) || math.Abs(float64(res.Loss)-math.Ln2) > 1e-6 {
			t.Errorf("%s: Keep 1 of %d equal losses: %+v, %v, selected %v; want Kept 1, sample 0, loss log 2", set.Name(), n, res, err, shortIdx(l.Selected()))
		}
	}
}

func TestSelectionSmall(t *testing.T) {
	sets, generic := kernelSets(t)
	r := seededRand(3)
	lengths := []int{511, 512, 513}
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for di, d := range distributions {
			x := d.gen(r, n)
			var ks []int
			if n <= 24 || n <= 70 && !testing.Short() {
				for k := 1; k <= n; k++ {
					ks = append(ks, k)
				}
			}
			p := placement((n + di) % 3)
			xb, free := placeCopy(x, p, (n*5+di)%16)
			checkSelection(t, fmt.Sprintf("%s n=%d %v", d.name, n, p), sets, generic, r, xb, ks, n <= 70)
			free()
		}
	}
}

// TestSelectionFew runs the selection checks on lengths around the sizes where TopK's selection by
// counting changes its path, with small k (where it samples candidates) and the spread of k.
func TestSelectionFew(t *testing.T) {
	sets, generic := kernelSets(t)
	r := seededRand(6)
	lengths := []int{ohem.FewSample - 1, ohem.FewSample, ohem.FewSample + 1, 8192, ohem.FewDirect + 1, 1<<16 - 1, 1 << 16, 1<<16 + 1}
	if testing.Short() {
		lengths = []int{ohem.FewSample, 8192, ohem.FewDirect + 1}
	}
	for _, n := range lengths {
		for di, d := range distributions {
			x := d.gen(r, n)
			ord, _ := refOrder(x)
			ks := append(spreadK(r, x, ord), 1, 2, 3, 64, 256, n/64, n/16, n/8)
			p := placement((n + di) % 3)
			xb, free := placeCopy(x, p, di%16)
			checkSelection(t, fmt.Sprintf("%s n=%d %v", d.name, n, p), sets, generic, r, xb, ks, false)
			free()
		}
	}
}

func TestSelectionLarge(t *testing.T) {
	sets, generic := kernelSets(t)
	r := seededRand(4)
	lengths := []int{1000, 4099, 100000}
	if testing.Short() {
		lengths = []int{1000, 20000}
	}
	for _, n := range lengths {
		for di, d := range distributions {
			x := d.gen(r, n)
			if di == 0 {
				// Anchor the rank helper on ref (a sort per call) for two k, once per length.
				ord, _ := refOrder(x)
				for _, k := range []int{n / 3, n} {
					want := ref.TopK(x, k)
					got := make([]int32, 0, k)
					for _, i := range ord[:k] {
						got = append(got, int32(i))
					}
					slices.Sort(got)
					if !slices.Equal(got, want) || math.Float32bits(ref.KthLargest(x, k)) != math.Float32bits(x[ord[k-1]]) {
						t.Fatalf("test helper: refOrder disagrees with ref (%s n=%d k=%d)", d.name, n, k)
					}
				}
			}
			p := placement(di % 3)
			xb, free := placeCopy(x, p, di%16)
			checkSelection(t, fmt.Sprintf("%s n=%d %v", d.name, n, p), sets, generic, r, xb, nil, false)
			free()
		}
	}
}

// TestTopKDst checks TopK's dst[:0] semantics: the result starts at dst[0], reuses dst's array
// when its capacity suffices (whatever dst's length), and allocates otherwise.
func TestTopKDst(t *testing.T) {
	sets, _ := kernelSets(t)
	x := []float32{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	want := ref.TopK(x, 4)
	for _, set := range sets {
		for _, c := range []struct{ len, cap int }{{0, 0}, {0, 4}, {7, 7}, {4, 4}, {2, 3}, {0, 100}, {20, 20}} {
			var dst []int32
			if c.cap > 0 {
				dst = make([]int32, c.len, c.cap)
				for i := range dst {
					dst[i] = 99
				}
			}
			top, err := set.TopK(dst, x, 4)
			if err != nil || !slices.Equal(top, want) {
				t.Errorf("%s: TopK(dst len %d cap %d) = %v, %v; want %v", set.Name(), c.len, c.cap, top, err, want)
				continue
			}
			if reuse := unsafe.SliceData(top) == unsafe.SliceData(dst); reuse != (c.cap >= 4) {
				t.Errorf("%s: TopK(dst len %d cap %d) reused dst: %v", set.Name(), c.len, c.cap, reuse)
			}
		}
		// A guard-page dst of exactly k: nothing is written past it.
		dst, free := guard.Int32s(4)
		top, err := set.TopK(dst[:0], x, 4)
		if err != nil || !slices.Equal(top, want) {
			t.Errorf("%s: TopK(guarded dst) = %v, %v", set.Name(), top, err)
		}
		free()
	}
}

// TestTopKReusesDstWhenTied is a regression test. TopK's contract is "dst[:0] with the indices
// appended", so a dst whose capacity holds k indices must be reused, as append would. TopK used to
// grow dst to hold every element >= the k-th largest before trimming the ties, so when more than k
// elements tied it allocated a new array: TopK(make([]int32, 0, 2), {1, 1, 1, 1}, 2) returned
// [0 1] in a new array. Found by FuzzSelect; fixed upstream.
func TestTopKReusesDstWhenTied(t *testing.T) {
	sets, _ := kernelSets(t)
	for _, set := range sets {
		for _, c := range []struct {
			x []float32
			k int
		}{
			{[]float32{1, 1, 1, 1}, 2},
			{[]float32{5, 1, 1, 1, 0}, 2},
			{[]float32{f32NaN, f32NaN, 2}, 1},
			{[]float32{0, f32NegZero, 0}, 1},
			{fillWith(1000, func(i int) float32 { return float32(i % 3) }), 100},
		} {
			dst := make([]int32, 1, c.k)
			top, err := set.TopK(dst, c.x, c.k)
			if err != nil || !slices.Equal(top, ref.TopK(c.x, c.k)) {
				t.Errorf("%s: TopK(n=%d, k=%d) = %v, %v; want %v", set.Name(), len(c.x), c.k, shortIdx(top), err, shortIdx(ref.TopK(c.x, c.k)))
				continue
			}
			if unsafe.SliceData(top) != unsafe.SliceData(dst) {
				t.Errorf("%s: TopK(dst with cap k = %d, n=%d with ties at the k-th value) allocated a new array instead of appending to dst[:0]",
					set.Name(), c.k, len(c.x))
			}
		}
	}
}

// TestPackageLevel checks that the package-level functions are the set Kernel() names.
func TestPackageLevel(t *testing.T) {
	sets, _ := kernelSets(t)
	var active ohem.KernelSet
	found := false
	for _, s := range sets {
		if s.Name() == ohem.Kernel() {
			active, found = s, true
		}
	}
	if !found {
		t.Fatalf("Kernel() = %q is not among KernelSets() %v", ohem.Kernel(), setNames(sets))
	}
	if (ohem.KernelSet{}).Name() != ohem.Kernel() {
		t.Errorf("the zero KernelSet is %q, want %q", (ohem.KernelSet{}).Name(), ohem.Kernel())
	}
	r := seededRand(5)
	rows, targets := genRows(r, 37, 7, 3, allKinds, false)
	b := layoutSamples(rows, targets, 7, 0)
	got, want := make([]float32, 37), make([]float32, 37)
	if err := ohem.CrossEntropy(got, b); err != nil {
		t.Fatal(err)
	}
	if err := active.CrossEntropy(want, b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bitsOf(got), bitsOf(want)) {
		t.Errorf("CrossEntropy differs from the %s set", ohem.Kernel())
	}
	lb := layoutSamples(lseSafe(r, rows), nil, 7, 0)
	if err := ohem.LogSumExp(got, lb); err != nil {
		t.Fatal(err)
	}
	if err := active.LogSumExp(want, lb); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bitsOf(got), bitsOf(want)) {
		t.Errorf("LogSumExp differs from the %s set", ohem.Kernel())
	}
	x := distributions[7].gen(r, 3000)
	for _, k := range []int{1, 100, 2999} {
		stop := watchdog(fmt.Sprintf("KthLargest/TopK(n=%d, k=%d)", len(x), k))
		v1, _ := ohem.KthLargest(x, k)
		v2, _ := active.KthLargest(x, k)
		t1, _ := ohem.TopK(nil, x, k)
		t2, _ := active.TopK(nil, x, k)
		stop()
		if math.Float32bits(v1) != math.Float32bits(v2) || !slices.Equal(t1, t2) {
			t.Errorf("KthLargest/TopK(k=%d) differ from the %s set", k, ohem.Kernel())
		}
	}
	if ohem.CountAtLeast(x, 0) != active.CountAtLeast(x, 0) || ohem.CountAtLeast(x, f32NaN) != active.CountAtLeast(x, f32NaN) {
		t.Errorf("CountAtLeast differs from the %s set", ohem.Kernel())
	}
}
