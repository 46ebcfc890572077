package ohem

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Loss holds a Config and reusable scratch memory: after the first call on a batch shape,
// successful calls allocate nothing, Workers > 1 included. Results are deterministic: the same
// inputs give the same bits whatever Workers is. A Loss is not safe for concurrent use; use one per
// goroutine. The zero Loss is the Loss of the zero Config (plain mean cross-entropy on the kernel
// set in use).
type Loss struct {
	cfg  Config
	ks   *kernelSet
	rule rule
	sel  selector

	n        int
	losses   []float32     // per-sample losses; −Inf for ignored samples until Losses zeroes them
	zeroed   bool          // Losses has replaced the −Inf of ignored samples by 0
	st       stats         // per-sample statistics for the gradient
	rank     []float32     // NegPosRatio's candidates: ignored samples −Inf, positives NaN
	ranked   bool          // this call's loss phase wrote rank (sigLossRank)
	cuts     []groupCut    // per group, what tells its kept samples from its dropped ones
	counts   []targetCount // per group, fusedScale's counts of the targets (when counted)
	counted  bool
	selected []int32
	scale    []float32 // per-sample gradient scale w_i / W, 0 for samples not kept
	dropped  []bool    // ceGradRows's rows predicted dropped, whose gradient it zeroed
	sp       sparse    // sparseGradient's buffers
	checks   []check   // the loss phase's checks, a chunk each

	pool *pool // the worker goroutines of Workers > 1, started on first use
}

type rule int

const (
	ruleAll rule = iota
	ruleKeep
	ruleRatio
	ruleProb
	ruleNegPos
)

// New checks cfg and returns a Loss for it. Errors wrap ErrConfig and name the field.
func New(cfg Config) (*Loss, error) {
	r, err := cfg.check()
	if err != nil {
		return nil, err
	}
	ks := active
	if cfg.Kernel != "" {
		if ks = lookupSet(cfg.Kernel); ks == nil {
			return nil, fmt.Errorf("%w: Kernel %q is not available on this CPU (have %s)", ErrConfig, cfg.Kernel, setNames())
		}
	}
	cfg.ClassWeights = slices.Clone(cfg.ClassWeights) // nil stays nil, empty stays empty (an error at Forward)
	l := &Loss{cfg: cfg, ks: ks, rule: r}
	l.sel.ks = ks
	if cfg.Workers > 1 {
		l.pool = &pool{start: make(chan struct{})}
		// The workers hold the pool, never the Loss: when the Loss becomes unreachable they exit.
		runtime.AddCleanup(l, (*pool).stop, l.pool)
	}
	return l, nil
}

// Close ends the worker goroutines of a Loss with Workers > 1 and waits for them to exit; they
// also end on their own once the Loss is unreachable. The Loss stays usable: a later call starts
// them again. Close never fails and may be called any number of times, on any Loss.
func (l *Loss) Close() error {
	if l.pool != nil {
		l.pool.stop()
	}
	return nil
}

