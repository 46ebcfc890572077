package ref

import "math"

// The accuracy bounds of API.md, shared by the tests and the fuzz targets.

// CETol is the CrossEntropy (and Losses) bound around a finite reference value.
func CETol(want float64) float64 { return 1e-5*math.Abs(want) + 1e-30 }

// CEWithin reports whether got meets the CrossEntropy bound of the float64 reference want. An
// infinite reference (a −Inf target logit) wants exactly that infinity; a finite one within the
// bound of float32's overflow threshold (> MaxFloat32·(1 − 1e-5)) also accepts +Inf, since a float32
// result there may round either way (README, Accuracy).
func CEWithin(got float32, want float64) bool { return within(got, want, CETol(want)) }

// within is |got − want| <= tol for a finite want; an infinite want needs exactly that infinity,
// and a want within 1e-5 of float32's overflow threshold also accepts +Inf.
func within(got float32, want, tol float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(g) || math.IsNaN(want):
		return false
	case math.IsInf(want, 0):
		return g == want
	case want > math.MaxFloat32*(1-1e-5) && math.IsInf(g, 1):
		return true
	}
	return math.Abs(g-want) <= tol
}

// LSETol is the LogSumExp bound around want for a row whose largest logit is maxZ.
func LSETol(want, maxZ float64) float64 { return 1e-5 * (1 + math.Abs(maxZ) + math.Abs(want)) }

// LSEWithin reports whether got meets the LogSumExp bound; infinities as in CEWithin.
func LSEWithin(got float32, want, maxZ float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(g) || math.IsNaN(want):
		return false
	case math.IsInf(want, 0):
		return g == want
	case math.Abs(want) > math.MaxFloat32*(1-1e-5) && math.IsInf(g, int(math.Copysign(1, want))):
		return true
	}
	return math.Abs(g-want) <= LSETol(want, maxZ)
}

// BothWithin reports whether two values that each met a bound of width tol around the same
// reference are within 2·tol of each other; infinities must match, except near float32's overflow
// threshold, where either may have rounded to ±Inf.
func BothWithin(a, b float32, tol float64) bool {
	if a == b {
		return true
	}
	const big = math.MaxFloat32 * (1 - 2e-5)
	if math.IsInf(float64(a), 0) || math.IsInf(float64(b), 0) {
		return math.Abs(float64(a)) >= big && math.Abs(float64(b)) >= big
	}
	return math.Abs(float64(a)-float64(b)) <= 2*tol
}

// Scales returns every sample's gradient scale w_i/W: the kept samples' weight over the
// reduction's denominator, 0 for a sample not kept (and for all when W is 0).
func Scales(cfg Config, targets []int32, selected []int32) []float64 {
	s := make([]float64, len(targets))
	W := softmaxDenominator(cfg, targets, selected)
	if W == 0 {
		return s
	}
	for _, i := range selected {
		s[i] = Weight(cfg, targets, int(i)) / W
	}
	return s
}

// ElementScales is Scales spread over the logits: element (i, j) gets sample i's w_i/W.
func ElementScales(cfg Config, targets []int32, C, S int, selected []int32) []float64 {
	s := Scales(cfg, targets, selected)
	e := make([]float64, len(targets)*C)
	for _, i := range selected {
		for j := range C {
			e[Index(C, S, int(i), j)] = s[i]
		}
	}
	return e
}

// GradTol is API.md's gradient bound for one element whose float64 value is want, in a gradient
// whose largest |element| is peak, of a sample whose w/W is scale: 1e-5·peak + 1e-6·|want| +
// 1e-30·scale, plus 2^-22·scale with label smoothing (p_j − q_j cancels when p_j ≈ q_j).
func GradTol(want, peak, scale float64, smoothed bool) float64 {
	floor := 1e-30 * scale
	if smoothed {
		floor += 0x1p-22 * scale
	}
	return 1e-5*peak + 1e-6*math.Abs(want) + floor
}

// LossTol is API.md's bound on Result.Loss around want, where keptScale is Σ_kept w_i/W:
// 1e-5·|want| + 1e-30·keptScale.
func LossTol(want, keptScale float64) float64 { return 1e-5*math.Abs(want) + 1e-30*keptScale }

// LossWithin reports whether got meets LossTol; an infinite want needs exactly that infinity, and a
// want beyond float32's range (a kept loss whose float32 is +Inf) also accepts +Inf.
func LossWithin(got float32, want, keptScale float64) bool {
	return within(got, want, LossTol(want, keptScale))
}
