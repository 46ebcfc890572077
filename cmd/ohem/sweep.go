package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/workload"
)

// The class-count sweep (ohem bench -sweep): the throughput of the kernels of each set for every
// class count C at a fixed number of logits per call, and what issue 11 asks of it:
//   - every C runs at least 0.5x (C <= 3: 0.3x) the same set's rate at C = 1000 (refC),
//   - avx2 runs at least 0.4x avx512,
//   - no set runs slower than generic.

// A sweepOp is one measured operation on one layout.
type sweepOp struct {
	key, label string
	planar     bool
	kind       opKind
}

type opKind int

const (
	opCE  opKind = iota // KernelSet.CrossEntropy
	opLSE               // KernelSet.LogSumExp
	opFB                // Loss.ForwardBackward with sweepConfig
)

var sweepOps = []sweepOp{
	{"rows_ce", "row-major CrossEntropy", false, opCE},
	{"rows_lse", "row-major LogSumExp", false, opLSE},
	{"rows_fb", "row-major ForwardBackward (KeepRatio 0.7)", false, opFB},
	{"planar_ce", "planar CrossEntropy", true, opCE},
	{"planar_lse", "planar LogSumExp", true, opLSE},
	{"planar_fb", "planar ForwardBackward (KeepRatio 0.7)", true, opFB},
}

// sweepConfig is the rule of the ForwardBackward rows: the cls and lm workloads' (the fused
// row-major path takes it where the set has one).
var sweepConfig = ohem.Config{KeepRatio: 0.7}

// The targets of issue 11.
const (
	refC          = 1000 // the class count every set's other rates are set against
	floorOfRef    = 0.5  // every C at least this fraction of the set's rate at refC ...
	floorOfRefLow = 0.3  // ... and this one for C <= lowC
	lowC          = 3
	floorAVX2     = 0.4 // avx2 at least this fraction of avx512
)

// refFloor is the lowest fraction of the C = refC rate that C may run at.
func refFloor(c int) float64 {
	if c <= lowC {
		return floorOfRefLow
	}
	return floorOfRef
}

// SweepPoint is one measurement of the sweep: one set, one operation, one class count.
type SweepPoint struct {
	Classes int `json:"classes"`
	Rows    int `json:"rows,omitempty"`    // row-major: N
	Images  int `json:"images,omitempty"`  // planar: [Images][Classes][Spatial]
	Spatial int `json:"spatial,omitempty"` // planar
	Elems   int `json:"elems"`             // logits per call

	MS     float64 `json:"ms"`      // median per call
	GelemS float64 `json:"gelem_s"` // logits per second / 1e9

	// The rate as a fraction of the same set's at C = 1000, of avx512's (sets other than avx512)
	// and of generic's (sets other than generic) at the same C; 0 when that was not measured.
	OfC1000   float64 `json:"of_c1000,omitempty"`
	OfAVX512  float64 `json:"of_avx512,omitempty"`
	OfGeneric float64 `json:"of_generic,omitempty"`
}

// SweepMiss is a point that misses a target of issue 11.
type SweepMiss struct {
	Target  string  `json:"target"` // "of_c1000", "of_avx512" or "of_generic"
	Set     string  `json:"set"`
	Op      string  `json:"op"`
	Classes int     `json:"classes"`
	Value   float64 `json:"value"` // the point's fraction
	Floor   float64 `json:"floor"` // what the target asks
}

// SweepReport is the -sweep -json output.
type SweepReport struct {
	Kernel    string                             `json:"kernel"`
	GoVersion string                             `json:"go_version"`
	GOOS      string                             `json:"goos"`
	GOARCH    string                             `json:"goarch"`
	Workers   int                                `json:"workers"`
	TimeS     float64                            `json:"time_s"`
	Clock     string                             `json:"clock"` // "wall" or "thread" (the thread's CPU time)
	Elems     int                                `json:"elems"` // logits asked per call (each point has its own count)
	Classes   []int                              `json:"classes"`
	Sets      []string                           `json:"sets"`
	Ops       []string                           `json:"ops"`
	Results   map[string]map[string][]SweepPoint `json:"results"` // set -> op -> one point per class count, in the order of Classes
	Misses    []SweepMiss                        `json:"misses"`
}

