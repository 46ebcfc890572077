package fuzz

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/guard"
	"github.com/ohem-go/ohem/internal/ref"
)

// FuzzSigmoid: Sigmoid batches (every logit a binary sample) on every kernel set against the
// float64 reference (ref.SigmoidCE, ref.SigmoidGrad, label weights): CrossEntropy, LogSumExp, and
// New, Forward, ForwardBackward (into a separate buffer and in place) of a decoded Config.

// Sigmoid batch flags (the fourth byte).
const (
	sigFlagNaNInf = 1 << 0 // NaN, ±Inf logits (errors in valid samples)
	sigFlagHuge   = 1 << 1 // ±MaxFloat32 and ±1e30 among the specials
	sigFlagBadTgt = 1 << 2 // targets other than 0, 1 and negative
	sigFlagScale  = 3 << 3 // the index of the logits' scale in scales
	sigFlagIgnore = 1 << 5 // many ignored samples
	sigFlagPos    = 1 << 6 // many positives
	sigFlagTies   = 1 << 7 // logits from 3 values (equal losses: ties)
)

// decodeSigmoid decodes a Sigmoid batch of at most maxLogits logits and the labels' count:
//
//	byte 0: bit 0 planar; bits 1-2 images (1 + v%3); bit 3 set Batch.Images explicitly
//	byte 1: labels per row (plane): 1 + v%8
//	byte 2: rows per image (row-major, v%40) or Spatial (planar, 1 + v%32); with bit 4 of byte 0,
//	  a u16 instead: v%3000
//	byte 3: flags (sigFlag* above)
//	per sample: a byte (its target: v%8 = 0 ignored, 1-3 positive (1-5 with sigFlagPos), else
//	  negative; with sigFlagIgnore v%8 < 3 ignored; with sigFlagBadTgt v%32 == 31 the target 2 + v/32),
//	  then the logit (input.logit, or one of 3 values with sigFlagTies).
func decodeSigmoid(in *input, maxLogits int) batch {
	hdr := in.u8()
	planar := hdr&1 != 0
	images := 1 + (hdr>>1&3)%3
	c := 1 + in.u8()%8
	var per int
	switch {
	case hdr&0x10 != 0:
		per = in.u16() % 3000
	case planar:
		per = in.u8() % 32
	default:
		per = in.u8() % 40
	}
	if planar {
		per++
	}
	per = min(per, maxLogits/(images*c))
	if planar && per == 0 {
		per, images, c = 1, 1, 1
	}
	flags := in.u8()
	// The logit decoder's flags: NaN/+Inf and −Inf together, huge values, the scale.
	lf := flags & sigFlagScale << 1
	if flags&sigFlagNaNInf != 0 {
		lf |= flagNaNInf | flagNegInf
	}
	if flags&sigFlagHuge != 0 {
		lf |= flagHuge
	}
	scale := scales[lf&flagScale>>4]
	n := images * per * c
	b := ohem.Batch{Logits: make([]float32, n), Targets: make([]int32, n), Classes: c, Sigmoid: true}
	if planar {
		b.Spatial = per
	}
	if hdr&8 != 0 || !planar && images > 1 {
		b.Images = images
	}
	for i := range n {
		v := in.u8()
		switch m := v % 8; {
		case flags&sigFlagBadTgt != 0 && v%32 == 31:
			b.Targets[i] = int32(2 + v/32)
		case m == 0 || flags&sigFlagIgnore != 0 && m < 3:
			b.Targets[i] = []int32{-1, -100}[v/8%2]
		case m <= 3 || flags&sigFlagPos != 0 && m <= 5:
			b.Targets[i] = 1
		}
		if flags&sigFlagTies != 0 {
			b.Logits[i] = []float32{-2, 0, 3}[in.u8()%3]
		} else {
			b.Logits[i] = in.logit(lf, scale)
		}
	}
	if !planar && b.Images == 0 {
		images = 1
	}
	return batch{b: b, n: n, c: c, images: images}
}

