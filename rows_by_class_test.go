package ohem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/ohem-go/ohem/internal/guard"
	"github.com/ohem-go/ohem/internal/ref"
)

// The row-major kernels of every assembly set (ceRows and lseRows, which choose their kernel by C)
// for every class count around the medium and tiled kernels' ranges, against the float64
// reference and the generic set, with the helpers the amd64 kernel tests share: losses within
// API.md's bound, statistics that give the gradient within its bound (through the generic
// gradient), ignored rows (their logits NaN and ±Inf) filled, bad rows NaN, masked classes exactly
// 0, tiny losses, label smoothing; row counts around the kernels' groups, buffers against an
// unmapped page or at an unaligned start.

// Kinds of medium test rows.
const (
	medRandom  = iota // normal logits times a scale
	medTiny           // the target holds the maximum by a wide margin: a tiny or exactly-0 loss
	medTie            // classes tied at the maximum
	medMasked         // most classes −Inf or far below the rest
	medInfTgt         // the target logit −Inf: +Inf loss
	medIgnored        // t < 0, logits NaN, ±Inf (never read)
	medBad            // a valid row with a NaN, a +Inf, or only −Inf: NaN loss
	medKinds
)

// medRow draws one row of c logits and its target; scale multiplies the random logits.
func medRow(r *rand.Rand, c int, scale float64, kind int) ([]float32, int32) {
	z := make([]float32, c)
	for j := range z {
		z[j] = float32(r.NormFloat64() * scale)
	}
	t := int32(r.IntN(c))
	ninf := float32(math.Inf(-1))
	switch kind {
	case medTiny:
		gaps := []float64{16.118, 23, 46.05, 69.1, 80, 87.3, 88.7, 95, 103.3, 200, 1e4, 1e30}
		base := float32(r.NormFloat64() * min(scale, 30))
		gap := gaps[r.IntN(len(gaps))]
		for j := range z {
			z[j] = float32(float64(base) - gap*(1+0.05*r.Float64()))
		}
		z[t] = base
	case medTie:
		m := z[0]
		for _, v := range z {
			m = max(m, v)
		}
		for range 2 + r.IntN(3) {
			z[r.IntN(c)] = m
		}
		if r.IntN(2) == 0 {
			z[t] = m
		}
	case medMasked:
		far := []float32{ninf, -1e4, -1e30, -math.MaxFloat32, -200}
		for j := range z {
			if int32(j) != t && r.IntN(4) != 0 {
				z[j] = far[r.IntN(len(far))]
			}
		}
	case medInfTgt:
		z[t] = ninf
		z[(int(t)+1)%c] = 1
	case medIgnored:
		t = []int32{-1, -100, math.MinInt32}[r.IntN(3)]
		pool := []float32{float32(math.NaN()), float32(math.Inf(1)), ninf}
		for j := range z {
			if r.IntN(2) == 0 {
				z[j] = pool[r.IntN(len(pool))]
			}
		}
	case medBad:
		switch r.IntN(3) {
		case 0:
			z[r.IntN(c)] = float32(math.NaN())
		case 1:
			z[r.IntN(c)] = float32(math.Inf(1))
		default:
			for j := range z {
				z[j] = ninf
			}
		}
	}
	return z, t
}

// medBatch draws n rows: x row-major, the targets, and which rows must come out NaN.
func medBatch(r *rand.Rand, n, c int, scale float64) (x []float32, tg []int32, bad []bool) {
	x = make([]float32, n*c)
	tg = make([]int32, n)
	bad = make([]bool, n)
	weights := []int{medRandom, medRandom, medRandom, medTiny, medTiny, medTie, medMasked, medMasked, medInfTgt, medIgnored, medBad}
	for i := range n {
		kind := weights[r.IntN(len(weights))]
		row, t := medRow(r, c, scale, kind)
		copy(x[i*c:], row)
		tg[i] = t
		bad[i] = kind == medBad
	}
	return x, tg, bad
}

