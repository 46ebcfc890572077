package ohem

import (
	"math"
	"runtime"
	"sync"
	"testing"
)

// ulpError is |got − want| in units of the float32 ulp at want.
func ulpError(got float32, want float64) float64 {
	w := float32(want)
	ulp := float64(math.Nextafter32(w, float32(math.Inf(1)))) - float64(w)
	if w == 0 || ulp == 0 {
		ulp = float64(math.SmallestNonzeroFloat32)
	}
	return math.Abs(float64(got)-want) / ulp
}

// sweep applies every usable kernel set's f to the float32s with bits in [lo, hi] (stepping by
// step), in chunks over all CPUs, and returns per set the worst error as errf measures it.
func sweep(lo, hi, step uint32, f func(*kernelSet) func(dst, x []float32), errf func(x, got float32) float64) (worst []float64, at []float32) {
	const chunk = 1 << 14
	worst, at = make([]float64, len(usable)), make([]float32, len(usable))
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x, got := make([]float32, chunk), make([]float32, chunk)
			bad, badAt := make([]float64, len(usable)), make([]float32, len(usable))
			for start := uint64(lo) + uint64(w)*chunk*uint64(step); start <= uint64(hi); start += uint64(workers) * chunk * uint64(step) {
				n := 0
				for b := start; b <= uint64(hi) && n < chunk; b += uint64(step) {
					x[n] = math.Float32frombits(uint32(b))
					n++
				}
				for s, ks := range usable {
					f(ks)(got[:n], x[:n])
					for i, v := range got[:n] {
						if e := errf(x[i], v); !(e <= bad[s]) {
							bad[s], badAt[s] = e, x[i]
						}
					}
				}
			}
			mu.Lock()
			for s := range usable {
				if !(bad[s] <= worst[s]) {
					worst[s], at[s] = bad[s], badAt[s]
				}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return worst, at
}

// expCutoff is the least float32 x whose e^x is a normal float32: below it every set's exp is
// exactly 0 (API.md, Accuracy), computed here from math.Exp rather than taken from the kernels.
var expCutoff = func() float32 {
	c := float32(math.Log(0x1p-126))
	for math.Exp(float64(c)) < 0x1p-126 {
		c = math.Nextafter32(c, 0)
	}
	for x := math.Nextafter32(c, float32(math.Inf(-1))); math.Exp(float64(x)) >= 0x1p-126; x = math.Nextafter32(x, float32(math.Inf(-1))) {
		c = x
	}
	return c
}()

// expErr is exp's error in ulp at x: above the cut-off against math.Exp, below it +Inf unless the
// result is exactly 0.
func expErr(x, got float32) float64 {
	if x < expCutoff {
		if got == 0 && !math.Signbit(float64(got)) {
			return 0
		}
		return math.Inf(1)
	}
	return ulpError(got, math.Exp(float64(x)))
}

// expRanges are the float32 bit ranges the exp tests sweep: [−87.3, 0] against math.Exp, and
// (−87.3, −Inf], where the cut-off lies and everything below it must be exactly 0.
var expRanges = [][2]uint32{
	{math.Float32bits(-0.0), math.Float32bits(-87.3)},
	{math.Float32bits(-87.3) + 1, math.Float32bits(float32(math.Inf(-1)))},
}

// TestExpExhaustive checks every kernel set's exp against math.Exp on every float32 in [−87.3, 0],
// and that it is exactly 0 on every float32 below the cut-off, −Inf included, alike on every set.
func TestExpExhaustive(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("exhaustive: about 2.1e9 evaluations per kernel set")
	}
	for _, r := range expRanges {
		worst, at := sweep(r[0], r[1], 1, func(ks *kernelSet) func(dst, x []float32) { return ks.expf }, expErr)
		for s, ks := range usable {
			t.Logf("%s exp on [%v, %v]: worst error %.3f ulp at x = %v", ks.name, math.Float32frombits(r[0]), math.Float32frombits(r[1]), worst[s], at[s])
			if !(worst[s] <= 2) {
				t.Errorf("%s: exp(%v) is %.3f ulp from exp, want <= 2 (0 below %v)", ks.name, at[s], worst[s], expCutoff)
			}
		}
	}
}

// TestExpSampled checks a spread of both ranges on every build (the exhaustive test skips with
// -short), and the edges: 0, either side of the cut-off, −Inf and NaN.
func TestExpSampled(t *testing.T) {
	for _, r := range expRanges {
		worst, at := sweep(r[0], r[1], 997, func(ks *kernelSet) func(dst, x []float32) { return ks.expf }, expErr)
		for s, ks := range usable {
			if !(worst[s] <= 2) {
				t.Errorf("%s: exp(%v) is %.3f ulp from exp, want <= 2 (0 below %v)", ks.name, at[s], worst[s], expCutoff)
			}
		}
	}
	below := math.Nextafter32(expCutoff, float32(math.Inf(-1)))
	for _, ks := range usable {
		// A vector's worth of each, so every lane of every tier sees the edge.
		x := []float32{0, expCutoff, below, -87.34, -88, -100, -103.5, -104, -110, -1e30, -math.MaxFloat32, float32(math.Inf(-1)), float32(math.NaN())}
		in := make([]float32, 16*len(x))
		for i := range in {
			in[i] = x[(i+i/len(x))%len(x)]
		}
		got := make([]float32, len(in))
		ks.expf(got, in)
		for i, v := range got {
			switch x := in[i]; {
			case x != x:
				if v == v {
					t.Errorf("%s: exp(NaN) = %v, want NaN", ks.name, v)
				}
			case x < expCutoff:
				if v != 0 || math.Signbit(float64(v)) {
					t.Errorf("%s: exp(%v) = %v, want exactly 0 below the cut-off %v", ks.name, x, v, expCutoff)
				}
			case expErr(x, v) > 2:
				t.Errorf("%s: exp(%v) = %v, want %v", ks.name, x, v, math.Exp(float64(x)))
			}
		}
	}
}

