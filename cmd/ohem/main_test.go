package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/workload"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestInfo(t *testing.T) {
	code, out, errs := runCmd(t, "info")
	if code != 0 || errs != "" {
		t.Fatalf("info: exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{runtime.Version(), runtime.GOARCH, "kernel:       " + ohem.Kernel(), "generic"} {
		if !strings.Contains(out, want) {
			t.Errorf("info output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchJSON(t *testing.T) {
	// rpn only: seg must never be built by a test (84 MB).
	code, out, errs := runCmd(t, "bench", "-only", "rpn", "-time", "10ms", "-json")
	if code != 0 {
		t.Fatalf("bench: exit %d, stderr %q", code, errs)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench -json output does not parse: %v\n%s", err, out)
	}
	if rep.Clock != "wall" {
		t.Errorf("clock %q, want wall", rep.Clock)
	}
	if rep.Kernel != ohem.Kernel() || len(rep.Sets) != 1 || rep.Sets[0] != ohem.Kernel() {
		t.Fatalf("kernel %q, sets %v; want %q", rep.Kernel, rep.Sets, ohem.Kernel())
	}
	r, ok := rep.Results[ohem.Kernel()]["rpn"]
	if !ok || len(rep.Results[ohem.Kernel()]) != 1 {
		t.Fatalf("results: %+v", rep.Results)
	}
	if r.ForwardMS <= 0 || r.ForwardBackwardMS <= 0 || r.GelemS <= 0 || r.CrossEntropyMS <= 0 || r.CopyMS <= 0 {
		t.Errorf("rpn: %+v", r)
	}
}

func TestBenchTable(t *testing.T) {
	code, out, errs := runCmd(t, "bench", "-all", "-only", "kth_1e5", "-time", "1ms")
	if code != 0 {
		t.Fatalf("bench: exit %d, stderr %q", code, errs)
	}
	for _, s := range ohem.KernelSets() {
		if !strings.Contains(out, s.Name()+" ") {
			t.Errorf("table lacks set %s:\n%s", s.Name(), out)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 0},
		{[]string{"help"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{"bench", "-only", "nope"}, 2},
		{[]string{"bench", "-bogus"}, 2},
		{[]string{"bench", "extra"}, 2},
	} {
		code, out, errs := runCmd(t, tc.args...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d", tc.args, code, tc.code)
		}
		if !strings.Contains(out+errs, "usage:") && tc.args != nil && tc.args[0] != "bench" {
			t.Errorf("%q: no usage in output", tc.args)
		}
	}
}

func TestBenchSets(t *testing.T) {
	code, out, errs := runCmd(t, "bench", "-sets", "generic", "-only", "kth_1e5", "-time", "1ms", "-json")
	if code != 0 {
		t.Fatalf("bench: exit %d, stderr %q", code, errs)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Sets, []string{"generic"}) || rep.Results["generic"]["kth_1e5"].MS <= 0 {
		t.Errorf("-sets generic: sets %v, results %+v", rep.Sets, rep.Results)
	}
}

// sweepClasses of the tests: small, medium, the reference 1000 and one count above the 4096
// logits per call of the tests (a single row).
var sweepClasses = []int{1, 2, 3, 4, 21, 81, 1000, 8192}

func TestSweepJSON(t *testing.T) {
	const elems = 4096
	code, out, errs := runCmd(t, "bench", "-sweep", "-json", "-elems", fmt.Sprint(elems), "-time", "1ms",
		"-classes", "1,2,3,4,21,81,1000,8192")
	if code != 0 {
		t.Fatalf("sweep: exit %d, stderr %q", code, errs)
	}
	var rep SweepReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("sweep -json output does not parse: %v\n%s", err, out)
	}
	var names []string
	for _, s := range ohem.KernelSets() {
		names = append(names, s.Name())
	}
	ops := []string{"rows_ce", "rows_lse", "rows_fb", "planar_ce", "planar_lse", "planar_fb"}
	if !slices.Equal(rep.Sets, names) || !slices.Equal(rep.Ops, ops) || !slices.Equal(rep.Classes, sweepClasses) || rep.Elems != elems {
		t.Fatalf("sets %v, ops %v, classes %v, elems %d", rep.Sets, rep.Ops, rep.Classes, rep.Elems)
	}
	if want := map[bool]string{true: "thread", false: "wall"}[haveThreadClock]; rep.Clock != want {
		t.Errorf("clock %q, want %q", rep.Clock, want)
	}
	ref := slices.Index(sweepClasses, 1000)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }
	var misses []SweepMiss
	for _, set := range rep.Sets {
		for _, op := range ops {
			pts := rep.Results[set][op]
			if len(pts) != len(sweepClasses) {
				t.Fatalf("%s %s: %d points", set, op, len(pts))
			}
			for i, p := range pts {
				c := sweepClasses[i]
				if p.Classes != c || p.MS <= 0 || !near(p.GelemS, float64(p.Elems)/p.MS/1e6) {
					t.Errorf("%s %s C=%d: %+v", set, op, c, p)
				}
				// the shapes: rows = elems/C (at least 1); planar images x C x spatial (workload's test
				// checks PlanarShape)
				if strings.HasPrefix(op, "rows") {
					if p.Rows != max(1, elems/c) || p.Elems != p.Rows*c || p.Images != 0 || p.Spatial != 0 {
						t.Errorf("%s %s C=%d: shape %+v", set, op, c, p)
					}
				} else if images, s := workload.PlanarShape(c, elems); p.Rows != 0 || p.Images != images || p.Spatial != s || p.Elems != images*c*s {
					t.Errorf("%s %s C=%d: shape %+v", set, op, c, p)
				}
				want := p.GelemS / pts[ref].GelemS
				if !near(p.OfC1000, want) {
					t.Errorf("%s %s C=%d: of_c1000 %g, want %g", set, op, c, p.OfC1000, want)
				}
				floor := 0.5
				if c <= 3 {
					floor = 0.3
				}
				if want < floor {
					misses = append(misses, SweepMiss{"of_c1000", set, op, c, want, floor})
				}
				for _, other := range []string{"avx512", "generic"} {
					o, ok := rep.Results[other]
					got := p.OfAVX512
					if other == "generic" {
						got = p.OfGeneric
					}
					if !ok || set == other {
						if got != 0 {
							t.Errorf("%s %s C=%d: of_%s %g, want none", set, op, c, other, got)
						}
						continue
					}
					want := p.GelemS / o[op][i].GelemS
					if !near(got, want) {
						t.Errorf("%s %s C=%d: of_%s %g, want %g", set, op, c, other, got, want)
					}
					if other == "avx512" && set == "avx2" && want < 0.4 {
						misses = append(misses, SweepMiss{"of_avx512", set, op, c, want, 0.4})
					}
					if other == "generic" && want < 1 {
						misses = append(misses, SweepMiss{"of_generic", set, op, c, want, 1})
					}
				}
			}
		}
	}
	key := func(m SweepMiss) string { return fmt.Sprintf("%s/%s/%s/%d", m.Target, m.Set, m.Op, m.Classes) }
	var got, want []string
	for _, m := range rep.Misses {
		got = append(got, key(m))
	}
	for _, m := range misses {
		want = append(want, key(m))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("misses:\n%v\nwant\n%v", got, want)
	}
}

func TestSweepTable(t *testing.T) {
	// every default class count, on the best set and generic, at 1,024 logits per call
	sets := ohem.KernelSets()
	list := sets[0].Name() + ",generic"
	nsets := 2
	if sets[0].Name() == "generic" { // the pure-Go build: one set
		list, nsets = "generic", 1
	}
	code, out, errs := runCmd(t, "bench", "-sweep", "-sets", list, "-elems", "1024", "-time", "1ms")
	if code != 0 {
		t.Fatalf("sweep: exit %d, stderr %q", code, errs)
	}
	tables := strings.Split(out, "\n\n")
	if len(tables) != 1+len(sweepOps)+1 { // the header, one table per op, the misses
		t.Fatalf("%d blocks, want %d:\n%s", len(tables), 2+len(sweepOps), out)
	}
	for i, op := range sweepOps {
		lines := strings.Split(strings.TrimSpace(tables[1+i]), "\n")
		if lines[0] != op.label || len(lines) != 2+len(workload.SweepClasses) {
			t.Errorf("table %d: %q, %d lines:\n%s", i, lines[0], len(lines), tables[1+i])
			continue
		}
		head := strings.Fields(lines[1])
		if !slices.Equal(head[:2], []string{"C", "shape"}) || !strings.Contains(lines[1], sets[0].Name()) || !strings.Contains(lines[1], "generic") {
			t.Errorf("%s: header %q", op.label, lines[1])
		}
		for j, c := range workload.SweepClasses {
			f := strings.Fields(lines[2+j])
			if f[0] != fmt.Sprint(c) {
				t.Errorf("%s: row %d is %q, want C = %d", op.label, j, lines[2+j], c)
			}
			if c == 1000 && strings.Count(lines[2+j], "(1.00)") != nsets {
				t.Errorf("%s: C = 1000 row %q lacks (1.00) for each of %d sets", op.label, lines[2+j], nsets)
			}
		}
	}
	if !strings.HasPrefix(tables[len(tables)-1], "misses: ") {
		t.Errorf("no misses block:\n%s", tables[len(tables)-1])
	}
}

// TestSweepFill checks the fractions and misses on made-up rates.
func TestSweepFill(t *testing.T) {
	pt := func(c int, rate float64) SweepPoint { return SweepPoint{Classes: c, Elems: 1000, GelemS: rate} }
	rep := SweepReport{
		Classes: []int{2, 4, 1000},
		Sets:    []string{"avx512", "avx2", "generic"},
		Ops:     []string{"rows_ce"},
		Results: map[string]map[string][]SweepPoint{
			"avx512":  {"rows_ce": {pt(2, 3.5), pt(4, 4), pt(1000, 10)}},   // 0.35 (>= 0.3), 0.4 (< 0.5)
			"avx2":    {"rows_ce": {pt(2, 1), pt(4, 2.5), pt(1000, 4)}},    // avx2/avx512: 0.29, 0.62, 0.4
			"generic": {"rows_ce": {pt(2, 1.25), pt(4, 0.5), pt(1000, 1)}}, // C=2: avx2 below generic
		},
	}
	rep.fill()
	got := rep.Results["avx2"]["rows_ce"]
	if got[0].OfC1000 != 0.25 || got[1].OfC1000 != 0.625 || got[2].OfC1000 != 1 ||
		got[0].OfAVX512 != 1.0/3.5 || got[2].OfAVX512 != 0.4 || got[0].OfGeneric != 0.8 || got[2].OfGeneric != 4 {
		t.Errorf("avx2 points: %+v", got)
	}
	if g := rep.Results["generic"]["rows_ce"][0]; g.OfGeneric != 0 || g.OfAVX512 != 1.25/3.5 || g.OfC1000 != 1.25 {
		t.Errorf("generic point: %+v", g)
	}
	want := []SweepMiss{
		{"of_c1000", "avx512", "rows_ce", 4, 0.4, 0.5},
		{"of_c1000", "avx2", "rows_ce", 2, 0.25, 0.3},
		{"of_avx512", "avx2", "rows_ce", 2, 1.0 / 3.5, 0.4},
		{"of_generic", "avx2", "rows_ce", 2, 0.8, 1},
	}
	if !slices.Equal(rep.Misses, want) {
		t.Errorf("misses %+v, want %+v", rep.Misses, want)
	}
}

func TestSweepUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-sweep", "-classes", "0"},
		{"-sweep", "-classes", "2,2"},
		{"-sweep", "-classes", "x"},
		{"-sweep", "-classes", ","},
		{"-sweep", "-elems", "0"},
		{"-sweep", "-only", "rpn"},
		{"-classes", "3"},
		{"-elems", "100"},
		{"-sets", "nope"},
		{"-sets", ","},
		{"-cpu", "-workers", "2", "-only", "kth_1e5"},
	} {
		if code, _, _ := runCmd(t, append([]string{"bench"}, args...)...); code != 2 {
			t.Errorf("bench %q: exit %d, want 2", args, code)
		}
	}
	if got, err := parseClasses(" 1, 21 ,1000"); err != nil || !slices.Equal(got, []int{1, 21, 1000}) {
		t.Errorf("parseClasses: %v, %v", got, err)
	}
}

// TestThreadClock: the thread clock counts work on the thread, not time asleep.
func TestThreadClock(t *testing.T) {
	if !haveThreadClock {
		t.Skip("no thread CPU clock")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadTime()
	time.Sleep(50 * time.Millisecond)
	slept := threadTime() - t0
	t0 = threadTime()
	x := 1.0
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		x = math.Sqrt(x + 1)
	}
	busy := threadTime() - t0
	if slept > 10*time.Millisecond || busy <= 0 || x == 0 {
		t.Errorf("thread time: %v asleep for 50ms, %v busy for 20ms", slept, busy)
	}
}
