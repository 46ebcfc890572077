// Package ohem computes the online-hard-example-mining (OHEM) cross-entropy loss on the CPU, fast.
//
// OHEM trains a classifier or detector on its hardest examples only: every sample's softmax
// cross-entropy is computed, the samples with the highest losses are kept (a count, a ratio, a
// probability threshold with a minimum, or SSD's negatives-per-positive), and the kept losses are
// averaged. [Loss] does all of that, and the gradient, without allocating once it is warm.
//
// The per-sample loss is exact where float32 frameworks are not: a confident, correct sample whose
// loss is 1e-7 comes out as 1e-7 (the package evaluates log1p(Σ_{j≠t} exp(z_j − z_t)) when the
// target holds the row maximum instead of lse − z_t), for any finite logits and up to 65,536 classes.
//
// Selection runs in expected linear time and is exact and deterministic: the k hardest samples, ties
// broken toward the lower index, in the IEEE order with −0 == +0 and NaN above +Inf.
//
// # Accuracy and edges
//
// Against the same formulas in float64 (w_i a sample's weight, W the reduction's denominator):
// per-sample losses within 1e-5·|ref| + 1e-30; LogSumExp within 1e-5·(1 + |max z| + |ref|); each
// gradient element within 1e-5·max|ref| + 1e-6·|ref| + 1e-30·w_i/W, plus 2^-22·w_i/W with label
// smoothing (p_j − q_j cancels when p ≈ q); Result.Loss within 1e-5·|ref| + 1e-30·Σ_kept w_i/W.
// Selection (CountAtLeast, KthLargest, TopK, Selected, Kept, Threshold) is exact and identical on
// every kernel set.
//
// The float32 exp underflows to exactly 0 below about −87.34 (the log of the smallest normal
// float32), on every kernel set alike, so results below float32's normal range (~1e-38) may come
// out as 0. A −Inf logit is a masked class: its probability and gradient are exactly 0 on every
// set. A loss whose exact value is 0 or below the underflow point is exactly 0 on every set, so
// such ties break the same way everywhere. A per-sample loss above the largest float32 is +Inf,
// and so is a Result.Loss it enters with a nonzero weight.
//
// ProbThreshold compares in float64 with the float32 loss, and a float32 loss is rounded: an
// uninformative binary sample (equal logits, p = 0.5 exactly) has the loss float32(ln 2), which
// is above ln 2, so ProbThreshold 0.5 keeps it. A float32 "p < t" on the softmax probability, as
// mmseg computes it, drops it; expect such samples at the threshold itself to go either way.
//
// # Binary samples
//
// Binary and multi-label heads (text detection's DBNet and PSENet maps, sigmoid detectors,
// multi-label classifiers) score each label with a logit of its own. With [Batch].Sigmoid set,
// every logit z is one sample, and everything above applies to these samples:
//   - Targets has one entry per logit, in the layout of the logits: 1 (positive), 0 (negative) or
//     negative (ignored); any other target is an ErrTarget error.
//   - The loss is the sigmoid cross-entropy softplus(z) − y·z (−log σ(z) for y = 1, −log(1 − σ(z))
//     for y = 0), the two-class softmax cross-entropy of the logits (0, z), with the same accuracy
//     bound: a tiny loss keeps its digits (it is evaluated as max(d, 0) + log1p(e^−|d|), d = z for
//     a negative and −z for a positive). [LogSumExp] gives softplus(z). The gradient of a kept
//     sample is w/W·(σ(z) − y').
//   - Classes is the number of labels per row (1 for a single binary map): in the row-major layout
//     logit i has the label i mod Classes, in the planar layout (i / Spatial) mod Classes. It
//     selects ClassWeights only. Spatial and Images mean what they mean for softmax batches, and
//     N = len(Logits).
//   - Every rule applies unchanged. With NegPosRatio, Background must be 0: the positives are the
//     targets 1. ProbThreshold uses p = σ(z) for a positive and 1 − σ(z) for a negative
//     (p = e^−loss). LabelSmoothing ε makes the target y' = (1 − ε)·y + ε/2.
//   - A logit is a sample's only logit, so a NaN, +Inf or −Inf logit of a valid sample is an
//     ErrNonFinite error (−Inf is "every logit −Inf"); the logits of ignored samples are not checked.
//
// # Aliasing and state
//
// The dst of CrossEntropy and LogSumExp must not overlap the logits. The grad of
// [Loss.ForwardBackward] may be the logits themselves (in place); the values then meet the same
// bounds, though their bits may differ from a separate buffer's. After a failed call,
// [Loss.Losses] and [Loss.Selected] are empty. [New] copies Config.ClassWeights: changing the
// slice afterwards has no effect.
//
// # Kernel sets
//
// The hot loops have SIMD implementations chosen at run time from the CPU's features; [Kernel] names
// the one in use and [KernelSets] lists every one this CPU can run. A pure-Go implementation
// ("generic") is always compiled: it is the reference the others are checked against and the path on
// every other CPU. The environment variable OHEM_KERNEL, read once at start, forces a lower tier,
// and [Config.Kernel] chooses one for a single [Loss].
package ohem

import (
	"errors"
	"strconv"
)

