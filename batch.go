package ohem

import (
	"fmt"
	"math"
)

// shape is a validated Batch's geometry.
type shape struct {
	n      int  // samples
	c      int  // classes (labels per row or plane of a Sigmoid batch)
	s      int  // positions per image (planar), 0 for row-major
	images int  // groups for per-image mining, >= 1
	per    int  // samples per image: n / images
	sig    bool // Sigmoid: every logit is a sample
}

func (sh shape) planar() bool { return sh.s > 0 }

// logits is the number of logits of the batch.
func (sh shape) logits() int {
	if sh.sig {
		return sh.n
	}
	return sh.n * sh.c
}

// class returns the class whose ClassWeights weighs sample i, whose target is t: the target, or
// for a Sigmoid batch the sample's label.
func (sh shape) class(i int, t int32) int32 {
	switch {
	case !sh.sig:
		return t
	case sh.planar():
		return int32(i / sh.s % sh.c)
	}
	return int32(i % sh.c)
}

// shape validates the batch's lengths; with targets set it also checks len(Targets).
func (b *Batch) shape(targets bool) (shape, error) {
	sh := shape{c: b.Classes, s: b.Spatial, sig: b.Sigmoid}
	switch {
	case b.Classes < 1:
		return sh, fmt.Errorf("%w: Classes = %d, want >= 1", ErrShape, b.Classes)
	case b.Spatial < 0:
		return sh, fmt.Errorf("%w: Spatial = %d, want >= 0", ErrShape, b.Spatial)
	case b.Images < 0:
		return sh, fmt.Errorf("%w: Images = %d, want >= 0", ErrShape, b.Images)
	}
	if b.Spatial == 0 {
		if len(b.Logits)%b.Classes != 0 {
			return sh, fmt.Errorf("%w: len(Logits) = %d is not a multiple of Classes = %d", ErrShape, len(b.Logits), b.Classes)
		}
		sh.n = len(b.Logits) / b.Classes
		sh.images = max(b.Images, 1)
		if sh.n%sh.images != 0 {
			what := "samples"
			if b.Sigmoid {
				what = "rows"
			}
			return sh, fmt.Errorf("%w: %d %s do not split into Images = %d equal groups", ErrShape, sh.n, what, b.Images)
		}
	} else {
		if b.Classes > math.MaxInt/b.Spatial {
			return sh, fmt.Errorf("%w: Classes × Spatial = %d × %d overflows", ErrShape, b.Classes, b.Spatial)
		}
		plane := b.Classes * b.Spatial
		if len(b.Logits)%plane != 0 {
			return sh, fmt.Errorf("%w: len(Logits) = %d is not a multiple of Classes × Spatial = %d × %d", ErrShape, len(b.Logits), b.Classes, b.Spatial)
		}
		sh.images = len(b.Logits) / plane
		if b.Images != 0 && b.Images != sh.images {
			return sh, fmt.Errorf("%w: Images = %d, but the planar logits hold %d images", ErrShape, b.Images, sh.images)
		}
		sh.n = sh.images * b.Spatial
	}
	if b.Sigmoid {
		sh.n = len(b.Logits)
	}
	if sh.images > 0 {
		sh.per = sh.n / sh.images
	}
	if sh.n > math.MaxInt32 {
		return sh, fmt.Errorf("%w: %d samples, at most %d are supported", ErrShape, sh.n, math.MaxInt32)
	}
	if targets && len(b.Targets) != sh.n {
		what := "sample"
		if b.Sigmoid {
			what = "logit"
		}
		return sh, fmt.Errorf("%w: len(Targets) = %d, want %d (one per %s)", ErrShape, len(b.Targets), sh.n, what)
	}
	return sh, nil
}

// sampleName describes sample i for an error message.
func (sh shape) sampleName(i int) string {
	switch {
	case sh.sig && sh.planar():
		return fmt.Sprintf("sample %d (image %d, label %d, position %d)", i, i/(sh.c*sh.s), i/sh.s%sh.c, i%sh.s)
	case sh.sig:
		return fmt.Sprintf("sample %d (row %d, label %d)", i, i/sh.c, i%sh.c)
	}
	if sh.planar() {
		return fmt.Sprintf("sample %d (image %d, position %d)", i, i/sh.s, i%sh.s)
	}
	return fmt.Sprintf("sample %d", i)
}