// place returns a copy of src in a buffer of the given kind: 0 ends at an unmapped page, 1 starts
// after one, otherwise ordinary memory starting a elements past a 64-byte boundary.
func medPlace[T float32 | int32](src []T, where, a int) ([]T, func()) {
	switch where {
	case 0:
		b, f := guard.Make[T](len(src))
		copy(b, src)
		return b, f
	case 1:
		b, f := guard.MakeFront[T](len(src))
		copy(b, src)
		return b, f
	}
	buf := make([]T, len(src)+32)
	off := a
	for i := range buf {
		if (uintptrOf(buf[i:])%64)/4 == uintptr(a%16) {
			off = i
			break
		}
	}
	b := buf[off : off+len(src) : off+len(src)]
	copy(b, src)
	return b, func() {}
}

// checkMediumCE runs ce (a ceRows) on the batch with smoothing eps and checks every row.
func checkMediumCE(t *testing.T, what string, ce func(loss []float32, st stats, x []float32, tg []int32, c int, eps, fill float32),
	x []float32, tg []int32, bad []bool, c int, eps float32, where, a int) {
	t.Helper()
	n := len(tg)
	const fill = -7
	xb, f1 := medPlace(x, where, a)
	tb, f2 := medPlace(tg, where, a+3)
	nanBuf := func() ([]float32, func()) {
		b := make([]float32, n)
		for i := range b {
			b[i] = float32(math.NaN())
		}
		return medPlace(b, where, a+5)
	}
	loss, f3 := nanBuf()
	sm, f4 := nanBuf()
	sl, f5 := nanBuf()
	sp, f6 := nanBuf()
	defer func() {
		for _, f := range []func(){f1, f2, f3, f4, f5, f6} {
			f()
		}
	}()
	st := stats{sm, sl, sp}
	ce(loss, st, xb, tb, c, eps, fill)
	// The same without statistics must give the same losses.
	loss2 := make([]float32, n)
	ce(loss2, stats{}, xb, tb, c, eps, fill)

	gen := make([]float32, n)
	genericSet.ceRows(gen, stats{make([]float32, n), make([]float32, n), make([]float32, n)}, x, tg, c, eps, fill)
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs < 5 {
			t.Errorf(what+": "+format, args...)
		}
		errs++
	}
	g := make([]float32, c)
	one := []float32{1}
	for i := range n {
		got := loss[i]
		if math.Float32bits(got) != math.Float32bits(loss2[i]) {
			fail("row %d: loss %v with statistics, %v without", i, got, loss2[i])
		}
		switch {
		case tg[i] < 0:
			if got != fill || sm[i] != 0 || sl[i] != 0 || sp[i] != 0 {
				fail("ignored row %d: loss %v, stats %v %v %v; want %v and zeros", i, got, sm[i], sl[i], sp[i], float32(fill))
			}
			continue
		case bad[i]:
			if got == got {
				fail("bad row %d: loss %v, want NaN", i, got)
			}
			continue
		}
		want := ref.CrossEntropy(x, c, 0, i, tg[i], float64(eps))
		if !ref.CEWithin(got, want) {
			fail("row %d (t=%d): loss %v, want %v (|err| %.3g > %.3g)", i, tg[i], got, want, math.Abs(float64(got)-want), ref.CETol(want))
			continue
		}
		if !ref.BothWithin(got, gen[i], ref.CETol(want)) {
			fail("row %d: loss %v, generic %v", i, got, gen[i])
		}
		// The statistics, through the generic gradient, against the reference gradient.
		row := x[i*c : (i+1)*c]
		genericSet.gradRows(g, row, tg[i:i+1], stats{sm[i : i+1], sl[i : i+1], sp[i : i+1]}, one, c, eps)
		wg := ref.Grad(row, c, 0, 0, tg[i], float64(eps))
		peak := 0.0
		for _, v := range wg {
			peak = max(peak, math.Abs(v))
		}
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		for j, w := range wg {
			if d := math.Abs(float64(g[j]) - w); !(d <= ref.GradTol(w, peak, 1, eps != 0)) {
				fail("row %d (t=%d, stats m %v ls %v pt %v): gradient %d = %v, want %v", i, tg[i], sm[i], sl[i], sp[i], j, g[j], w)
				break
			}
			if eps == 0 && int32(j) != tg[i] && float64(row[j]) < float64(m)-88 && g[j] != 0 {
				fail("row %d: masked class %d (logit %v, max %v) has gradient %v, want exactly 0", i, j, row[j], m, g[j])
				break
			}
		}
	}
}