// runSweep measures every op of sweepOps on every set for every class count, prints the report
// (a table or JSON) and returns the exit code.
func runSweep(sets []ohem.KernelSet, classes []int, elems, workers int, budget time.Duration, cpu, asJSON bool, stdout, stderr io.Writer) int {
	rep := SweepReport{
		Kernel: ohem.Kernel(), GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		Workers: workers, TimeS: budget.Seconds(), Clock: clockName(cpu), Elems: elems, Classes: classes,
		Results: make(map[string]map[string][]SweepPoint),
	}
	for _, op := range sweepOps {
		rep.Ops = append(rep.Ops, op.key)
	}
	for _, s := range sets {
		rep.Sets = append(rep.Sets, s.Name())
		rep.Results[s.Name()] = make(map[string][]SweepPoint)
	}
	grad := make([]float32, 0)
	dst := make([]float32, 0)
	// Class count by class count, every set in turn: the sets' rates at one C are measured close
	// together in time, so their ratios suffer least from a shared machine's drift.
	for _, c := range classes {
		rows, planar := workload.SweepRows(c, elems), workload.SweepPlanar(c, elems)
		for _, s := range sets {
			for _, op := range sweepOps {
				b := rows
				p := SweepPoint{Classes: c, Rows: len(rows.Targets), Elems: len(rows.Logits)}
				if op.planar {
					b = planar
					p = SweepPoint{Classes: c, Images: len(b.Targets) / b.Spatial, Spatial: b.Spatial, Elems: len(b.Logits)}
				}
				if cap(grad) < len(b.Logits) {
					grad = make([]float32, len(b.Logits))
				}
				if cap(dst) < len(b.Targets) {
					dst = make([]float32, len(b.Targets))
				}
				var f func() error
				switch op.kind {
				case opCE:
					f = func() error { return s.CrossEntropy(dst[:len(b.Targets)], b) }
				case opLSE:
					f = func() error { return s.LogSumExp(dst[:len(b.Targets)], b) }
				case opFB:
					cfg := sweepConfig
					cfg.Kernel, cfg.Workers = s.Name(), workers
					l, err := ohem.New(cfg)
					if err != nil {
						fmt.Fprintln(stderr, "ohem bench:", err)
						return 1
					}
					g := grad[:len(b.Logits)]
					f = func() error { _, err := l.ForwardBackward(g, b); return err }
				}
				ms, err := measure(budget, cpu, f)
				if err != nil {
					fmt.Fprintf(stderr, "ohem bench: %s %s C=%d: %v\n", s.Name(), op.key, c, err)
					return 1
				}
				p.MS = ms
				p.GelemS = float64(p.Elems) / (ms * 1e-3) / 1e9
				rep.Results[s.Name()][op.key] = append(rep.Results[s.Name()][op.key], p)
			}
		}
		if !asJSON {
			fmt.Fprintf(stderr, "ohem bench -sweep: C = %d done\n", c)
		}
	}
	rep.fill()
	if asJSON {
		return writeJSON(stdout, stderr, rep)
	}
	printSweep(stdout, &rep, budget)
	return 0
}

// fill computes every point's fractions from the rates and lists the misses.
func (rep *SweepReport) fill() {
	rep.Misses = []SweepMiss{}
	ref := -1
	for i, c := range rep.Classes {
		if c == refC {
			ref = i
		}
	}
	avx512, generic := rep.Results["avx512"], rep.Results["generic"]
	for _, set := range rep.Sets {
		for _, op := range rep.Ops {
			pts := rep.Results[set][op]
			for i := range pts {
				p := &pts[i]
				if ref >= 0 && pts[ref].GelemS > 0 {
					p.OfC1000 = p.GelemS / pts[ref].GelemS
					if fl := refFloor(p.Classes); p.OfC1000 < fl {
						rep.Misses = append(rep.Misses, SweepMiss{"of_c1000", set, op, p.Classes, p.OfC1000, fl})
					}
				}
				if set != "avx512" && avx512 != nil && avx512[op][i].GelemS > 0 {
					p.OfAVX512 = p.GelemS / avx512[op][i].GelemS
					if set == "avx2" && p.OfAVX512 < floorAVX2 {
						rep.Misses = append(rep.Misses, SweepMiss{"of_avx512", set, op, p.Classes, p.OfAVX512, floorAVX2})
					}
				}
				if set != "generic" && generic != nil && generic[op][i].GelemS > 0 {
					p.OfGeneric = p.GelemS / generic[op][i].GelemS
					if p.OfGeneric < 1 {
						rep.Misses = append(rep.Misses, SweepMiss{"of_generic", set, op, p.Classes, p.OfGeneric, 1})
					}
				}
			}
		}
	}
}