// Batch is one batch of class scores (logits) and their labels.
type Batch struct {
	// Logits, float32, in one of two layouts:
	//   Spatial == 0: row-major [N][Classes]            (classification, detection anchors and RoIs)
	//   Spatial  > 0: planar  [Images][Classes][Spatial] (segmentation, NCHW with Spatial = H*W)
	Logits []float32
	// Targets: one class index per sample, [N] or [Images][Spatial].
	// A negative target marks a sample to ignore (PyTorch's -100, an anchor's "neutral" -1, ...).
	Targets []int32
	Classes int // C >= 1
	Spatial int // 0: row-major; > 0: planar
	// Images splits a row-major batch into that many equal consecutive groups for per-image
	// mining (0 or 1: one group). Planar batches imply it: len(Logits) / (Classes*Spatial).
	Images int
	// Sigmoid makes every logit an independent binary sample (sigmoid cross-entropy): see
	// "Binary samples" in the package documentation.
	Sigmoid bool
}

// Config configures a [Loss]: the selection rule, weighting, smoothing and reduction.
//
// At most one of Keep, KeepRatio, ProbThreshold and NegPosRatio is set (non-zero); the zero Config
// keeps every valid sample, which is the plain mean cross-entropy.
type Config struct {
	// Keep keeps the Keep hardest valid samples (per image when PerImage).
	Keep int
	// KeepRatio, 0 < r <= 1, keeps floor(r × valid) samples (in float64), but at least 1 when any
	// sample is valid.
	KeepRatio float64
	// ProbThreshold, 0 < t <= 1, keeps every valid sample whose target-class probability is < t,
	// and at least min(MinKept, valid) hardest ones (the mmseg / HRNet rule). With p_i = exp(−l_i),
	// "p_i < t" is evaluated as float64(l_i) > −ln(t). A sample right at the threshold goes the way
	// its float32 loss rounds: with t = 0.5, equal binary logits (loss float32(ln 2) > ln 2) are kept.
	ProbThreshold float32
	// NegPosRatio, > 0, keeps every positive (target != Background) plus the
	// min(negatives, max(floor(r × positives), MinKept)) hardest negatives (the SSD rule).
	NegPosRatio float64
	// Background is the negative class for NegPosRatio; it must be a class of the batch (0 for a
	// Sigmoid batch, whose positives are the targets 1).
	Background int32
	// MinKept is the minimum of ProbThreshold and NegPosRatio; setting it with any other rule, or
	// none, is an error.
	MinKept int

	// KeepTies also keeps every candidate whose loss equals the last kept one's (the
	// "loss >= k-th largest" idiom). By default exactly k are kept, ties broken toward the lower index.
	KeepTies bool
	// PerImage selects within each image: every count in the rule (valid, positives, k, MinKept)
	// is per image.
	PerImage bool

	// ClassWeights is nil, or has one finite, non-negative weight per class (its length is checked
	// at Forward): a sample's weight is ClassWeights[target] (for a Sigmoid batch, ClassWeights of
	// the sample's label). A term whose weight is 0 adds nothing to the reduction, even when its
	// loss is +Inf. New copies the slice.
	ClassWeights []float32
	// LabelSmoothing, 0 <= ε < 1, makes the target distribution (1−ε)·onehot + ε/C (for a Sigmoid
	// batch the target (1−ε)·y + ε/2). A −Inf logit then gives an infinite loss, as in PyTorch. It
	// cannot be combined with ProbThreshold.
	LabelSmoothing float32
	// Reduction says how the kept losses are combined.
	Reduction Reduction
	// Workers: 0 or 1 computes on the calling goroutine only; > 1 splits large batches over that
	// many goroutines. Results are bit-identical whatever Workers is.
	Workers int

	// Kernel names the kernel set this Loss uses, one of [KernelSets]; "" uses [Kernel]().
	Kernel string
}

// Reduction says how the kept losses l_i, with weights w_i, are combined into Result.Loss.
type Reduction int

const (
	MeanKept  Reduction = iota // Σ_kept w·l / Σ_kept w   (default; the weighted mean of PyTorch)
	MeanValid                  // Σ_kept w·l / Σ_valid w  (mmseg's avg_non_ignore normaliser)
	Sum                        // Σ_kept w·l
)

// String returns the constant's name.
func (r Reduction) String() string {
	switch r {
	case MeanKept:
		return "MeanKept"
	case MeanValid:
		return "MeanValid"
	case Sum:
		return "Sum"
	}
	return "Reduction(" + strconv.Itoa(int(r)) + ")"
}

// Result is what a Forward or ForwardBackward call computed.
type Result struct {
	Loss      float32 // the reduced loss; 0 when nothing is kept or the denominator is 0 (never NaN from an empty selection)
	Kept      int     // samples kept
	Valid     int     // samples with a non-negative target
	Threshold float32 // the smallest loss among the kept samples; 0 when none is kept
}

// The errors. Every error the package returns wraps one of these (test with errors.Is) and names
// the offending sample, class or field in its message.
var (
	ErrShape     = errors.New("ohem: shape mismatch")      // lengths, Classes, Spatial, Images disagree
	ErrTarget    = errors.New("ohem: target out of range") // target >= Classes; a Sigmoid target other than 0, 1 or negative
	ErrNonFinite = errors.New("ohem: non-finite logit")    // NaN or +Inf in a sample's logits; a sample whose logits are all -Inf
	ErrConfig    = errors.New("ohem: invalid config")      // two rules set, a negative Keep/MinKept/Workers, a ratio or threshold out of range, ...
	ErrK         = errors.New("ohem: k out of range")      // KthLargest / TopK
)
