package ref

import "math"

// The accuracy bounds of API.md, shared by the tests and the fuzz targets.

// CETol is the CrossEntropy (and Losses) bound around a finite reference value.
func CETol(want float64) float64 { return 1e-5*math.Abs(want) + 1e-30 }

// CEWithin reports whether got meets the CrossEntropy bound of the float64 reference want. An
// infinite reference (a −Inf target logit) wants exactly that infinity; a finite one within the
// bound of float32's overflow threshold (> MaxFloat32·(1 − 1e-5)) also accepts +Inf, since a float32
// result there may round either way (README, Accuracy).
func CEWithin(got float32, want float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(g) || math.IsNaN(want):
		return false
	case math.IsInf(want, 0):
		return g == want
	case want > math.MaxFloat32*(1-1e-5) && math.IsInf(g, 1):
		return true
	}
	return math.Abs(g-want) <= CETol(want)
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
