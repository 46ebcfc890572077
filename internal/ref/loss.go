package ref

// Reductions, the values of Config.Reduction (the API's MeanKept, MeanValid, Sum).
const (
	MeanKept  = 0 // Σ_kept w·l / Σ_kept w
	MeanValid = 1 // Σ_kept w·l / Σ_valid w
	Sum       = 2 // Σ_kept w·l
)

// Config re-declares the API's Config (without Workers, which cannot change a result).
// At most one rule field (Keep, KeepRatio, ProbThreshold, NegPosRatio) may be non-zero;
// none keeps every valid sample.
type Config struct {
	Keep           int
	KeepRatio      float64
	ProbThreshold  float32
	NegPosRatio    float64
	Background     int32
	MinKept        int
	KeepTies       bool
	PerImage       bool
	ClassWeights   []float32
	LabelSmoothing float32
	Reduction      int // MeanKept, MeanValid or Sum
}

// Result is the reference result, all in float64.
type Result struct {
	Loss      float64   // the reduced loss; 0 when nothing is kept or the denominator is 0
	Kept      int       // len(Selected)
	Valid     int       // samples with a non-negative target
	Threshold float64   // the smallest kept loss; 0 when nothing is kept
	Losses    []float64 // per-sample losses, 0 for ignored samples
	Selected  []int32   // kept sample indices, ascending
	Grad      []float64 // ∂Loss/∂logits with the selection fixed, in the batch's layout
}

// Loss computes the whole OHEM loss of a batch: per-sample losses, selection (on the
// float64 losses) and reduction, and the gradient. images is the row-major batch's Images
// field (0 or 1: one group, else N/images consecutive samples per group); it is ignored
// for a planar batch (S > 0), whose groups are its images of S samples.
//
// The library selects on its float32 losses, which may order near-ties differently from
// these float64 ones; to compare against it exactly, use Select on its Losses() and
// Evaluate with its Selected().
func Loss(cfg Config, logits []float32, targets []int32, C, S, images int) Result {
	z := widen(logits)
	losses := losses64(z, targets, C, S, float64(cfg.LabelSmoothing))
	sel, _ := Select64(cfg, losses, targets, S, images)
	return evaluate64(cfg, z, targets, C, S, sel, losses)
}

// Evaluate is Loss with the selection given (ascending sample indices) instead of computed.
// Threshold is the smallest given sample's float64 loss.
func Evaluate(cfg Config, logits []float32, targets []int32, C, S int, selected []int32) Result {
	z := widen(logits)
	return evaluate64(cfg, z, targets, C, S, selected, losses64(z, targets, C, S, float64(cfg.LabelSmoothing)))
}

// Losses returns every sample's smoothed cross-entropy (CrossEntropy with eps), 0 for a
// sample with a negative target.
func Losses(logits []float32, targets []int32, C, S int, eps float64) []float64 {
	return losses64(widen(logits), targets, C, S, eps)
}

// Weight returns sample i's class weight: ClassWeights[targets[i]], or 1 when
// ClassWeights is nil.
func Weight(cfg Config, targets []int32, i int) float64 {
	if cfg.ClassWeights == nil {
		return 1
	}
	return float64(cfg.ClassWeights[targets[i]])
}

// Reduce combines the selected losses as cfg.Reduction says and returns the loss and the
// denominator W (1 for Sum). The loss is 0 when nothing is selected or W is 0; a term
// with weight 0 contributes 0 even when its loss is +Inf.
func Reduce(cfg Config, losses []float64, targets []int32, selected []int32) (loss, W float64) {
	num := 0.0
	for _, i := range selected {
		if w := Weight(cfg, targets, int(i)); w != 0 {
			num += w * losses[i]
		}
	}
	W = softmaxDenominator(cfg, targets, selected)
	if len(selected) == 0 || W == 0 {
		return 0, W
	}
	return num / W, W
}

// denominator is W for cfg's Reduction: 1 for Sum, the weights of every valid sample for
// MeanValid, those of the selected samples otherwise; weight(i) is sample i's.
func denominator(cfg Config, targets []int32, selected []int32, weight func(i int) float64) float64 {
	W := 0.0
	switch cfg.Reduction {
	case Sum:
		return 1
	case MeanValid:
		for i, t := range targets {
			if t >= 0 {
				W += weight(i)
			}
		}
	default:
		for _, i := range selected {
			W += weight(int(i))
		}
	}
	return W
}

// softmaxDenominator is denominator with the weights of a softmax batch.
func softmaxDenominator(cfg Config, targets []int32, selected []int32) float64 {
	return denominator(cfg, targets, selected, func(i int) float64 { return Weight(cfg, targets, i) })
}

// Gradient returns ∂Loss/∂logits with the selection fixed, in the batch's layout:
// w_i/W · (softmax_i − q_i) for each selected sample i, 0 elsewhere (all 0 when nothing is
// selected or W is 0).
func Gradient(cfg Config, logits []float32, targets []int32, C, S int, selected []int32) []float64 {
	return gradient64(cfg, widen(logits), targets, C, S, selected)
}

// row64 returns sample i's logits from a float64 copy of the batch.
func row64(z []float64, C, S, i int) []float64 {
	r := make([]float64, C)
	for j := range r {
		r[j] = z[Index(C, S, i, j)]
	}
	return r
}

func losses64(z []float64, targets []int32, C, S int, eps float64) []float64 {
	out := make([]float64, len(z)/C)
	for i := range out {
		if targets[i] >= 0 {
			out[i] = ce64(row64(z, C, S, i), int(targets[i]), eps)
		}
	}
	return out
}

func gradient64(cfg Config, z []float64, targets []int32, C, S int, selected []int32) []float64 {
	g := make([]float64, len(z))
	W := softmaxDenominator(cfg, targets, selected)
	if len(selected) == 0 || W == 0 {
		return g
	}
	eps := float64(cfg.LabelSmoothing)
	for _, i := range selected {
		w := Weight(cfg, targets, int(i))
		if w == 0 {
			continue
		}
		gi := grad64(row64(z, C, S, int(i)), int(targets[i]), eps)
		for j, v := range gi {
			g[Index(C, S, int(i), j)] = w / W * v
		}
	}
	return g
}

func evaluate64(cfg Config, z []float64, targets []int32, C, S int, selected []int32, losses []float64) Result {
	r := Result{Losses: losses, Selected: selected, Kept: len(selected)}
	for _, t := range targets[:len(losses)] {
		if t >= 0 {
			r.Valid++
		}
	}
	for k, i := range selected {
		if k == 0 || less64(losses[i], r.Threshold) {
			r.Threshold = losses[i]
		}
	}
	r.Loss, _ = Reduce(cfg, losses, targets, selected)
	r.Grad = gradient64(cfg, z, targets, C, S, selected)
	return r
}
