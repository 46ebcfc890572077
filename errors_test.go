package ohem_test

// Every error of API.md, on every kernel set: the right sentinel, a message that names the
// offending sample, class or field, no panic, and nothing written past a dst or grad of exactly
// the documented length (they end at an unmapped page, so a write past them faults, and the fault
// is turned into a panic that the test reports).

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/guard"
)

var errSentinels = []error{ohem.ErrShape, ohem.ErrTarget, ohem.ErrNonFinite, ohem.ErrConfig, ohem.ErrK}

// An errCase is one bad (or deceptively good) input: call makes the call on a kernel set.
type errCase struct {
	name string
	want error    // the sentinel the error must wrap; nil: the call must succeed
	sub  []string // substrings the message must contain
	call func(set ohem.KernelSet) error
}

// protect runs f with memory faults turned into panics, and recovers any panic.
func protectFault(f func() error) (err error, panicked any) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	return f(), nil
}

// tinyRows is a valid row-major batch: n samples of c classes, targets i % c.
func tinyRows(n, c int) ohem.Batch {
	b := ohem.Batch{Logits: make([]float32, n*c), Targets: make([]int32, n), Classes: c}
	for i := range b.Logits {
		b.Logits[i] = float32(i%7) - 3
	}
	for i := range b.Targets {
		b.Targets[i] = int32(i % c)
	}
	return b
}

// tinyPlanar is a valid planar batch: images × c × s.
func tinyPlanar(images, c, s int) ohem.Batch {
	b := tinyRows(images*s, c)
	b.Spatial = s
	return b
}

// with returns a copy of b (fresh slices) changed by f.
func modified(b ohem.Batch, f func(b *ohem.Batch)) ohem.Batch {
	b.Logits = slices.Clone(b.Logits)
	b.Targets = slices.Clone(b.Targets)
	f(&b)
	return b
}

// setLogit sets sample i's class-j logit of b, in either layout.
func setLogit(b *ohem.Batch, i, j int, v float32) {
	if b.Spatial == 0 {
		b.Logits[i*b.Classes+j] = v
		return
	}
	s := b.Spatial
	b.Logits[(i/s*b.Classes+j)*s+i%s] = v
}

// ceCall: CrossEntropy with logits, targets and a dst of dstLen elements all ending at a guard page.
func ceCall(b ohem.Batch, dstLen int) func(ohem.KernelSet) error {
	return func(set ohem.KernelSet) error {
		gb, free := placedBatch(b, placeTail, 0)
		defer free()
		dst, freeDst := guard.Float32s(dstLen)
		defer freeDst()
		return set.CrossEntropy(dst, gb)
	}
}

// lseCall: LogSumExp, likewise.
func lseCall(b ohem.Batch, dstLen int) func(ohem.KernelSet) error {
	return func(set ohem.KernelSet) error {
		gb, free := placedBatch(b, placeTail, 0)
		defer free()
		dst, freeDst := guard.Float32s(dstLen)
		defer freeDst()
		return set.LogSumExp(dst, gb)
	}
}

func withKernel(cfg ohem.Config, set ohem.KernelSet) ohem.Config {
	if cfg.Kernel == "" {
		cfg.Kernel = set.Name()
	}
	return cfg
}

// newCall: New only.
func newCall(cfg ohem.Config) func(ohem.KernelSet) error {
	return func(set ohem.KernelSet) error {
		l, err := ohem.New(withKernel(cfg, set))
		if err == nil && l == nil {
			return errors.New("New returned a nil Loss and no error")
		}
		if err != nil && l != nil {
			return fmt.Errorf("New returned a Loss with the error %w", err)
		}
		return err
	}
}

// goodAfter checks that a Loss still works on a valid batch after a call that failed.
func goodAfter(l *ohem.Loss, err error) error {
	if err == nil {
		return nil
	}
	b := tinyRows(5, 3)
	if res, err2 := l.Forward(b); err2 != nil || res.Kept == 0 || len(l.Losses()) != 5 {
		return fmt.Errorf("after the error %w, Forward of a valid batch gave %+v, %v", err, res, err2)
	}
	return err
}