// logit returns class j's logit of sample i.
func (sh shape) logit(x []float32, i, j int) float32 {
	if sh.planar() {
		return x[(i/sh.s*sh.c+j)*sh.s+i%sh.s]
	}
	return x[i*sh.c+j]
}

var nan32 = float32(math.NaN())

// kernelsCheckTargets reports that the loss kernels of a batch of shape sh with smoothing eps
// check its targets as they go (the Sigmoid kernels, and the row-major ones checksTargets names):
// they read no memory by target and report one out of range, so the call makes no pass over the
// targets before them.
func kernelsCheckTargets(ks *kernelSet, sh shape, eps float32) bool {
	return sh.sig || !sh.planar() && ks.checksTargets != nil && ks.checksTargets(sh.c, eps)
}

// checkTargets returns an ErrTarget error for the first target >= Classes.
func checkTargets(ks *kernelSet, t []int32, sh shape) error {
	c := int32(sh.c)
	if sh.sig {
		c = 2
	}
	if ks.maxTarget(t) < c {
		return nil
	}
	for i, v := range t {
		if v >= c && sh.sig {
			return fmt.Errorf("%w: %s has target %d, want 0 or 1 (or negative to ignore it) in a Sigmoid batch", ErrTarget, sh.sampleName(i), v)
		}
		if v >= c {
			return fmt.Errorf("%w: %s has target %d, want < Classes = %d (or negative to ignore it)", ErrTarget, sh.sampleName(i), v, sh.c)
		}
	}
	return nil
}

// nonFinite explains why sample i's logits gave a NaN: the first NaN or +Inf logit, or all −Inf.
func nonFinite(x []float32, sh shape, i int) error {
	if sh.sig {
		return fmt.Errorf("%w: %s has the logit %v", ErrNonFinite, sh.sampleName(i), x[i])
	}
	for j := range sh.c {
		v := sh.logit(x, i, j)
		switch {
		case v != v:
			return fmt.Errorf("%w: %s has NaN at class %d", ErrNonFinite, sh.sampleName(i), j)
		case math.IsInf(float64(v), 1):
			return fmt.Errorf("%w: %s has +Inf at class %d", ErrNonFinite, sh.sampleName(i), j)
		}
	}
	return fmt.Errorf("%w: %s has every logit −Inf", ErrNonFinite, sh.sampleName(i))
}

// firstNaN returns the index of the first NaN in x, or -1.
func firstNaN(x []float32) int {
	for i, v := range x {
		if v != v {
			return i
		}
	}
	return -1
}

// ceRange computes the losses (and, when st is on, the gradient's per-sample statistics) of
// samples [lo, hi) of a batch whose shape is validated, and whose targets are too unless
// kernelsCheckTargets says the kernels check them as they go. It returns the kernels' checks
// (checkNaN always where the kernels do not know).
func ceRange(ks *kernelSet, loss []float32, st stats, b *Batch, sh shape, lo, hi int, eps, fill float32) check {
	if sh.sig {
		return ks.sigLoss(loss[lo:hi], b.Logits[lo:hi], b.Targets[lo:hi], eps, fill)
	}
	if !sh.planar() {
		return ks.ceRows(loss[lo:hi], st.slice(lo, hi), b.Logits[lo*sh.c:hi*sh.c], b.Targets[lo:hi], sh.c, eps, fill)
	}
	for lo < hi {
		img, p := lo/sh.s, lo%sh.s
		end := min(hi, (img+1)*sh.s)
		x := b.Logits[img*sh.c*sh.s+p : (img+1)*sh.c*sh.s]
		ks.cePlanar(loss[lo:end], st.slice(lo, end), x, b.Targets[lo:end], sh.c, sh.s, eps, fill)
		lo = end
	}
	return checkNaN
}