// printSweep prints one table per operation: per class count and set the Gelem/s and, in
// parentheses, the fraction of the set's C = 1000 rate; then avx2/avx512 when both were measured.
// A '*' marks a fraction below its target, a '!' a rate below generic's; the misses follow.
func printSweep(w io.Writer, rep *SweepReport, budget time.Duration) {
	fmt.Fprintf(w, "ohem bench -sweep: %s %s/%s, workers %d, %v per measurement, median %s time; ~%d logits per call\n",
		rep.GoVersion, rep.GOOS, rep.GOARCH, rep.Workers, budget, rep.Clock, rep.Elems)
	fmt.Fprintf(w, "Gelem/s (logits per second / 1e9) and, in parentheses, the fraction of the set's rate at C = %d\n", refC)
	fmt.Fprintf(w, "targets: every C >= %.1fx the set's C = %d rate (%.1fx for C <= %d), avx2 >= %.1fx avx512, no set below generic\n",
		floorOfRef, refC, floorOfRefLow, lowC, floorAVX2)
	fmt.Fprintf(w, "* below the fraction's target, ! below generic\n")
	both := rep.Results["avx2"] != nil && rep.Results["avx512"] != nil
	labels := map[string]string{}
	for _, op := range sweepOps {
		labels[op.key] = op.label
	}
	for _, op := range rep.Ops {
		fmt.Fprintf(w, "\n%s\n", labels[op])
		fmt.Fprintf(w, "%7s %8s", "C", "shape")
		for _, s := range rep.Sets {
			fmt.Fprintf(w, " %17s", s)
		}
		if both {
			fmt.Fprintf(w, " %12s", "avx2/avx512")
		}
		fmt.Fprintln(w)
		for i, c := range rep.Classes {
			p0 := rep.Results[rep.Sets[0]][op][i]
			shape := fmt.Sprint(p0.Rows)
			if p0.Spatial > 0 {
				shape = fmt.Sprintf("%dx%d", p0.Images, p0.Spatial)
			}
			fmt.Fprintf(w, "%7d %8s", c, shape)
			for _, s := range rep.Sets {
				p := rep.Results[s][op][i]
				cell := fmt.Sprintf("%.3f", p.GelemS)
				if p.OfC1000 > 0 {
					mark := " "
					if p.OfC1000 < refFloor(c) {
						mark = "*"
					}
					cell += fmt.Sprintf(" (%.2f)%s", p.OfC1000, mark)
				}
				if p.OfGeneric > 0 && p.OfGeneric < 1 {
					cell += "!"
				}
				fmt.Fprintf(w, " %17s", cell)
			}
			if both {
				r := rep.Results["avx2"][op][i].OfAVX512
				mark := " "
				if r < floorAVX2 {
					mark = "*"
				}
				fmt.Fprintf(w, " %11.2f%s", r, mark)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\nmisses: %d\n", len(rep.Misses))
	for _, m := range rep.Misses {
		fmt.Fprintf(w, "  %-10s %-8s %-10s C=%-6d %.2f < %.2f\n", m.Target, m.Set, m.Op, m.Classes, m.Value, m.Floor)
	}
}

// parseClasses parses a comma-separated list of class counts (each >= 1, no repeats).
func parseClasses(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		var c int
		if _, err := fmt.Sscan(f, &c); err != nil || c < 1 || fmt.Sprint(c) != f {
			return nil, fmt.Errorf("bad class count %q", f)
		}
		for _, d := range out {
			if d == c {
				return nil, fmt.Errorf("class count %d given twice", c)
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no class counts in %q", s)
	}
	return out, nil
}