// fwdCall: Forward on a batch in guard buffers.
func fwdCall(cfg ohem.Config, b ohem.Batch) func(ohem.KernelSet) error {
	return func(set ohem.KernelSet) error {
		l, err := ohem.New(withKernel(cfg, set))
		if err != nil {
			return err
		}
		gb, free := placedBatch(b, placeTail, 0)
		defer free()
		_, err = l.Forward(gb)
		return goodAfter(l, err)
	}
}

// fbCall: ForwardBackward with a grad of gradLen elements ending at a guard page.
func fbCall(cfg ohem.Config, b ohem.Batch, gradLen int) func(ohem.KernelSet) error {
	return func(set ohem.KernelSet) error {
		l, err := ohem.New(withKernel(cfg, set))
		if err != nil {
			return err
		}
		gb, free := placedBatch(b, placeTail, 0)
		defer free()
		grad, freeGrad := guard.Float32s(gradLen)
		defer freeGrad()
		_, err = l.ForwardBackward(grad, gb)
		return goodAfter(l, err)
	}
}

// lossCases returns the Forward and the ForwardBackward (grad of exactly len(Logits)) cases of
// one input.
func lossCases(name string, cfg ohem.Config, b ohem.Batch, want error, sub ...string) []errCase {
	return []errCase{
		{name + " Forward", want, sub, fwdCall(cfg, b)},
		{name + " ForwardBackward", want, sub, fbCall(cfg, b, len(b.Logits))},
	}
}

// kthCall and topKCall: the selection functions on x in a guard buffer.
func kthCall(x []float32, k int) func(ohem.KernelSet) error {
	return func(set ohem.KernelSet) error {
		gx, free := placeCopy(x, placeTail, 0)
		defer free()
		v, err := set.KthLargest(gx, k)
		if err != nil && v != 0 {
			return fmt.Errorf("KthLargest returned %v with the error %w", v, err)
		}
		return err
	}
}

func topKCall(x []float32, k int) func(ohem.KernelSet) error {
	return func(set ohem.KernelSet) error {
		gx, free := placeCopy(x, placeTail, 0)
		defer free()
		dst := make([]int32, 3, 8)
		top, err := set.TopK(dst, gx, k)
		if err != nil && len(top) != 0 {
			return fmt.Errorf("TopK returned %v with the error %w, want dst[:0]", top, err)
		}
		return err
	}
}