func (cfg *Config) check() (rule, error) {
	bad := func(format string, a ...any) (rule, error) {
		return 0, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	r, set := ruleAll, 0
	if cfg.Keep != 0 {
		r, set = ruleKeep, set+1
	}
	if cfg.KeepRatio != 0 {
		r, set = ruleRatio, set+1
	}
	if cfg.ProbThreshold != 0 {
		r, set = ruleProb, set+1
	}
	if cfg.NegPosRatio != 0 {
		r, set = ruleNegPos, set+1
	}
	switch {
	case set > 1:
		return bad("%d selection rules set (Keep, KeepRatio, ProbThreshold, NegPosRatio), want at most one", set)
	case cfg.Keep < 0:
		return bad("Keep = %d, want >= 0", cfg.Keep)
	case !(cfg.KeepRatio >= 0 && cfg.KeepRatio <= 1):
		return bad("KeepRatio = %v, want 0 < KeepRatio <= 1", cfg.KeepRatio)
	case !(cfg.ProbThreshold >= 0 && cfg.ProbThreshold <= 1):
		return bad("ProbThreshold = %v, want 0 < ProbThreshold <= 1", cfg.ProbThreshold)
	case !(cfg.NegPosRatio >= 0 && cfg.NegPosRatio <= math.MaxFloat64):
		return bad("NegPosRatio = %v, want a finite ratio > 0", cfg.NegPosRatio)
	case cfg.MinKept < 0:
		return bad("MinKept = %d, want >= 0", cfg.MinKept)
	case cfg.MinKept != 0 && r != ruleProb && r != ruleNegPos:
		return bad("MinKept = %d is only meaningful with ProbThreshold or NegPosRatio", cfg.MinKept)
	case r == ruleNegPos && cfg.Background < 0:
		return bad("Background = %d, want a class index >= 0", cfg.Background)
	case cfg.Workers < 0:
		return bad("Workers = %d, want >= 0", cfg.Workers)
	case !(cfg.LabelSmoothing >= 0 && cfg.LabelSmoothing < 1):
		return bad("LabelSmoothing = %v, want 0 <= LabelSmoothing < 1", cfg.LabelSmoothing)
	case r == ruleProb && cfg.LabelSmoothing != 0:
		return bad("ProbThreshold with LabelSmoothing = %v: the smoothed loss is not a function of the target probability", cfg.LabelSmoothing)
	case cfg.Reduction < MeanKept || cfg.Reduction > Sum:
		return bad("Reduction = %d, want MeanKept, MeanValid or Sum", int(cfg.Reduction))
	}
	for j, w := range cfg.ClassWeights {
		if !(w >= 0 && w <= math.MaxFloat32) {
			return bad("ClassWeights[%d] = %v, want finite and >= 0", j, w)
		}
	}
	return r, nil
}

// Forward computes the per-sample losses, selects the hard samples and reduces them.
func (l *Loss) Forward(b Batch) (Result, error) { return l.run(nil, b, false) }

// ForwardBackward does what Forward does and also overwrites grad[:len(b.Logits)] (same layout as
// b.Logits) with ∂Result.Loss/∂Logits, the selection held fixed: w_i/W · (softmax_i − q_i) for a
// kept sample i (q_i the smoothed target distribution, W the reduction's denominator), 0 elsewhere;
// for a Sigmoid batch w_i/W · (σ(z_i) − y'_i), y'_i the smoothed target.
// grad may be b.Logits itself: the gradient then replaces the logits (they are read before any
// of it is written); it must not overlap b.Logits in any other way.
// On error grad[:len(b.Logits)] holds no meaningful values; nothing past it is written.
func (l *Loss) ForwardBackward(grad []float32, b Batch) (Result, error) {
	if len(grad) < len(b.Logits) {
		l.reset()
		return Result{}, fmt.Errorf("%w: len(grad) = %d, want >= len(Logits) = %d", ErrShape, len(grad), len(b.Logits))
	}
	return l.run(grad[:len(b.Logits)], b, true)
}

// Losses returns the per-sample losses of the last call (0 for ignored samples); empty after a
// failed call. It stays valid until the next call.
func (l *Loss) Losses() []float32 {
	x := l.losses[:l.n]
	if !l.zeroed {
		// Inside a call ignored samples hold −Inf, below every loss, so the selection needs no
		// mask; the caller sees the documented 0.
		for i, v := range x {
			if v < 0 {
				x[i] = 0
			}
		}
		l.zeroed = true
	}
	return x
}

// Selected returns the indices of the samples the last call kept, ascending; empty after a failed
// call. It stays valid until the next call.
func (l *Loss) Selected() []int32 { return l.selected }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// reset empties Losses and Selected: every call starts with it, so a failed call leaves them empty.
func (l *Loss) reset() { l.n, l.selected, l.zeroed = 0, l.selected[:0], true }

// run is Forward (backward false) and ForwardBackward: it checks the call and sizes the scratch
// (prepare), computes the losses (compute), selects the kept samples per group (selectGroups),
// reduces them (reduce) and writes the gradient (gradient).
func (l *Loss) run(grad []float32, b Batch, backward bool) (Result, error) {
	if l.ks == nil { // the zero Loss: the zero Config on the set in use
		l.ks, l.sel.ks = active, active
	}
	l.reset()
	c, err := l.prepare(grad, b, backward)
	if err != nil {
		return Result{}, err
	}
	if err := l.compute(&c); err != nil {
		return Result{}, err
	}
	valid := l.selectGroups(&c)
	res, denom := l.reduce(&c, valid)
	if backward {
		l.gradient(&c, valid, denom)
	}
	return res, nil
}

// call is one run's batch, its shape, and what the loss phase decided for the gradient.
type call struct {
	b     Batch
	sh    shape
	grad  []float32 // ForwardBackward's gradient, nil for Forward
	back  bool      // ForwardBackward
	fused bool      // the loss phase writes the gradient too, for the scale s0
	// sparse: the gradient is taken of the kept rows alone, after the selection (sparseGradient);
	// the loss phase writes no statistics
	sparse bool
	s0     float32
	keep   float64 // fused: the fraction of the valid rows the selection keeps
}

// prepare validates the call, sizes the scratch for it and decides whether the loss phase writes
// the gradient (fusedScale).
func (l *Loss) prepare(grad []float32, b Batch, backward bool) (call, error) {
	sh, err := b.shape(true)
	if err != nil {
		return call{}, err
	}
	if w := l.cfg.ClassWeights; w != nil && len(w) != sh.c {
		return call{}, fmt.Errorf("%w: len(ClassWeights) = %d, want Classes = %d", ErrConfig, len(w), sh.c)
	}
	if l.rule == ruleNegPos && sh.sig && l.cfg.Background != 0 {
		return call{}, fmt.Errorf("%w: Background = %d, want 0 with Sigmoid (the positives are the targets 1)", ErrConfig, l.cfg.Background)
	}
	if l.rule == ruleNegPos && int(l.cfg.Background) >= sh.c {
		return call{}, fmt.Errorf("%w: Background = %d, want < Classes = %d", ErrConfig, l.cfg.Background, sh.c)
	}
	// Where the loss kernels check the targets as they go, compute reports a bad one.
	if !kernelsCheckTargets(l.ks, sh, l.cfg.LabelSmoothing) {
		if err := checkTargets(l.ks, b.Targets, sh); err != nil {
			return call{}, err
		}
	}
	n := sh.n
	l.losses = grow(l.losses, n)
	l.ranked, l.counted = false, false
	if l.rule == ruleNegPos {
		l.rank = grow(l.rank, n)
		// Sigmoid batches: the loss pass writes the ranks too, where the set can.
		l.ranked = sh.sig && l.ks.sigLossRank != nil
	}
	if cap(l.selected) < n {
		l.selected = make([]int32, 0, n)
	}
	c := call{b: b, sh: sh, grad: grad, back: backward}
	if backward {
		l.scale = grow(l.scale, n)
		// In place (grad is the logits) the loss phase must not write the gradient: rows it
		// predicts dropped are zeroed early, and a misprediction reads the row's logits again.
		inPlace := len(grad) > 0 && &grad[0] == &b.Logits[0]
		if c.s0, c.keep, c.fused = l.fusedScale(b, sh); c.fused && inPlace {
			c.fused = false
		}
		if c.fused && !sh.sig {
			l.dropped = grow(l.dropped, n)
		}
		if !c.fused {
			c.sparse = l.sparseRows(b, sh)
		}
		if !sh.sig && !c.sparse { // the Sigmoid gradient needs no statistics
			l.st = stats{grow(l.st.m, n), grow(l.st.ls, n), grow(l.st.pt, n)}
		}
	}
	return c, nil
}

// compute runs the loss phase: the losses, and for ForwardBackward the statistics (or, fused,
// the gradient for the scale s0); a Sigmoid target out of range is the ErrTarget error, a NaN
// loss the ErrNonFinite error.
func (l *Loss) compute(c *call) error {
	n := c.sh.n
	switch {
	case c.fused:
		// The loss phase also writes the gradient, for the scale every kept row will have.
		l.parallel(c.b, c.sh, c.grad, phaseFused, c.s0, c.keep)
	case c.back && !c.sparse:
		l.parallel(c.b, c.sh, nil, phaseStats, 0, 0)
	default:
		l.parallel(c.b, c.sh, nil, phaseLoss, 0, 0)
	}
	var ch check
	for _, v := range l.checks {
		ch |= v
	}
	if ch&checkBad != 0 {
		return checkTargets(l.ks, c.b.Targets, c.sh)
	}
	if ch&checkNaN != 0 && l.ks.countAtLeast(l.losses[:n], nan32) > 0 {
		return nonFinite(c.b.Logits, c.sh, firstNaN(l.losses[:n]))
	}
	l.n, l.zeroed = n, false
	return nil
}

// selectGroups selects the kept samples, per image or over the whole batch, into l.selected and
// returns the number of valid samples.
func (l *Loss) selectGroups(c *call) int {
	groups, per := 1, c.sh.n
	if l.cfg.PerImage {
		groups, per = c.sh.images, c.sh.per
	}
	sel := l.selected[:0]
	valid := 0
	l.cuts = grow(l.cuts, groups)
	for g := range groups {
		lo := g * per
		var v int
		var rank []float32
		if l.rank != nil {
			rank = l.rank[lo : lo+per]
		}
		l.cuts[g] = groupCut{}
		var pre *targetCount
		if l.counted {
			pre = &l.counts[g]
		}
		// After the fused Sigmoid pass, the selection's last pass over the group zeroes the
		// gradient of the samples it drops, where it can (groupCut.zeroed).
		var grad []float32
		if c.fused && c.sh.sig {
			grad = c.grad[lo : lo+per]
		}
		sel, v = l.choose(sel, l.losses[lo:lo+per], rank, c.b.Targets[lo:lo+per], grad, int32(lo), pre, &l.cuts[g])
		valid += v
	}
	l.selected = sel
	return valid
}

// A targetCount is a group's count of valid samples (t >= 0) and of those not the background
// (NegPosRatio's positives).
type targetCount struct{ valid, pos int }

// A groupCut says, when exact is set, that a group kept exactly its samples whose on[i] >= at
// (NaN included; on is the group's losses, or NegPosRatio's ranks): zeroBelow(g, on, at) then
// zeroes the gradient of its dropped samples in one pass, which zeroed says the selection's
// last pass did already.
type groupCut struct {
	on            []float32
	at            float32
	exact, zeroed bool
}

// set records what the selector's last topK kept of x. A cut at NaN (NegPosRatio keeping its
// positives, whose ranks are NaN, and no negative) is not one zeroBelow can draw: no float is
// below NaN; the gaps between the kept samples do it.
func (gc *groupCut) set(x []float32, s *selector) {
	*gc = groupCut{on: x, at: s.cutAt, exact: s.cutExact && s.cutAt == s.cutAt, zeroed: s.cutZeroed}
}

// reduce sums the kept losses, in index order with four float64 accumulators (the same bits
// whatever Workers is), and returns the result and the reduction's denominator W.
func (l *Loss) reduce(c *call, valid int) (Result, float64) {
	sel := l.selected
	res := Result{Kept: len(sel), Valid: valid}
	var num, den [4]float64
	w := l.cfg.ClassWeights
	thr := float32(math.Inf(1))
	losses := l.losses[:c.sh.n]
	if w == nil {
		num, thr = sumKept(losses, sel)
		den[0] = float64(len(sel))
	} else {
		for k, i := range sel {
			v := losses[i]
			thr = min(thr, v)
			if wi := float64(w[c.sh.class(int(i), c.b.Targets[i])]); wi != 0 {
				num[k&3] += wi * float64(v)
				den[k&3] += wi
			}
		}
	}
	if len(sel) > 0 {
		res.Threshold = thr
	}
	total := (num[0] + num[1]) + (num[2] + num[3])
	var denom float64
	switch l.cfg.Reduction {
	case MeanKept:
		denom = (den[0] + den[1]) + (den[2] + den[3])
	case MeanValid:
		denom = float64(valid)
		if w != nil {
			var d [4]float64
			for i, t := range c.b.Targets {
				if t >= 0 {
					d[i&3] += float64(w[c.sh.class(i, t)])
				}
			}
			denom = (d[0] + d[1]) + (d[2] + d[3])
		}
	case Sum:
		denom = 1
	}
	if denom > 0 && len(sel) > 0 {
		res.Loss = float32(total / denom)
	}
	return res, denom
}

// sumKept returns the four float64 sums (sample k of sel in sum k mod 4) and the least of the
// kept losses (+Inf when none is kept), without class weights.
func sumKept(losses []float32, sel []int32) ([4]float64, float32) {
	// Two running minima by plain compares (losses are never NaN here; the builtin min, which
	// orders NaN and −0, costs twice the loop): only a minimum of ±0 needs the builtin's −0.
	thr := float32(math.Inf(1))
	t0, t1 := thr, thr
	var n0, n1, n2, n3 float64 // num's four sums, in registers
	k := 0
	for ; k+4 <= len(sel); k += 4 {
		s := sel[k : k+4 : k+4]
		v0, v1, v2, v3 := losses[s[0]], losses[s[1]], losses[s[2]], losses[s[3]]
		if v0 < t0 {
			t0 = v0
		}
		if v1 < t1 {
			t1 = v1
		}
		if v2 < t0 {
			t0 = v2
		}
		if v3 < t1 {
			t1 = v3
		}
		n0 += float64(v0)
		n1 += float64(v1)
		n2 += float64(v2)
		n3 += float64(v3)
	}
	num := [4]float64{n0, n1, n2, n3}
	for ; k < len(sel); k++ {
		v := losses[sel[k]]
		t0 = min(t0, v)
		num[k&3] += float64(v)
	}
	if thr = min(t0, t1); thr == 0 {
		for _, i := range sel {
			thr = min(thr, losses[i])
		}
	}
	return num, thr
}

// gradient finishes ForwardBackward's gradient for the reduction's denominator: after a fused
// loss phase whose scale s0 turned out right, it zeroes the dropped samples (and writes the rows
// predicted dropped that were kept); otherwise it runs the gradient phase with each kept
// sample's scale w_i / W.
func (l *Loss) gradient(c *call, valid int, denom float64) {
	sel, n, grad, b := l.selected, c.sh.n, c.grad, c.b
	if c.fused && denom > 0 && len(sel) > 0 && float32(1/denom) == c.s0 {
		if c.sh.sig {
			if len(sel) < valid {
				l.zeroDropped(grad)
			}
			return
		}
		// Every kept row has its gradient but those predicted dropped, which get it now; the
		// others are zeroed, but those predicted dropped. (Otherwise, e.g. when KeepTies kept more
		// rows than foreseen, the gradient pass below writes every row again.)
		losses := l.losses[:n]
		prev := 0
		for _, i := range sel {
			l.clearRows(grad, b.Targets, prev, int(i), c.sh.c)
			if l.dropped[i] {
				k, lo, hi := c.sh.c, int(i), int(i)+1
				l.ks.ceGradRows(losses[lo:hi], l.st.slice(lo, hi), grad[lo*k:hi*k], b.Logits[lo*k:hi*k], b.Targets[lo:hi], l.dropped[lo:hi], k, l.cfg.LabelSmoothing, float32(math.Inf(-1)), c.s0, 1)
			}
			prev = int(i) + 1
		}
		l.clearRows(grad, b.Targets, prev, n, c.sh.c)
		return
	}
	if c.sparse {
		l.sparseGradient(c, denom)
		return
	}
	w := l.cfg.ClassWeights
	clear(l.scale[:n])
	switch {
	case denom <= 0:
	case w == nil:
		sc := float32(1 / denom)
		for _, i := range sel {
			l.scale[i] = sc
		}
	default:
		for _, i := range sel {
			l.scale[i] = float32(float64(w[c.sh.class(int(i), b.Targets[i])]) / denom)
		}
	}
	l.parallel(b, c.sh, grad, phaseGrad, 0, 0)
}

// zeroDropped zeroes the gradient of the samples the selection dropped after the fused Sigmoid
// pass, which wrote every valid sample's gradient and 0 for the ignored ones: a group whose cut is
// exact in one zeroBelow pass over it, any other by the gaps between its kept samples.
func (l *Loss) zeroDropped(grad []float32) {
	sel := l.selected
	per := l.n / len(l.cuts)
	k := 0 // sel[k:] are the kept samples of groups g and on
	for g, gc := range l.cuts {
		lo, hi := g*per, (g+1)*per
		end := len(sel)
		if g < len(l.cuts)-1 {
			end, _ = slices.BinarySearch(sel, int32(hi)) // sel is ascending
		}
		switch {
		case gc.exact && gc.at == -math.MaxFloat32:
			// every valid sample kept; the ignored ones' gradient is 0 already
		case gc.exact && gc.zeroed:
			// the selection's indicesZeroBelow pass zeroed the dropped ones
		case gc.exact:
			l.ks.zeroBelow(grad[lo:hi], gc.on, gc.at)
		default:
			prev := lo
			for _, i := range sel[k:end] {
				clear(grad[prev:i])
				prev = int(i) + 1
			}
			clear(grad[prev:hi])
		}
		k = end
	}
}

// fusedScale decides whether ForwardBackward computes the gradient in its loss phase (the kernel
// set's ceGradRows, or sigLossGrad for Sigmoid batches) and returns the scale w_i/W of every kept
// row and the fraction of the valid rows kept when it does: that needs W before the losses, which
// the rules Keep and KeepRatio (and keeping every sample) without class weights give: the count
// they keep; for Sigmoid batches NegPosRatio too (every positive and kneg negatives, both counted
// from the targets).
func (l *Loss) fusedScale(b Batch, sh shape) (float32, float64, bool) {
	ks, cfg := l.ks, &l.cfg
	fusable := !sh.planar() && ks.ceGradRows != nil && ks.fuseRows(sh.c, cfg.LabelSmoothing)
	// NegPosRatio knows its count from the targets too (every positive, kneg negatives); the
	// Sigmoid pass that fuses it also writes its ranks.
	negPos := l.rule == ruleNegPos && sh.sig && l.ranked && ks.sigLossGradRank != nil
	if sh.sig {
		fusable = ks.sigLossGrad != nil
	}
	if !fusable || cfg.ClassWeights != nil {
		return 0, 0, false
	}
	if l.rule != ruleAll && l.rule != ruleKeep && l.rule != ruleRatio && !negPos {
		return 0, 0, false
	}
	valid, kept := l.countKept(b, sh)
	var denom float64
	switch cfg.Reduction {
	case MeanKept:
		denom = float64(kept)
	case MeanValid:
		denom = float64(valid)
	case Sum:
		denom = 1
	}
	// Softmax rows fuse when at least half of the valid rows are kept (a dropped row's gradient
	// may be written twice: first the gradient, then zeros). A Sigmoid sample's separate gradient
	// pass reads its logit, target and scale and writes its gradient; fused, the loss pass writes
	// the gradient and one pass over the losses or ranks zeroes the dropped (zeroDropped): fused at
	// any fraction kept.
	if kept == 0 || 2*kept < valid && !sh.sig || !(denom > 0) {
		return 0, 0, false
	}
	return float32(1 / denom), float64(kept) / float64(valid), true
}

// clearRows zeroes the gradient of the dropped rows in [lo, hi) after the fused loss phase: the
// valid ones that ceGradRows did not already zero (an ignored row's is zero too).
func (l *Loss) clearRows(g []float32, t []int32, lo, hi, c int) {
	done := func(i int) bool { return t[i] < 0 || l.dropped[i] }
	for lo < hi {
		for lo < hi && done(lo) {
			lo++
		}
		end := lo
		for end < hi && !done(end) {
			end++
		}
		clear(g[lo*c : end*c])
		lo = end
	}
}

// choose appends the kept indices of one group to sel and returns it with the group's count of
// valid samples. loss holds the group's losses, −Inf for ignored samples; t its targets; rank is
// NegPosRatio's scratch; grad, when not nil, the group's gradient as the fused Sigmoid pass wrote
// it, which the selection's last pass zeroes where it drops a sample, when it can (gc.zeroed);
// base the index of the group's first sample; pre, when not nil, the group's targets counted
// already; gc receives what tells the kept samples from the dropped.
func (l *Loss) choose(sel []int32, loss, rank []float32, t []int32, grad []float32, base int32, pre *targetCount, gc *groupCut) ([]int32, int) {
	const lowest = -math.MaxFloat32 // every loss is >= it, −Inf is not
	cfg := &l.cfg
	var valid, pos int
	switch {
	case pre != nil: // fusedScale counted the group's targets already
		valid, pos = pre.valid, pre.pos
	case l.ranked:
		// NegPosRatio with the loss phase's ranks: both counts in one pass over the targets.
		valid, pos = l.ks.countTargets(t, cfg.Background)
	default:
		valid = l.ks.countAtLeast(loss, lowest)
	}
	k := l.keepCount(valid)
	switch l.rule {
	case ruleProb:
		// p < t ⇔ float64(l) > −ln t ⇔ l >= f, f the least float32 above −ln t.
		lim := -math.Log(float64(cfg.ProbThreshold))
		f := float32(lim)
		if float64(f) <= lim {
			f = math.Nextafter32(f, float32(math.Inf(1)))
		}
		k = min(cfg.MinKept, valid)
		if l.ks.countAtLeast(loss, f) >= k {
			n := l.ks.indicesAtLeast(sel[len(sel):cap(sel)], loss, f, base)
			*gc = groupCut{on: loss, at: f, exact: true}
			return sel[:len(sel)+n], valid
		}
	case ruleNegPos:
		if !l.ranked {
			pos = l.ks.negPosRanks(rank, loss, t, cfg.Background)
		}
		if kneg := l.negKept(valid, pos); kneg < valid-pos {
			sel = l.sel.topK(sel, rank, pos+kneg, base, cfg.KeepTies, grad)
			gc.set(rank, &l.sel)
			return sel, valid
		}
	}
	if k == 0 {
		return sel, valid
	}
	if k == valid {
		n := l.ks.indicesAtLeast(sel[len(sel):cap(sel)], loss, lowest, base)
		*gc = groupCut{on: loss, at: lowest, exact: true}
		return sel[:len(sel)+n], valid
	}
	sel = l.sel.topK(sel, loss, k, base, cfg.KeepTies, grad)
	gc.set(loss, &l.sel)
	return sel, valid
}

// negPosRanksGeneric is the generic set's negPosRanks. Branch-free (conditional moves): positives
// and ignored samples come in any order.
func negPosRanksGeneric(rank, loss []float32, t []int32, bg int32) int {
	t = t[:len(loss)]
	rank = rank[:len(loss)]
	pos := 0
	for i, v := range loss {
		ti := t[i]
		p := uint32(^ti) >> 31 // 1 for a valid sample
		if ti == bg {
			p = 0
		}
		m := -p // all ones for a positive: its rank is the quiet NaN
		rank[i] = math.Float32frombits(math.Float32bits(v)&^m | 0x7fc00000&m)
		pos += int(p)
	}
	return pos
}

// keepCount is k, the count the rule keeps of a group's valid samples, for the rules All, Keep and
// KeepRatio (KeepTies aside); valid for the others.
func (l *Loss) keepCount(valid int) int {
	switch l.rule {
	case ruleKeep:
		return min(l.cfg.Keep, valid)
	case ruleRatio:
		k := int(math.Floor(l.cfg.KeepRatio * float64(valid)))
		if k < 1 && valid > 0 {
			k = 1
		}
		return min(k, valid)
	}
	return valid
}

// parallelMin is the least number of logits per worker worth a goroutine.
const parallelMin = 1 << 15

// The phases of a call.
const (
	phaseLoss  = iota // the losses
	phaseStats        // the losses and the gradient's statistics
	phaseFused        // phaseStats, and the gradient of every row for the scale s0 (ceGradRows)
	phaseGrad         // the gradient
)

// parallel runs a phase over every sample, split across Workers goroutines when the batch is large
// enough. Each sample's result depends on that sample alone, so the split changes no bit.
func (l *Loss) parallel(b Batch, sh shape, grad []float32, phase int, s0 float32, keep float64) {
	workers := min(max(l.cfg.Workers, 1), sh.logits()/parallelMin, sh.n)
	j := job{ks: l.ks, b: b, sh: sh, eps: l.cfg.LabelSmoothing, fill: float32(math.Inf(-1)), losses: l.losses, grad: grad, scale: l.scale, chunks: 1, phase: phase, s0: s0, keep: keep, dropped: l.dropped}
	if workers > 1 {
		j.chunks = 4 * workers
	}
	l.checks = grow(l.checks, j.chunks)
	j.checks = l.checks
	if phase != phaseLoss {
		j.st = l.st
	}
	if l.ranked && phase != phaseGrad {
		j.rank = l.rank
	}
	if workers <= 1 {
		j.chunk(0)
		return
	}
	l.pool.run(j, workers)
}

// job is one phase of a call (phaseLoss, ...): the loss phases compute losses (and st when it is
// on), the fused phase also the gradient for the scale s0, the gradient phase the gradient.
type job struct {
	ks            *kernelSet
	b             Batch
	sh            shape
	eps, fill     float32
	st            stats
	losses, scale []float32
	grad          []float32
	chunks        int
	phase         int
	s0            float32   // phaseFused: the scale of every kept row
	keep          float64   // phaseFused: the fraction of the valid rows kept
	dropped       []bool    // phaseFused: the rows predicted dropped
	rank          []float32 // the loss phases of Sigmoid batches: NegPosRatio's ranks too (sigLossRank)
	checks        []check   // the loss phases: each chunk's kernel checks
}

// chunk computes chunk c of chunks.
func (j *job) chunk(c int) {
	n := j.sh.n
	lo, hi := c*n/j.chunks, (c+1)*n/j.chunks
	switch j.phase {
	case phaseGrad:
		gradRange(j.ks, j.grad, j.st, j.scale, &j.b, j.sh, lo, hi, j.eps)
	case phaseFused:
		if j.sh.sig && j.rank != nil {
			j.checks[c] = j.ks.sigLossGradRank(j.losses[lo:hi], j.rank[lo:hi], j.grad[lo:hi], j.b.Logits[lo:hi], j.b.Targets[lo:hi], j.eps, j.fill, j.s0)
			return
		}
		if j.sh.sig {
			j.checks[c] = j.ks.sigLossGrad(j.losses[lo:hi], j.grad[lo:hi], j.b.Logits[lo:hi], j.b.Targets[lo:hi], j.eps, j.fill, j.s0)
			return
		}
		k := j.sh.c
		j.ks.ceGradRows(j.losses[lo:hi], j.st.slice(lo, hi), j.grad[lo*k:hi*k], j.b.Logits[lo*k:hi*k], j.b.Targets[lo:hi], j.dropped[lo:hi], k, j.eps, j.fill, j.s0, j.keep)
		j.checks[c] = checkNaN
	default:
		if j.rank != nil {
			j.checks[c] = j.ks.sigLossRank(j.losses[lo:hi], j.rank[lo:hi], j.b.Logits[lo:hi], j.b.Targets[lo:hi], j.eps, j.fill)
			return
		}
		j.checks[c] = ceRange(j.ks, j.losses, j.st, &j.b, j.sh, lo, hi, j.eps, j.fill)
	}
}

// pool holds persistent worker goroutines; they wait on start and claim chunks through next.
// Starting goroutines per call would allocate now and then; waking parked ones never does.
type pool struct {
	start   chan struct{}
	job     job
	next    atomic.Int64
	done    sync.WaitGroup
	alive   sync.WaitGroup // the started workers, until they exit
	started int
}

func (p *pool) run(j job, workers int) {
	for ; p.started < workers-1; p.started++ {
		p.alive.Add(1)
		go p.loop(p.start)
	}
	p.job = j
	p.next.Store(0)
	p.done.Add(workers - 1)
	for range workers - 1 {
		p.start <- struct{}{}
	}
	p.claim()
	p.done.Wait()
	p.job = job{}
}

func (p *pool) loop(start <-chan struct{}) {
	defer p.alive.Done()
	for range start {
		p.claim()
		p.done.Done()
	}
}

// stop ends the started workers and waits for them; the next run starts new ones.
func (p *pool) stop() {
	if p.started == 0 {
		return
	}
	close(p.start)
	p.alive.Wait()
	p.start, p.started = make(chan struct{}), 0
}

func (p *pool) claim() {
	for {
		c := int(p.next.Add(1) - 1)
		if c >= p.job.chunks {
			return
		}
		p.job.chunk(c)
	}
}

// The sparse gradient. When a selection keeps few of the rows of C = 2 (a region proposal
// network's 256 anchors of 8,192 per image), the statistics pass and a gradient pass over every
// row cost more than the gradient needs: C = 2's statistics (12 bytes a row) outweigh its logits
// (8 bytes). The loss phase then runs as Forward's (no statistics), and after the selection
// sparseGradient gathers the kept rows' logits into a small buffer a chunk at a time, takes their
// statistics and gradient there with the same kernels (ceRows and gradRows) and writes them back,
// zeroing the dropped rows in between. rpn's ForwardBackward / (Forward + copy), AMD EPYC (Zen 5),
// 7 alternated rounds: avx512 1.30 → 1.12, avx2 1.31 → 1.08. For C = 21 and 81 (SSD, ~4% kept) it
// was slower (ssd21 3.2 → 4.0 ms on avx512): there the gradient pass's cost is the zero fill of
// the dropped rows, which this path pays as well, plus a copy of each kept row both ways.
const (
	sparseFrac     = 8       // sparse when at most 1/sparseFrac of the rows are expected kept
	sparseMaxC     = 2       // and C = 2 (see above)
	sparseElements = 1 << 14 // logits a chunk of the buffer holds (64 KiB), at least one row
)

// negKept is NegPosRatio's count of negatives kept in a group of valid samples, pos of them
// positives: NegPosRatio per positive, at least MinKept, at most every negative.
func (l *Loss) negKept(valid, pos int) int {
	return min(valid-pos, max(int(math.Floor(l.cfg.NegPosRatio*float64(pos))), l.cfg.MinKept))
}

// countKept counts each group's valid samples and positives into l.counts (choose then takes
// them instead of counting again) and returns the batch's valid samples and the rule's count of
// kept ones: NegPosRatio's every positive and negKept negatives (KeepTies may keep more), or
// keepCount of the valid samples.
func (l *Loss) countKept(b Batch, sh shape) (valid, kept int) {
	groups, per := 1, sh.n
	if l.cfg.PerImage {
		groups, per = sh.images, sh.per
	}
	l.counts = grow(l.counts, groups)
	for g := range groups {
		v, pos := l.ks.countTargets(b.Targets[g*per:(g+1)*per], l.cfg.Background)
		l.counts[g] = targetCount{v, pos}
		valid += v
		if l.rule == ruleNegPos {
			kept += pos + l.negKept(v, pos)
		} else {
			kept += l.keepCount(v)
		}
	}
	l.counted = true
	return valid, kept
}

// sparse holds sparseGradient's buffers, sized for one chunk of kept rows.
type sparse struct {
	x, g, loss, scale []float32
	t                 []int32
	st                stats
}

// sparseRows decides whether ForwardBackward on softmax rows takes the sparse gradient: when the
// rule's count (Keep, KeepRatio, or NegPosRatio's from the targets: countKept) keeps at most
// 1/sparseFrac of the rows.
func (l *Loss) sparseRows(b Batch, sh shape) bool {
	cfg := &l.cfg
	if sh.sig || sh.planar() || sh.c > sparseMaxC {
		return false
	}
	groups, per := 1, sh.n
	if cfg.PerImage {
		groups, per = sh.images, sh.per
	}
	kept := 0
	switch l.rule {
	case ruleKeep, ruleRatio:
		kept = groups * l.keepCount(per) // at most; every row may be valid
	case ruleNegPos:
		_, kept = l.countKept(b, sh)
	default:
		return false
	}
	return kept*sparseFrac <= sh.n
}

// sparseGradient writes ForwardBackward's gradient of softmax rows from the kept rows alone (see
// sparse): each chunk of kept rows is gathered, its statistics and gradient computed in the
// buffer, and written back, the dropped rows before each zeroed. The gaps are zeroed only up to
// the chunk's rows, so in place (grad is the logits) no row is zeroed before it is read.
func (l *Loss) sparseGradient(c *call, denom float64) {
	sel, b, k, n := l.selected, c.b, c.sh.c, c.sh.n
	grad := c.grad[:n*k]
	if !(denom > 0) || len(sel) == 0 {
		clear(grad)
		return
	}
	rows := max(1, sparseElements/k) // not by len(sel): a warm call allocates nothing
	sp := &l.sp
	sp.x, sp.g = grow(sp.x, rows*k), grow(sp.g, rows*k)
	sp.loss, sp.scale, sp.t = grow(sp.loss, rows), grow(sp.scale, rows), grow(sp.t, rows)
	sp.st = stats{grow(sp.st.m, rows), grow(sp.st.ls, rows), grow(sp.st.pt, rows)}
	w, eps := l.cfg.ClassWeights, l.cfg.LabelSmoothing
	sc := float32(1 / denom)
	prev := 0 // the rows before prev are written
	for len(sel) > 0 {
		m := min(rows, len(sel))
		chunk := sel[:m]
		x, g, t := sp.x[:m*k], sp.g[:m*k], sp.t[:m]
		for j, i := range chunk {
			if k == 2 { // a call of copy costs more than the two loads
				x[2*j], x[2*j+1] = b.Logits[2*i], b.Logits[2*i+1]
			} else {
				copy(x[j*k:(j+1)*k], b.Logits[int(i)*k:(int(i)+1)*k])
			}
			ti := b.Targets[i]
			t[j] = ti
			sp.scale[j] = sc
			if w != nil {
				sp.scale[j] = float32(float64(w[ti]) / denom)
			}
		}
		st := sp.st.slice(0, m)
		l.ks.ceRows(sp.loss[:m], st, x, t, k, eps, 0)
		l.ks.gradRows(g, x, t, st, sp.scale[:m], k, eps)
		for j, i := range chunk {
			clear(grad[prev*k : int(i)*k])
			if k == 2 {
				grad[2*i], grad[2*i+1] = g[2*j], g[2*j+1]
			} else {
				copy(grad[int(i)*k:(int(i)+1)*k], g[j*k:(j+1)*k])
			}
			prev = int(i) + 1
		}
		sel = sel[m:]
	}
	clear(grad[prev*k:])
}