// gradRange writes the gradient of samples [lo, hi) of a validated batch.
func gradRange(ks *kernelSet, g []float32, st stats, scale []float32, b *Batch, sh shape, lo, hi int, eps float32) {
	if sh.sig {
		ks.sigGrad(g[lo:hi], b.Logits[lo:hi], b.Targets[lo:hi], scale[lo:hi], eps)
		return
	}
	if !sh.planar() {
		ks.gradRows(g[lo*sh.c:hi*sh.c], b.Logits[lo*sh.c:hi*sh.c], b.Targets[lo:hi], st.slice(lo, hi), scale[lo:hi], sh.c, eps)
		return
	}
	for lo < hi {
		img, p := lo/sh.s, lo%sh.s
		end := min(hi, (img+1)*sh.s)
		from, to := img*sh.c*sh.s+p, (img+1)*sh.c*sh.s
		ks.gradPlanar(g[from:to], b.Logits[from:to], b.Targets[lo:end], st.slice(lo, end), scale[lo:end], sh.c, sh.s, eps)
		lo = end
	}
}

func crossEntropy(ks *kernelSet, dst []float32, b Batch) error {
	sh, err := b.shape(true)
	if err != nil {
		return err
	}
	if len(dst) < sh.n {
		return fmt.Errorf("%w: len(dst) = %d, want >= %d samples", ErrShape, len(dst), sh.n)
	}
	if !kernelsCheckTargets(ks, sh, 0) {
		if err := checkTargets(ks, b.Targets, sh); err != nil {
			return err
		}
	}
	ch := ceRange(ks, dst, stats{}, &b, sh, 0, sh.n, 0, 0)
	if ch&checkBad != 0 {
		return checkTargets(ks, b.Targets, sh)
	}
	if ch&checkNaN != 0 && ks.countAtLeast(dst[:sh.n], nan32) > 0 {
		i := firstNaN(dst[:sh.n])
		return nonFinite(b.Logits, sh, i)
	}
	return nil
}

func logSumExp(ks *kernelSet, dst []float32, b Batch) error {
	sh, err := b.shape(false)
	if err != nil {
		return err
	}
	if len(dst) < sh.n {
		return fmt.Errorf("%w: len(dst) = %d, want >= %d samples", ErrShape, len(dst), sh.n)
	}
	ch := checkNaN // a NaN check of dst is due (the Sigmoid kernel's own check may waive it)
	switch {
	case sh.sig:
		ch = ks.sigLSE(dst[:sh.n], b.Logits)
	case !sh.planar():
		ks.lseRows(dst[:sh.n], b.Logits, sh.c)
	default:
		for img := range sh.images {
			ks.lsePlanar(dst[img*sh.s:(img+1)*sh.s], b.Logits[img*sh.c*sh.s:(img+1)*sh.c*sh.s], sh.c, sh.s)
		}
	}
	if ch&checkNaN != 0 && ks.countAtLeast(dst[:sh.n], nan32) > 0 {
		return nonFinite(b.Logits, sh, firstNaN(dst[:sh.n]))
	}
	return nil
}

// CrossEntropy writes each sample's softmax cross-entropy, log Σ_j exp(z_j) − z_target, into
// dst[:N]; ignored samples (negative targets) get 0. Within 1e-5 relative of the exact value, tiny
// losses included (plus 1e-30 absolute: below float32's normal range a loss may be 0). dst must not
// overlap b.Logits. On error dst[:N] holds no meaningful values; nothing past it is written.
// For a Sigmoid batch it is each logit's sigmoid cross-entropy softplus(z) − y·z.
func CrossEntropy(dst []float32, b Batch) error { return crossEntropy(active, dst, b) }

// LogSumExp writes log Σ_j exp(z_j) for every sample into dst[:N]. Targets are not read. dst must
// not overlap b.Logits. For a Sigmoid batch it is softplus(z) = log(1 + e^z) of each logit.
func LogSumExp(dst []float32, b Batch) error { return logSumExp(active, dst, b) }