func errorCases() []errCase {
	nan, inf := f32NaN, f32Inf
	rows := tinyRows(6, 3)        // N = 6, C = 3
	planar := tinyPlanar(2, 3, 4) // N = 8, C = 3, S = 4
	cases := []errCase{
		// ErrShape
		{"Classes 0", ohem.ErrShape, []string{"Classes"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Classes = 0 }), 6)},
		{"Classes -2", ohem.ErrShape, []string{"Classes"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Classes = -2 }), 6)},
		{"LogSumExp Classes 0", ohem.ErrShape, []string{"Classes"}, lseCall(modified(rows, func(b *ohem.Batch) { b.Classes = 0 }), 6)},
		{"Spatial -1", ohem.ErrShape, []string{"Spatial"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Spatial = -1 }), 6)},
		{"Images -1", ohem.ErrShape, []string{"Images"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Images = -1 }), 6)},
		{"len(Logits) not a multiple of Classes", ohem.ErrShape, []string{"Logits"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Logits = b.Logits[:17] }), 6)},
		{"LogSumExp len(Logits) not a multiple", ohem.ErrShape, []string{"Logits"}, lseCall(modified(rows, func(b *ohem.Batch) { b.Logits = b.Logits[:17] }), 6)},
		{"row-major Images does not divide N", ohem.ErrShape, []string{"Images"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Images = 4 }), 6)},
		{"planar len(Logits) not a multiple of Classes×Spatial", ohem.ErrShape, []string{"Logits"}, ceCall(modified(planar, func(b *ohem.Batch) { b.Logits = b.Logits[:21] }), 8)},
		{"planar Images mismatch", ohem.ErrShape, []string{"Images"}, ceCall(modified(planar, func(b *ohem.Batch) { b.Images = 3 }), 8)},
		{"planar Images 1 of 2", ohem.ErrShape, []string{"Images"}, ceCall(modified(planar, func(b *ohem.Batch) { b.Images = 1 }), 8)},
		{"Classes×Spatial overflows", ohem.ErrShape, []string{"Classes"}, ceCall(ohem.Batch{Logits: make([]float32, 4), Targets: make([]int32, 1), Classes: 1 << 40, Spatial: 1 << 40}, 1)},
		{"len(Targets) short", ohem.ErrShape, []string{"Targets"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Targets = b.Targets[:5] }), 6)},
		{"len(Targets) long", ohem.ErrShape, []string{"Targets"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Targets = append(b.Targets, 0) }), 6)},
		{"Targets nil", ohem.ErrShape, []string{"Targets"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Targets = nil }), 6)},
		{"planar len(Targets)", ohem.ErrShape, []string{"Targets"}, ceCall(modified(planar, func(b *ohem.Batch) { b.Targets = b.Targets[:4] }), 8)},
		{"CrossEntropy dst short", ohem.ErrShape, []string{"dst"}, ceCall(rows, 5)},
		{"CrossEntropy dst empty", ohem.ErrShape, []string{"dst"}, ceCall(rows, 0)},
		{"CrossEntropy planar dst short", ohem.ErrShape, []string{"dst"}, ceCall(planar, 7)},
		{"LogSumExp dst short", ohem.ErrShape, []string{"dst"}, lseCall(rows, 5)},
		{"ForwardBackward grad short", ohem.ErrShape, []string{"grad"}, fbCall(ohem.Config{}, rows, 17)},
		{"ForwardBackward grad empty", ohem.ErrShape, []string{"grad"}, fbCall(ohem.Config{Keep: 2}, rows, 0)},

		// ErrTarget
		{"target == Classes", ohem.ErrTarget, []string{"sample 3"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Targets[3] = 3 }), 6)},
		{"target MaxInt32", ohem.ErrTarget, []string{"sample 0"}, ceCall(modified(rows, func(b *ohem.Batch) { b.Targets[0] = math.MaxInt32 }), 6)},
		{"planar target out of range", ohem.ErrTarget, []string{"sample 5"}, ceCall(modified(planar, func(b *ohem.Batch) { b.Targets[5] = 7 }), 8)},
		{"C=1 target 1", ohem.ErrTarget, []string{"sample 1"}, ceCall(ohem.Batch{Logits: []float32{1, 2, 3}, Targets: []int32{0, 1, 0}, Classes: 1}, 3)},

		// ErrNonFinite
		{"NaN logit", ohem.ErrNonFinite, []string{"sample 3", "class 2"}, ceCall(modified(rows, func(b *ohem.Batch) { setLogit(b, 3, 2, nan) }), 6)},
		{"+Inf logit", ohem.ErrNonFinite, []string{"sample 1", "class 0"}, ceCall(modified(rows, func(b *ohem.Batch) { setLogit(b, 1, 0, inf) }), 6)},
		{"all -Inf (valid sample)", ohem.ErrNonFinite, []string{"sample 4"}, ceCall(modified(rows, func(b *ohem.Batch) {
			for j := range 3 {
				setLogit(b, 4, j, f32NegInf)
			}
		}), 6)},
		{"planar NaN logit", ohem.ErrNonFinite, []string{"sample 5", "class 1"}, ceCall(modified(planar, func(b *ohem.Batch) { setLogit(b, 5, 1, nan) }), 8)},
		{"planar all -Inf", ohem.ErrNonFinite, []string{"sample 6"}, ceCall(modified(planar, func(b *ohem.Batch) {
			for j := range 3 {
				setLogit(b, 6, j, f32NegInf)
			}
		}), 8)},
		{"C=2 NaN", ohem.ErrNonFinite, []string{"sample 2", "class 1"}, ceCall(modified(tinyRows(4, 2), func(b *ohem.Batch) { setLogit(b, 2, 1, nan) }), 4)},
		{"C=2 +Inf", ohem.ErrNonFinite, []string{"sample 1", "class 0"}, ceCall(modified(tinyRows(4, 2), func(b *ohem.Batch) { setLogit(b, 1, 0, inf) }), 4)},
		{"C=2 all -Inf", ohem.ErrNonFinite, []string{"sample 3"}, ceCall(modified(tinyRows(4, 2), func(b *ohem.Batch) { setLogit(b, 3, 0, f32NegInf); setLogit(b, 3, 1, f32NegInf) }), 4)},
		{"C=1 -Inf", ohem.ErrNonFinite, []string{"sample 2"}, ceCall(ohem.Batch{Logits: []float32{1, 2, f32NegInf}, Targets: []int32{0, 0, 0}, Classes: 1}, 3)},
		{"LogSumExp NaN (targets not read)", ohem.ErrNonFinite, []string{"sample 2", "class 0"}, lseCall(modified(rows, func(b *ohem.Batch) { setLogit(b, 2, 0, nan); b.Targets[2] = -1 }), 6)},
		{"LogSumExp all -Inf", ohem.ErrNonFinite, []string{"sample 0"}, lseCall(modified(rows, func(b *ohem.Batch) {
			for j := range 3 {
				setLogit(b, 0, j, f32NegInf)
			}
			b.Targets = nil
		}), 6)},
		{"LogSumExp planar +Inf", ohem.ErrNonFinite, []string{"sample 7", "class 2"}, lseCall(modified(planar, func(b *ohem.Batch) { setLogit(b, 7, 2, inf) }), 8)},

		// Not errors: the logits of ignored samples are not checked; a −Inf target logit is a +Inf loss.
		{"NaN, +Inf and all -Inf in ignored samples", nil, nil, ceCall(modified(rows, func(b *ohem.Batch) {
			setLogit(b, 1, 1, nan)
			setLogit(b, 2, 0, inf)
			for j := range 3 {
				setLogit(b, 5, j, f32NegInf)
			}
			b.Targets[1], b.Targets[2], b.Targets[5] = -1, -100, math.MinInt32
		}), 6)},
		{"planar NaN in an ignored sample", nil, nil, ceCall(modified(planar, func(b *ohem.Batch) { setLogit(b, 6, 2, nan); b.Targets[6] = -1 }), 8)},
		{"-Inf target logit", nil, nil, ceCall(modified(rows, func(b *ohem.Batch) { setLogit(b, 2, 2, f32NegInf) }), 6)},
		{"empty batch", nil, nil, ceCall(ohem.Batch{Classes: 3}, 0)},

		// ErrConfig at New
		{"two rules", ohem.ErrConfig, []string{"KeepRatio"}, newCall(ohem.Config{Keep: 3, KeepRatio: 0.5})},
		{"two rules ProbThreshold NegPosRatio", ohem.ErrConfig, []string{"NegPosRatio"}, newCall(ohem.Config{ProbThreshold: 0.7, NegPosRatio: 3})},
		{"four rules", ohem.ErrConfig, []string{"ProbThreshold"}, newCall(ohem.Config{Keep: 1, KeepRatio: 0.5, ProbThreshold: 0.7, NegPosRatio: 3})},
		{"Keep -1", ohem.ErrConfig, []string{"Keep"}, newCall(ohem.Config{Keep: -1})},
		{"MinKept -1", ohem.ErrConfig, []string{"MinKept"}, newCall(ohem.Config{ProbThreshold: 0.7, MinKept: -1})},
		{"Workers -1", ohem.ErrConfig, []string{"Workers"}, newCall(ohem.Config{Workers: -1})},
		{"KeepRatio 1.5", ohem.ErrConfig, []string{"KeepRatio"}, newCall(ohem.Config{KeepRatio: 1.5})},
		{"KeepRatio -0.25", ohem.ErrConfig, []string{"KeepRatio"}, newCall(ohem.Config{KeepRatio: -0.25})},
		{"KeepRatio NaN", ohem.ErrConfig, []string{"KeepRatio"}, newCall(ohem.Config{KeepRatio: math.NaN()})},
		{"KeepRatio +Inf", ohem.ErrConfig, []string{"KeepRatio"}, newCall(ohem.Config{KeepRatio: math.Inf(1)})},
		{"ProbThreshold 1.5", ohem.ErrConfig, []string{"ProbThreshold"}, newCall(ohem.Config{ProbThreshold: 1.5})},
		{"ProbThreshold -0.5", ohem.ErrConfig, []string{"ProbThreshold"}, newCall(ohem.Config{ProbThreshold: -0.5})},
		{"ProbThreshold NaN", ohem.ErrConfig, []string{"ProbThreshold"}, newCall(ohem.Config{ProbThreshold: f32NaN})},
		{"NegPosRatio -1", ohem.ErrConfig, []string{"NegPosRatio"}, newCall(ohem.Config{NegPosRatio: -1})},
		{"NegPosRatio NaN", ohem.ErrConfig, []string{"NegPosRatio"}, newCall(ohem.Config{NegPosRatio: math.NaN()})},
		{"NegPosRatio +Inf", ohem.ErrConfig, []string{"NegPosRatio"}, newCall(ohem.Config{NegPosRatio: math.Inf(1)})},
		{"MinKept with Keep", ohem.ErrConfig, []string{"MinKept"}, newCall(ohem.Config{Keep: 3, MinKept: 5})},
		{"MinKept with KeepRatio", ohem.ErrConfig, []string{"MinKept"}, newCall(ohem.Config{KeepRatio: 0.5, MinKept: 5})},
		{"MinKept without a rule", ohem.ErrConfig, []string{"MinKept"}, newCall(ohem.Config{MinKept: 5})},
		{"ProbThreshold with LabelSmoothing", ohem.ErrConfig, []string{"LabelSmoothing"}, newCall(ohem.Config{ProbThreshold: 0.7, LabelSmoothing: 0.1})},
		{"LabelSmoothing 1", ohem.ErrConfig, []string{"LabelSmoothing"}, newCall(ohem.Config{LabelSmoothing: 1})},
		{"LabelSmoothing 1.5", ohem.ErrConfig, []string{"LabelSmoothing"}, newCall(ohem.Config{LabelSmoothing: 1.5})},
		{"LabelSmoothing -0.1", ohem.ErrConfig, []string{"LabelSmoothing"}, newCall(ohem.Config{LabelSmoothing: -0.1})},
		{"LabelSmoothing NaN", ohem.ErrConfig, []string{"LabelSmoothing"}, newCall(ohem.Config{LabelSmoothing: f32NaN})},
		{"ClassWeights negative", ohem.ErrConfig, []string{"ClassWeights[1]"}, newCall(ohem.Config{ClassWeights: []float32{1, -1, 1}})},
		{"ClassWeights NaN", ohem.ErrConfig, []string{"ClassWeights[2]"}, newCall(ohem.Config{ClassWeights: []float32{1, 1, nan}})},
		{"ClassWeights +Inf", ohem.ErrConfig, []string{"ClassWeights[0]"}, newCall(ohem.Config{ClassWeights: []float32{inf, 1, 1}})},
		{"ClassWeights -Inf", ohem.ErrConfig, []string{"ClassWeights[1]"}, newCall(ohem.Config{Keep: 2, ClassWeights: []float32{1, f32NegInf}})},
		{"Background -1 with NegPosRatio", ohem.ErrConfig, []string{"Background"}, newCall(ohem.Config{NegPosRatio: 3, Background: -1})},
		{"unknown Kernel", ohem.ErrConfig, []string{"sse9"}, newCall(ohem.Config{Kernel: "sse9"})},
		{"Reduction 3", ohem.ErrConfig, []string{"Reduction"}, newCall(ohem.Config{Reduction: 3})},
		{"Reduction -1", ohem.ErrConfig, []string{"Reduction"}, newCall(ohem.Config{Reduction: -1})},
		{"LookupKernelSet unknown", ohem.ErrConfig, []string{"sse9"}, func(ohem.KernelSet) error {
			_, err := ohem.LookupKernelSet("sse9")
			return err
		}},
		// Valid configs at the edges of their ranges.
		{"edges of the ranges", nil, nil, newCall(ohem.Config{KeepRatio: 1, LabelSmoothing: 0.999, ClassWeights: []float32{0, f32NegZero, math.MaxFloat32}, Reduction: ohem.Sum, Workers: 64})},
		{"ProbThreshold 1 with MinKept", nil, nil, newCall(ohem.Config{ProbThreshold: 1, MinKept: 1 << 40})},

		// ErrK
		{"KthLargest k=0", ohem.ErrK, []string{"k"}, kthCall([]float32{1, 2, 3}, 0)},
		{"KthLargest k=-1", ohem.ErrK, []string{"k"}, kthCall([]float32{1, 2, 3}, -1)},
		{"KthLargest k>len", ohem.ErrK, []string{"k"}, kthCall([]float32{1, 2, 3}, 4)},
		{"KthLargest empty x", ohem.ErrK, []string{"k"}, kthCall(nil, 1)},
		{"KthLargest empty x k=0", ohem.ErrK, []string{"k"}, kthCall([]float32{}, 0)},
		{"TopK k=0", ohem.ErrK, []string{"k"}, topKCall([]float32{1, 2, 3}, 0)},
		{"TopK k>len", ohem.ErrK, []string{"k"}, topKCall([]float32{1, 2, 3}, 4)},
		{"TopK k>len large", ohem.ErrK, []string{"k"}, topKCall(make([]float32, 1000), 1001)},
		{"TopK empty x", ohem.ErrK, []string{"k"}, topKCall(nil, 1)},
	}

	// The same through Forward and ForwardBackward.
	add := func(cs []errCase) { cases = append(cases, cs...) }
	add(lossCases("Classes 0", ohem.Config{}, modified(rows, func(b *ohem.Batch) { b.Classes = 0 }), ohem.ErrShape, "Classes"))
	add(lossCases("planar Images mismatch", ohem.Config{Keep: 1}, modified(planar, func(b *ohem.Batch) { b.Images = 3 }), ohem.ErrShape, "Images"))
	add(lossCases("len(Targets)", ohem.Config{Keep: 1}, modified(rows, func(b *ohem.Batch) { b.Targets = b.Targets[:5] }), ohem.ErrShape, "Targets"))
	add(lossCases("target == Classes", ohem.Config{Keep: 2}, modified(rows, func(b *ohem.Batch) { b.Targets[2] = 3 }), ohem.ErrTarget, "sample 2"))
	add(lossCases("planar target out of range", ohem.Config{KeepRatio: 0.5, PerImage: true}, modified(planar, func(b *ohem.Batch) { b.Targets[6] = 4 }), ohem.ErrTarget, "sample 6"))
	add(lossCases("NaN logit", ohem.Config{}, modified(rows, func(b *ohem.Batch) { setLogit(b, 1, 1, nan) }), ohem.ErrNonFinite, "sample 1", "class 1"))
	add(lossCases("+Inf logit smoothed", ohem.Config{LabelSmoothing: 0.1}, modified(rows, func(b *ohem.Batch) { setLogit(b, 4, 2, inf) }), ohem.ErrNonFinite, "sample 4", "class 2"))
	add(lossCases("planar all -Inf", ohem.Config{Keep: 3}, modified(planar, func(b *ohem.Batch) {
		for j := range 3 {
			setLogit(b, 3, j, f32NegInf)
		}
	}), ohem.ErrNonFinite, "sample 3"))
	add(lossCases("NaN in an ignored sample", ohem.Config{Keep: 2}, modified(rows, func(b *ohem.Batch) { setLogit(b, 1, 1, nan); b.Targets[1] = -1 }), nil))
	add(lossCases("planar NaN and all -Inf in ignored samples", ohem.Config{ProbThreshold: 0.5, MinKept: 2}, modified(planar, func(b *ohem.Batch) {
		setLogit(b, 0, 0, nan)
		for j := range 3 {
			setLogit(b, 7, j, f32NegInf)
		}
		b.Targets[0], b.Targets[7] = -1, -100
	}), nil))
	add(lossCases("ClassWeights too short", ohem.Config{ClassWeights: []float32{1, 2}}, rows, ohem.ErrConfig, "ClassWeights"))
	add(lossCases("ClassWeights too long", ohem.Config{Keep: 2, ClassWeights: []float32{1, 2, 3, 4}}, rows, ohem.ErrConfig, "ClassWeights"))
	add(lossCases("Background == Classes", ohem.Config{NegPosRatio: 3, Background: 3}, rows, ohem.ErrConfig, "Background"))
	add(lossCases("Background out of range planar", ohem.Config{NegPosRatio: 1, Background: 100, PerImage: true}, planar, ohem.ErrConfig, "Background"))
	return cases
}