// TestLog1p checks every kernel set's log1p against math.Log1p on a dense sample of the float32s
// >= 0 (every 61st), and at 0, +Inf and NaN.
func TestLog1p(t *testing.T) {
	step := uint32(61)
	if testing.Short() || raceEnabled {
		step = 6007
	}
	worst, at := sweep(0, math.Float32bits(math.MaxFloat32), step, func(ks *kernelSet) func(dst, x []float32) { return ks.log1pf },
		func(x, got float32) float64 { return ulpError(got, math.Log1p(float64(x))) })
	for s, ks := range usable {
		t.Logf("%s log1p: worst error %.3f ulp at x = %v", ks.name, worst[s], at[s])
		if !(worst[s] <= 4) {
			t.Errorf("%s: log1p(%v) is %.3f ulp from log1p, want <= 4", ks.name, at[s], worst[s])
		}
		x := []float32{0, float32(math.Inf(1)), float32(math.NaN()), 1e-40}
		got := make([]float32, len(x))
		ks.log1pf(got, x)
		if got[0] != 0 || !math.IsInf(float64(got[1]), 1) || got[2] == got[2] || got[3] != 1e-40 {
			t.Errorf("%s: log1p(0, +Inf, NaN, 1e-40) = %v", ks.name, got)
		}
	}
}

// log1pUnitErr is log1pUnit's error in ulp at x, against math.Log1p.
func log1pUnitErr(x, got float32) float64 { return ulpError(got, math.Log1p(float64(x))) }

// log1pUnitBound is the bound of the log1p of the Sigmoid kernels on [0, 1], in ulp: the worst
// error measured over every float32 there is 1.52 (asm/exp.go's log1pUnitQ).
const log1pUnitBound = 2

// TestLog1pUnitExhaustive checks every kernel set's log1pUnit against math.Log1p on every float32
// in [0, 1], subnormals included.
func TestLog1pUnitExhaustive(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("exhaustive: about 1.07e9 evaluations per kernel set")
	}
	worst, at := sweep(0, math.Float32bits(1), 1, func(ks *kernelSet) func(dst, x []float32) { return ks.log1pUnitf }, log1pUnitErr)
	for s, ks := range usable {
		t.Logf("%s log1pUnit on [0, 1]: worst error %.3f ulp at x = %v", ks.name, worst[s], at[s])
		if !(worst[s] <= log1pUnitBound) {
			t.Errorf("%s: log1pUnit(%v) is %.3f ulp from log1p, want <= %d", ks.name, at[s], worst[s], log1pUnitBound)
		}
	}
}

// TestLog1pUnitSampled checks a spread of [0, 1] on every build (the exhaustive test skips with
// -short), and the edges: 0, tiny and subnormal arguments (whose log1p is the argument
// itself), 1 and NaN.
func TestLog1pUnitSampled(t *testing.T) {
	worst, at := sweep(0, math.Float32bits(1), 1009, func(ks *kernelSet) func(dst, x []float32) { return ks.log1pUnitf }, log1pUnitErr)
	for s, ks := range usable {
		if !(worst[s] <= log1pUnitBound) {
			t.Errorf("%s: log1pUnit(%v) is %.3f ulp from log1p, want <= %d", ks.name, at[s], worst[s], log1pUnitBound)
		}
	}
	x := []float32{0, 1e-30, 1e-40, math.SmallestNonzeroFloat32, 0x1p-126, 1e-8, 0x1p-24, 0.5, math.Nextafter32(1, 0), 1, float32(math.NaN())}
	for _, ks := range usable {
		// A vector's worth of each, so every lane of every tier sees the edge.
		in := make([]float32, 16*len(x))
		for i := range in {
			in[i] = x[(i+i/len(x))%len(x)]
		}
		got := make([]float32, len(in))
		ks.log1pUnitf(got, in)
		for i, v := range got {
			switch x := in[i]; {
			case x != x:
				if v == v {
					t.Errorf("%s: log1pUnit(NaN) = %v, want NaN", ks.name, v)
				}
			case x < 1e-20:
				if v != x || math.Signbit(float64(v)) {
					t.Errorf("%s: log1pUnit(%v) = %v, want %v", ks.name, x, v, x)
				}
			case log1pUnitErr(x, v) > log1pUnitBound:
				t.Errorf("%s: log1pUnit(%v) = %v, want %v", ks.name, x, v, math.Log1p(float64(x)))
			}
		}
	}
}