// sigmoidDataErrors returns the sentinels a Sigmoid batch calls for: ErrTarget for a target above
// 1, ErrNonFinite for a valid sample (every sample when all is set) whose logit is not finite.
func sigmoidDataErrors(bt batch, all bool) []error {
	var errs []error
	for _, t := range bt.b.Targets {
		if t > 1 && !all {
			errs = append(errs, ohem.ErrTarget)
			break
		}
	}
	for i, t := range bt.b.Targets {
		if z := bt.b.Logits[i]; (all || t >= 0) && z-z != 0 {
			errs = append(errs, ohem.ErrNonFinite)
			break
		}
	}
	return errs
}

func FuzzSigmoid(f *testing.F) {
	f.Add([]byte{0, 0, 20, 0})
	f.Add([]byte{1, 2, 7, 0x40, 5, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, generic := kernelSets(t)
		in := newInput(data)
		bt := decodeSigmoid(in, 6000)
		cfg := decodeConfig(in, bt.c)
		defer watchdog(fmt.Sprintf("Sigmoid (N=%d C=%d S=%d) %+v", bt.n, bt.c, bt.b.Spatial, cfg))()
		checkSigmoidCE(t, sets, generic, bt)
		for _, set := range sets {
			c := cfg
			if c.Kernel == "" {
				c.Kernel = set.Name()
			}
			checkSigmoidLoss(t, set, c, bt)
		}
	})
}

func checkSigmoidCE(t *testing.T, sets []ohem.KernelSet, generic ohem.KernelSet, bt batch) {
	t.Helper()
	b, free := guardBatch(bt.b)
	defer free()
	allowed := sigmoidDataErrors(bt, false)
	lseAllowed := sigmoidDataErrors(bt, true)
	gen := make([]float32, bt.n)
	generic.CrossEntropy(gen, b)
	for _, set := range sets {
		what := fmt.Sprintf("%s Sigmoid CrossEntropy (C=%d N=%d S=%d)", set.Name(), bt.c, bt.n, b.Spatial)
		dst, freeDst := guard.Float32s(bt.n)
		err := set.CrossEntropy(dst, b)
		if checkErr(t, what, err, allowed) {
			for i, got := range dst {
				if b.Targets[i] < 0 {
					if got != 0 {
						t.Fatalf("%s: ignored sample %d: loss %v, want 0", what, i, got)
					}
					continue
				}
				want := ref.SigmoidCE(b.Logits[i], b.Targets[i], 0)
				if !ref.CEWithin(got, want) || !ref.BothWithin(got, gen[i], ref.CETol(want)) {
					t.Fatalf("%s: sample %d (z %v, y %d): loss %v, want %v, generic %v", what, i, b.Logits[i], b.Targets[i], got, want, gen[i])
				}
			}
		}
		lb := ohem.Batch{Logits: b.Logits, Classes: b.Classes, Spatial: b.Spatial, Images: b.Images, Sigmoid: true}
		err = set.LogSumExp(dst, lb)
		if checkErr(t, what+" LogSumExp", err, lseAllowed) {
			for i, got := range dst {
				z := float64(b.Logits[i])
				if want := ref.Softplus(z); !ref.LSEWithin(got, want, max(z, 0)) || !ref.CEWithin(got, want) {
					t.Fatalf("%s LogSumExp: softplus(%v) = %v, want %v", what, z, got, want)
				}
			}
		}
		freeDst()
	}
}

