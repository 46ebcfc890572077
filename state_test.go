package ohem_test

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/ref"
)

// TestZeroLoss: the zero Loss works as New(Config{}) does: plain mean cross-entropy.
func TestZeroLoss(t *testing.T) {
	b := makeBatch(rand.New(rand.NewPCG(10, 1)), batchSpec{n: 300, c: 7, ignore: 0.1})
	var zero ohem.Loss
	grad := make([]float32, len(b.Logits))
	res, err := zero.ForwardBackward(grad, b)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := ohem.New(ohem.Config{})
	want := make([]float32, len(b.Logits))
	wres, err := l.ForwardBackward(want, b)
	if err != nil || res != wres || !bitsEqual(grad, want) || !slices.Equal(zero.Selected(), l.Selected()) {
		t.Fatalf("zero Loss: %+v, New(Config{}): %+v (%v)", res, wres, err)
	}
	ev := ref.Loss(ref.Config{}, b.Logits, b.Targets, b.Classes, 0, 0)
	if !ref.LossWithin(res.Loss, ev.Loss, 1) || res.Kept != ev.Valid {
		t.Fatalf("zero Loss: %+v, want Loss %v and every one of %d valid samples kept", res, ev.Loss, ev.Valid)
	}
	if err := zero.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestClose: Close ends the worker goroutines of a Loss and waits for them; the Loss stays usable,
// with the same bits, and Close may be called again, on any Loss.
func TestClose(t *testing.T) {
	b := makeBatch(rand.New(rand.NewPCG(10, 2)), batchSpec{n: 100000, c: 4})
	base := settledGoroutines()
	l, err := ohem.New(ohem.Config{Workers: 4, KeepRatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	first, err := l.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine(); n <= base {
		t.Fatalf("%d goroutines with a 4-worker Loss, %d before it", n, base)
	}
	for round := range 2 {
		l.Close()
		l.Close()
		settled := false
		for range 100 { // other tests' goroutines may still be ending
			if runtime.NumGoroutine() <= base {
				settled = true
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !settled {
			t.Fatalf("round %d: %d goroutines after Close, %d before the Loss", round, runtime.NumGoroutine(), base)
		}
		again, err := l.Forward(b)
		if err != nil || again != first {
			t.Fatalf("round %d: after Close %+v (%v), before %+v", round, again, err, first)
		}
	}
	l.Close()
	one, _ := ohem.New(ohem.Config{})
	one.Close()
}

// settledGoroutines collects garbage until the number of goroutines stops falling (the workers of
// earlier tests' unreachable Losses end in their cleanups) and returns it.
func settledGoroutines() int {
	n, same := runtime.NumGoroutine(), 0
	for range 300 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m < n {
			n, same = m, 0
			continue
		}
		if same++; same == 5 {
			break
		}
	}
	return n
}
