package ref

import "math"

// Binary (Sigmoid) batches: every logit is one sample with target 1 (positive), 0 (negative) or
// negative (ignored), sample i being logit i in either layout. Classes is the number of labels:
// logit i has the label i mod C (row-major, S == 0) or (i / S) mod C (planar); ClassWeights is
// indexed by the label. Per-image groups are the images: len(logits)/images consecutive samples
// (row-major) or C·S (planar).

// Softplus returns log(1 + e^z), evaluated as max(z, 0) + log1p(e^−|z|).
func Softplus(z float64) float64 { return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) }

// SigmoidCE returns the sigmoid cross-entropy of logit z with target y (0 or 1) and label
// smoothing eps: y'·softplus(−z) + (1−y')·softplus(z), y' = (1−eps)·y + eps/2.
func SigmoidCE(z float32, y int32, eps float64) float64 {
	// y' and 1 − y' as 1 − eps/2 and eps/2 (1 − y' computed from y' would lose eps's digits).
	wa, wb := eps/2, 1-eps/2 // the weights of −log σ(z) and −log(1 − σ(z))
	if y != 0 {
		wa, wb = wb, wa
	}
	l := 0.0
	if wa != 0 {
		l += wa * Softplus(-float64(z))
	}
	if wb != 0 {
		l += wb * Softplus(float64(z))
	}
	return l
}

// SigmoidGrad returns the derivative of SigmoidCE with respect to z: σ(z) − y', evaluated as
// σ(z) − eps/2 for y = 0 and −(σ(−z) − eps/2) for y = 1, so that it keeps its digits when tiny.
func SigmoidGrad(z float32, y int32, eps float64) float64 {
	if y == 0 {
		return sigma(float64(z)) - eps/2
	}
	return -(sigma(-float64(z)) - eps/2)
}

// sigma returns the logistic function 1/(1 + e^−x) without overflow.
func sigma(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// SigmoidLabel returns the label of sample (logit) i of a Sigmoid batch with C labels.
func SigmoidLabel(C, S, i int) int {
	if S == 0 {
		return i % C
	}
	return i / S % C
}

// SigmoidLosses returns every sample's loss (SigmoidCE with eps), 0 for an ignored one.
func SigmoidLosses(logits []float32, targets []int32, eps float64) []float64 {
	out := make([]float64, len(logits))
	for i, t := range targets {
		if t >= 0 {
			out[i] = SigmoidCE(logits[i], t, eps)
		}
	}
	return out
}

// SigmoidWeight returns sample i's weight: ClassWeights of its label, or 1 without weights.
func SigmoidWeight(cfg Config, C, S, i int) float64 {
	if cfg.ClassWeights == nil {
		return 1
	}
	return float64(cfg.ClassWeights[SigmoidLabel(C, S, i)])
}

// SigmoidImages returns the number of per-image groups of a Sigmoid batch: images (the Batch's
// Images field, 0 or 1 for one group) for a row-major batch, len(logits)/(C·S) for a planar one.
func SigmoidImages(n, C, S, images int) int {
	if S > 0 {
		if n == 0 {
			return 1
		}
		return n / (C * S)
	}
	return max(images, 1)
}

// SigmoidSelect is Select for a Sigmoid batch: the rule applied to the given losses (the
// library's, 0 for ignored samples), per image when cfg.PerImage, the positives of NegPosRatio
// being the targets other than cfg.Background.
func SigmoidSelect(cfg Config, losses []float32, targets []int32, C, S, images int) ([]int32, float32) {
	return Select(cfg, losses, targets, 0, SigmoidImages(len(losses), C, S, images))
}

// SigmoidLoss is Loss for a Sigmoid batch: losses, selection on the float64 losses, reduction
// with label weights, and the gradient.
func SigmoidLoss(cfg Config, logits []float32, targets []int32, C, S, images int) Result {
	losses := SigmoidLosses(logits, targets, float64(cfg.LabelSmoothing))
	sel, _ := Select64(cfg, losses, targets, 0, SigmoidImages(len(logits), C, S, images))
	return sigmoidEvaluate(cfg, logits, targets, C, S, sel, losses)
}

// SigmoidEvaluate is Evaluate for a Sigmoid batch: the result of the given selection.
func SigmoidEvaluate(cfg Config, logits []float32, targets []int32, C, S int, selected []int32) Result {
	return sigmoidEvaluate(cfg, logits, targets, C, S, selected, SigmoidLosses(logits, targets, float64(cfg.LabelSmoothing)))
}

// SigmoidScales returns every sample's gradient scale w_i/W (0 for a sample not kept, and for
// all when W is 0).
func SigmoidScales(cfg Config, targets []int32, C, S int, selected []int32) []float64 {
	s := make([]float64, len(targets))
	W := sigmoidDenominator(cfg, targets, C, S, selected)
	if W == 0 {
		return s
	}
	for _, i := range selected {
		s[i] = SigmoidWeight(cfg, C, S, int(i)) / W
	}
	return s
}

// sigmoidDenominator is denominator with the weights of a Sigmoid batch.
func sigmoidDenominator(cfg Config, targets []int32, C, S int, selected []int32) float64 {
	return denominator(cfg, targets, selected, func(i int) float64 { return SigmoidWeight(cfg, C, S, i) })
}

func sigmoidEvaluate(cfg Config, logits []float32, targets []int32, C, S int, selected []int32, losses []float64) Result {
	r := Result{Losses: losses, Selected: selected, Kept: len(selected), Grad: make([]float64, len(logits))}
	for _, t := range targets {
		if t >= 0 {
			r.Valid++
		}
	}
	for k, i := range selected {
		if k == 0 || less64(losses[i], r.Threshold) {
			r.Threshold = losses[i]
		}
	}
	W := sigmoidDenominator(cfg, targets, C, S, selected)
	if len(selected) == 0 || W == 0 {
		return r
	}
	num := 0.0
	eps := float64(cfg.LabelSmoothing)
	for _, i := range selected {
		w := SigmoidWeight(cfg, C, S, int(i))
		if w == 0 {
			continue
		}
		num += w * losses[i]
		r.Grad[i] = w / W * SigmoidGrad(logits[i], targets[i], eps)
	}
	r.Loss = num / W
	return r
}