// checkMediumLSE runs lse (a lseRows) on the batch and checks every row (rows with a non-finite
// maximum must come out NaN).
func checkMediumLSE(t *testing.T, what string, lse func(dst, x []float32, c int), x []float32, n, c, where, a int) {
	t.Helper()
	xb, f1 := medPlace(x, where, a)
	b := make([]float32, n)
	dst, f2 := medPlace(b, where, a+1)
	defer f1()
	defer f2()
	lse(dst, xb, c)
	gen := make([]float32, n)
	genericSet.lseRows(gen, x, c)
	errs := 0
	for i := range n {
		row := x[i*c : (i+1)*c]
		m := float32(math.Inf(-1))
		nan := false
		for _, v := range row {
			m = max(m, v)
			nan = nan || v != v
		}
		got := dst[i]
		if nan || math.IsInf(float64(m), 0) {
			if got == got && errs < 5 {
				t.Errorf("%s: row %d (max %v, NaN %v): lse %v, want NaN", what, i, m, nan, got)
				errs++
			}
			continue
		}
		want := ref.LogSumExp(x, c, 0, i)
		if (!ref.LSEWithin(got, want, float64(m)) || !ref.BothWithin(got, gen[i], ref.LSETol(want, float64(m)))) && errs < 5 {
			t.Errorf("%s: row %d: lse %v, want %v, generic %v", what, i, got, want, gen[i])
			errs++
		}
	}
}

// mediumFullN are the C that get every row count from 0 to 70, and several groups and blocks.
var mediumFullN = []int{1, 3, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33, 40, 41, 47, 48, 63, 64, 81, 100, 128, 255, 256, 257, 300, 511, 512}

func uintptrOf[T any](s []T) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(s))) }

func TestRowsByClass(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	var cs []int
	for c := 1; c <= 72; c++ {
		cs = append(cs, c)
	}
	cs = append(cs, 81, 100, 128, 200, 256, 300, 384, 385, 512, 513)
	ns := []int{1, 3, 4, 5, 15, 16, 17, 33, 67, 130}
	if testing.Short() {
		ns = []int{3, 17, 67}
	}
	for _, ks := range archSets() {
		for _, c := range cs {
			for i, n := range ns {
				x, tg, bad := medBatch(r, n, c, []float64{1, 5, 30, 1e4, 1e30}[r.IntN(5)])
				where, a := (n+c+i)%3, (n*3+c)%16
				for _, eps := range []float32{0, 0.1} {
					checkMediumCE(t, fmt.Sprintf("%s ceRows C=%d N=%d eps=%v place=%d@%d", ks.name, c, n, eps, where, a), unchecked(ks.ceRows), x, tg, bad, c, eps, where, a)
				}
				checkMediumLSE(t, fmt.Sprintf("%s lseRows C=%d N=%d", ks.name, c, n), ks.lseRows, x, n, c, (where+1)%3, a)
			}
		}
	}
}

// unchecked drops ceRows's checks, for the helpers that compare its losses alone.
func unchecked(f func(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) check) func(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
	return func(loss []float32, st stats, x []float32, t []int32, c int, eps, fill float32) {
		f(loss, st, x, t, c, eps, fill)
	}
}
