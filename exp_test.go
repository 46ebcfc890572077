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

// TestExp32Exhaustive checks exp32 against math.Exp on every float32 in [−87.3, 0].
func TestExp32Exhaustive(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("exhaustive: about 1.1e9 evaluations")
	}
	lo := math.Float32bits(-0.0)
	hi := math.Float32bits(-87.3)
	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	worst, worstX := 0.0, float32(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bad, badX := 0.0, float32(0)
			for b := lo + uint32(w); b <= hi; b += uint32(workers) {
				x := math.Float32frombits(b)
				if e := ulpError(exp32(x), math.Exp(float64(x))); e > bad {
					bad, badX = e, x
				}
			}
			mu.Lock()
			if bad > worst {
				worst, worstX = bad, badX
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("exp32: worst error %.3f ulp at x = %v", worst, worstX)
	if worst > 2 {
		t.Fatalf("exp32(%v) is %.3f ulp from exp, want <= 2", worstX, worst)
	}
}

// TestExp32Edges checks the underflow cut-off, −Inf and the float32 values around it.
func TestExp32Edges(t *testing.T) {
	if got := exp32(float32(math.Inf(-1))); got != 0 {
		t.Errorf("exp32(-Inf) = %v, want 0", got)
	}
	for _, x := range []float32{-87.34, -88, -100, -1e30, -math.MaxFloat32} {
		if got := exp32(x); got < 0 || got > math.SmallestNonzeroFloat32*(1<<23) {
			t.Errorf("exp32(%v) = %v, want 0 or a subnormal", x, got)
		}
	}
	if got := exp32(0); got != 1 {
		t.Errorf("exp32(0) = %v, want 1", got)
	}
	// Spot checks across the range, every build (the exhaustive test skips with -short).
	for b := math.Float32bits(-0.0); b <= math.Float32bits(-87.3); b += 9973 {
		x := math.Float32frombits(b)
		if e := ulpError(exp32(x), math.Exp(float64(x))); e > 2 {
			t.Fatalf("exp32(%v) is %.3f ulp from exp", x, e)
		}
	}
}