// checkSigmoidLoss runs New, Forward and ForwardBackward of one set on a Sigmoid batch and checks
// them against the reference.
func checkSigmoidLoss(t *testing.T, set ohem.KernelSet, cfg ohem.Config, bt batch) {
	t.Helper()
	b := bt.b
	c, s := bt.c, b.Spatial
	what := fmt.Sprintf("%s: Sigmoid Loss %+v on N=%d C=%d S=%d Images=%d", set.Name(), cfg, bt.n, c, s, b.Images)
	atNew, either, _ := configErrors(cfg, c, ohem.KernelSets())
	atForward := cfg.ClassWeights != nil && len(cfg.ClassWeights) != c || cfg.NegPosRatio != 0 && cfg.Background > 0
	l := newLoss(t, what, cfg, atNew, either)
	if l == nil {
		return
	}
	allowed := sigmoidDataErrors(bt, false)
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
		if len(l.Losses()) != 0 || len(l.Selected()) != 0 {
			t.Fatalf("%s: after the error, Losses() and Selected() are not empty", what)
		}
		return
	}
	losses := slices.Clone(l.Losses())
	selected := slices.Clone(l.Selected())
	eps := float64(cfg.LabelSmoothing)
	want := ref.SigmoidLosses(b.Logits, b.Targets, eps)
	if len(losses) != bt.n {
		t.Fatalf("%s: %d losses, want %d", what, len(losses), bt.n)
	}
	for i, v := range losses {
		if b.Targets[i] < 0 && v != 0 || !ref.CEWithin(v, want[i]) {
			t.Fatalf("%s: Losses()[%d] = %v, want %v (z %v, target %d)", what, i, v, want[i], b.Logits[i], b.Targets[i])
		}
	}
	rc := refConfig(cfg)
	wantSel, wantThr := ref.SigmoidSelect(rc, losses, b.Targets, c, s, b.Images)
	valid := 0
	for _, tg := range b.Targets {
		if tg >= 0 {
			valid++
		}
	}
	if !slices.Equal(selected, wantSel) || res.Kept != len(wantSel) || res.Valid != valid || !ref.Equal(res.Threshold, wantThr) {
		t.Fatalf("%s: selected %v (Kept %d, Valid %d, Threshold %v), want %v (Kept %d, Valid %d, Threshold %v)",
			what, head(selected), res.Kept, res.Valid, res.Threshold, head(wantSel), len(wantSel), valid, wantThr)
	}
	ev := ref.SigmoidEvaluate(rc, b.Logits, b.Targets, c, s, selected)
	scales := ref.SigmoidScales(rc, b.Targets, c, s, selected)
	keptScale := 0.0
	overflow := false
	for _, i := range selected {
		keptScale += scales[i]
		overflow = overflow || math.IsInf(float64(losses[i]), 1) && scales[i] != 0
	}
	got := float64(res.Loss)
	switch {
	case math.IsNaN(got):
		t.Fatalf("%s: Loss NaN", what)
	case overflow || ev.Loss > math.MaxFloat32:
		if !math.IsInf(got, 1) && math.Abs(got-ev.Loss) > 1e-5*ev.Loss {
			t.Fatalf("%s: Loss %v, want %v", what, got, ev.Loss)
		}
	case !ref.LossWithin(res.Loss, ev.Loss, keptScale) && math.Abs(got-ev.Loss) > 0x1p-149:
		t.Fatalf("%s: Loss %v, want %v (|err| %.3g)", what, got, ev.Loss, math.Abs(got-ev.Loss))
	}

	// ForwardBackward, into a guarded buffer and then in place.
	grad, freeGrad := guard.Float32s(len(b.Logits))
	defer freeGrad()
	for i := range grad {
		grad[i] = nan32
	}
	res2, err := l.ForwardBackward(grad, gb)
	if err != nil || res2 != res || !slices.Equal(bits(l.Losses()), bits(losses)) || !slices.Equal(l.Selected(), selected) {
		t.Fatalf("%s: ForwardBackward %+v (%v), Forward %+v, or its losses or selection differ", what, res2, err, res)
	}
	peak := 0.0
	for _, g := range ev.Grad {
		peak = math.Max(peak, math.Abs(g))
	}
	for i, g := range grad {
		if d := math.Abs(float64(g) - ev.Grad[i]); !(d <= ref.GradTol(ev.Grad[i], peak, scales[i], cfg.LabelSmoothing != 0)) {
			t.Fatalf("%s: grad[%d] = %v, want %v (z %v, target %d, max |grad| %v, w/W %v)", what, i, g, ev.Grad[i], b.Logits[i], b.Targets[i], peak, scales[i])
		}
	}
	copy(gb.Logits, b.Logits)
	res3, err := l.ForwardBackward(gb.Logits, gb)
	if err != nil || res3 != res {
		t.Fatalf("%s: ForwardBackward in place %+v (%v), want %+v", what, res3, err, res)
	}
	for i, g := range gb.Logits {
		if d := math.Abs(float64(g) - ev.Grad[i]); !(d <= ref.GradTol(ev.Grad[i], peak, scales[i], cfg.LabelSmoothing != 0)) {
			t.Fatalf("%s: in place, grad[%d] = %v, want %v", what, i, g, ev.Grad[i])
		}
	}
}