func TestErrors(t *testing.T) {
	sets, _ := kernelSets(t)
	cases := errorCases()
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	seen := map[error]bool{}
	for _, c := range cases {
		seen[c.want] = true
		for _, set := range sets {
			err, p := protectFault(func() error { return c.call(set) })
			what := fmt.Sprintf("%s [%s]", c.name, set.Name())
			switch {
			case p != nil:
				t.Errorf("%s: panicked (a fault here is a write or read past a guarded buffer): %v", what, p)
			case c.want == nil:
				if err != nil {
					t.Errorf("%s: unexpected error %v", what, err)
				}
			case !errors.Is(err, c.want):
				t.Errorf("%s: error %v, want one wrapping %q", what, err, c.want)
			default:
				for _, s := range errSentinels {
					if s != c.want && errors.Is(err, s) {
						t.Errorf("%s: error %v also wraps %q", what, err, s)
					}
				}
				for _, sub := range c.sub {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("%s: error %q does not name %q", what, err, sub)
					}
				}
			}
		}
	}
	for _, s := range errSentinels {
		if !seen[s] {
			t.Errorf("no case for %v", s)
		}
	}
}

// TestIgnoredSamplesAreZero checks the values around the ignored garbage of the error table: the
// ignored samples' losses are 0, the others finite or, for a −Inf target logit, +Inf.
func TestIgnoredSamplesAreZero(t *testing.T) {
	sets, _ := kernelSets(t)
	b := modified(tinyRows(6, 3), func(b *ohem.Batch) {
		setLogit(b, 1, 1, f32NaN)
		setLogit(b, 2, 0, f32Inf)
		for j := range 3 {
			setLogit(b, 5, j, f32NegInf)
		}
		setLogit(b, 3, 0, f32NegInf) // target 0: +Inf loss
		b.Targets[1], b.Targets[2], b.Targets[5] = -1, -100, math.MinInt32
	})
	for _, set := range sets {
		dst := make([]float32, 6)
		if err := set.CrossEntropy(dst, b); err != nil {
			t.Fatalf("%s: %v", set.Name(), err)
		}
		if dst[1] != 0 || dst[2] != 0 || dst[5] != 0 || dst[3] != f32Inf || !(dst[0] > 0 && dst[0] < 10) || !(dst[4] > 0 && dst[4] < 10) {
			t.Errorf("%s: losses %v, want [finite 0 0 +Inf finite 0]", set.Name(), dst)
		}
		l, err := ohem.New(ohem.Config{Kernel: set.Name()})
		if err != nil {
			t.Fatal(err)
		}
		grad, free := guard.Float32s(len(b.Logits))
		res, err := l.ForwardBackward(grad, b)
		if err != nil || res.Valid != 3 || res.Kept != 3 || res.Loss != f32Inf {
			t.Errorf("%s: ForwardBackward = %+v, %v; want Valid 3, Kept 3, Loss +Inf", set.Name(), res, err)
		}
		for i := range 3 {
			for _, s := range []int{1, 2, 5} {
				if g := grad[s*3+i]; g != 0 {
					t.Errorf("%s: grad of ignored sample %d = %v, want 0", set.Name(), s, g)
				}
			}
		}
		free()
	}
}

// TestEmptyClassWeights is a regression test. API.md says ClassWeights is "nil, or len Classes
// (checked at Forward)". An empty but non-nil ClassWeights is neither, but New used to copy it
// with append([]float32(nil), w...), which turned it into nil, so Forward accepted it as "no
// weights". Found by this test; fixed upstream.
func TestEmptyClassWeights(t *testing.T) {
	sets, _ := kernelSets(t)
	for _, set := range sets {
		l, err := ohem.New(ohem.Config{ClassWeights: []float32{}, Kernel: set.Name()})
		if err == nil {
			_, err = l.Forward(tinyRows(4, 3))
		}
		if !errors.Is(err, ohem.ErrConfig) || !strings.Contains(err.Error(), "ClassWeights") {
			t.Errorf("%s: ClassWeights []float32{} (not nil, len 0 != Classes 3): error %v, want ErrConfig naming ClassWeights", set.Name(), err)
		}
	}
}
