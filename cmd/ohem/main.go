// Command ohem reports the kernel sets this machine runs and benchmarks them.
//
//	ohem info
//	ohem bench [-all | -sets avx2,generic] [-json] [-only rpn,cls] [-time 1s] [-workers N]
//	ohem bench -sweep [-sets avx512,avx2] [-classes 1,2,1000] [-elems 4194304] [-time 200ms] [-json]
//
// The workloads are those of bench/ and bench/torch/ohem_torch.py (internal/workload). The sweep
// measures CrossEntropy, LogSumExp and ForwardBackward, row-major and planar, for each of a list of
// class counts at a fixed number of logits per call, on every kernel set (sweep.go).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/workload"
)

const usage = `usage: ohem <command> [flags]

commands:
  info    Go version, platform, CPU features, the kernel in use and every kernel set available;
          exits with status 1 when OHEM_KERNEL names a set this CPU cannot run
  bench   time the benchmark workloads: median ms per Forward, ForwardBackward and CrossEntropy
          (KthLargest for kth_*), Gelem/s (logits per second / 1e9) of Forward, and copy ms:
          copying the logits into the gradient buffer, the floor of any ForwardBackward
  help    print this message

bench flags:
  -all         every kernel set (default: the kernel in use; with -sweep: every set)
  -sets list   comma-separated kernel sets (default: see -all)
  -json        print JSON instead of a table
  -only list   comma-separated workloads (default: all): %s
  -time d      time per measurement, at least 3 repetitions (default 1s; with -sweep 200ms)
  -workers n   Config.Workers (default 0: the calling goroutine only)
  -cpu         time each call by the CPU time of the calling thread, not the wall clock (Linux,
               workers 0 or 1; default false; with -sweep true): time spent waiting for a core
               on a busy machine is left out

  -sweep       instead of the workloads, the class-count sweep: Gelem/s of CrossEntropy,
               LogSumExp and ForwardBackward (KeepRatio 0.7), row-major and planar, per class
               count, as a fraction of the same set's rate at C = 1000, and avx2/avx512
  -classes l   the sweep's class counts (default: %s)
  -elems n     the sweep's logits per call (default %d; rows = elems/C, at least 1)
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return 0
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return 0
	case "info":
		info(stdout)
		if err := ohem.KernelEnv(); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case "bench":
		return bench(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "ohem: unknown command %q\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	cs := make([]string, len(workload.SweepClasses))
	for i, c := range workload.SweepClasses {
		cs[i] = fmt.Sprint(c)
	}
	fmt.Fprintf(w, usage, strings.Join(workload.Names(), ","), strings.Join(cs, ","), workload.SweepElems)
}

func info(w io.Writer) {
	env, ok := os.LookupEnv("OHEM_KERNEL")
	if !ok {
		env = "(unset)"
	}
	var sets []string
	for _, s := range ohem.KernelSets() {
		sets = append(sets, s.Name())
	}
	fmt.Fprintf(w, "go:           %s\n", runtime.Version())
	fmt.Fprintf(w, "platform:     %s/%s, %d CPUs, GOMAXPROCS %d\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "cpu features: %s\n", strings.Join(cpuFeatures(), " "))
	if err := ohem.KernelEnv(); err != nil {
		env += " (ignored: not a kernel set this CPU can run)"
	}
	fmt.Fprintf(w, "OHEM_KERNEL:  %s\n", env)
	fmt.Fprintf(w, "kernel:       %s\n", ohem.Kernel())
	fmt.Fprintf(w, "kernel sets:  %s\n", strings.Join(sets, ", "))
}

// cpuFeatures lists the CPU features relevant to the kernels that golang.org/x/sys/cpu detected.
func cpuFeatures() []string {
	type feature struct {
		name string
		has  bool
	}
	var fs []feature
	switch runtime.GOARCH {
	case "amd64", "386":
		x := &cpu.X86
		fs = []feature{
			{"SSE4.1", x.HasSSE41}, {"SSE4.2", x.HasSSE42}, {"POPCNT", x.HasPOPCNT},
			{"AVX", x.HasAVX}, {"AVX2", x.HasAVX2}, {"FMA", x.HasFMA}, {"F16C", x.HasF16C},
			{"BMI1", x.HasBMI1}, {"BMI2", x.HasBMI2}, {"LZCNT", x.HasLZCNT}, {"OSXSAVE", x.HasOSXSAVE},
			{"AVX512F", x.HasAVX512F}, {"AVX512DQ", x.HasAVX512DQ}, {"AVX512BW", x.HasAVX512BW},
			{"AVX512VL", x.HasAVX512VL}, {"AVX512CD", x.HasAVX512CD}, {"AVX512VBMI", x.HasAVX512VBMI},
			{"AVX512VBMI2", x.HasAVX512VBMI2}, {"AVX512BF16", x.HasAVX512BF16}, {"AVX512VNNI", x.HasAVX512VNNI},
		}
	case "arm64":
		a := &cpu.ARM64
		fs = []feature{
			{"FP", a.HasFP}, {"ASIMD", a.HasASIMD}, {"FPHP", a.HasFPHP}, {"ASIMDHP", a.HasASIMDHP},
			{"ASIMDDP", a.HasASIMDDP}, {"ASIMDRDM", a.HasASIMDRDM}, {"ASIMDFHM", a.HasASIMDFHM},
			{"I8MM", a.HasI8MM}, {"ATOMICS", a.HasATOMICS}, {"SVE", a.HasSVE}, {"SVE2", a.HasSVE2},
		}
	}
	var out []string
	for _, f := range fs {
		if f.has {
			out = append(out, f.name)
		}
	}
	if len(out) == 0 {
		out = []string{"(none)"}
	}
	return out
}

// Result is one workload's measurement on one kernel set, in ms (medians). Loss workloads fill
// the first five fields, kth workloads MS.
//
// CopyMS is the time of copy(grad, logits): a pass that reads the logits and writes as much, which
// ForwardBackward cannot beat (it reads every logit and writes every gradient element). Beside
// ForwardMS it tells how far the machine's memory lets ForwardBackward/Forward go down.
type Result struct {
	ForwardMS         float64 `json:"forward_ms,omitempty"`
	ForwardBackwardMS float64 `json:"forward_backward_ms,omitempty"`
	GelemS            float64 `json:"gelem_s,omitempty"`
	CrossEntropyMS    float64 `json:"cross_entropy_ms,omitempty"`
	CopyMS            float64 `json:"copy_ms,omitempty"`
	MS                float64 `json:"ms,omitempty"`
}

// Report is the -json output.
type Report struct {
	Kernel    string                       `json:"kernel"`
	GoVersion string                       `json:"go_version"`
	GOOS      string                       `json:"goos"`
	GOARCH    string                       `json:"goarch"`
	Workers   int                          `json:"workers"`
	TimeS     float64                      `json:"time_s"`
	Clock     string                       `json:"clock"` // "wall" or "thread" (-cpu: the thread's CPU time)
	Sets      []string                     `json:"sets"`
	Workloads []string                     `json:"workloads"`
	Results   map[string]map[string]Result `json:"results"` // set -> workload -> result
}

func bench(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("ohem bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { printUsage(stderr) }
	all := fl.Bool("all", false, "every kernel set")
	asJSON := fl.Bool("json", false, "print JSON")
	only := fl.String("only", "", "comma-separated workloads")
	budget := fl.Duration("time", time.Second, "time per measurement")
	workers := fl.Int("workers", 0, "Config.Workers")
	setList := fl.String("sets", "", "comma-separated kernel sets")
	sweep := fl.Bool("sweep", false, "the class-count sweep")
	classList := fl.String("classes", "", "the sweep's class counts")
	elems := fl.Int("elems", workload.SweepElems, "the sweep's logits per call")
	cpu := fl.Bool("cpu", false, "time by the calling thread's CPU time")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "ohem bench: unexpected arguments %q\n", fl.Args())
		return 2
	}
	given := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *workers < 0 || *budget < 0 {
		fmt.Fprintln(stderr, "ohem bench: -workers and -time must be >= 0")
		return 2
	}
	if *sweep && !given["cpu"] {
		*cpu = haveThreadClock && *workers <= 1
	}
	if *cpu && (!haveThreadClock || *workers > 1) {
		fmt.Fprintf(stderr, "ohem bench: -cpu needs Linux and -workers 0 or 1 (%s, -workers %d)\n", runtime.GOOS, *workers)
		return 2
	}
	sets, code := benchSets(*setList, *all || *sweep, stderr)
	if sets == nil {
		return code
	}
	if *sweep {
		if given["only"] {
			fmt.Fprintln(stderr, "ohem bench: -only names workloads, which -sweep does not run")
			return 2
		}
		classes := workload.SweepClasses
		if *classList != "" {
			var err error
			if classes, err = parseClasses(*classList); err != nil {
				fmt.Fprintln(stderr, "ohem bench: -classes:", err)
				return 2
			}
		}
		if *elems < 1 {
			fmt.Fprintln(stderr, "ohem bench: -elems must be >= 1")
			return 2
		}
		if !given["time"] {
			*budget = 200 * time.Millisecond
		}
		return runSweep(sets, classes, *elems, *workers, *budget, *cpu, *asJSON, stdout, stderr)
	}
	if given["classes"] || given["elems"] {
		fmt.Fprintln(stderr, "ohem bench: -classes and -elems go with -sweep")
		return 2
	}
	names, ok := benchWorkloads(*only, stderr)
	if !ok {
		return 2
	}

	return runWorkloads(sets, names, *workers, *budget, *cpu, *asJSON, stdout, stderr)
}

// runWorkloads measures the named workloads on every set and prints the table (or the JSON
// report); it returns the exit status.
func runWorkloads(sets []ohem.KernelSet, names []string, workers int, budget time.Duration, cpu, asJSON bool, stdout, stderr io.Writer) int {
	rep := Report{
		Kernel: ohem.Kernel(), GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		Workers: workers, TimeS: budget.Seconds(), Clock: clockName(cpu), Workloads: names,
		Results: make(map[string]map[string]Result),
	}
	if !asJSON {
		fmt.Fprintf(stdout, "ohem bench: %s %s/%s, kernel %s, workers %d, %v per measurement, median %s time\n",
			rep.GoVersion, rep.GOOS, rep.GOARCH, rep.Kernel, rep.Workers, budget, rep.Clock)
		fmt.Fprintf(stdout, "%-8s %-8s %12s %12s %10s %12s %10s\n", "set", "workload", "forward ms", "fwd+bwd ms", "Gelem/s", "ce/kth ms", "copy ms")
	}
	for _, s := range sets {
		rep.Sets = append(rep.Sets, s.Name())
		rep.Results[s.Name()] = make(map[string]Result)
		for _, name := range names {
			w, err := workload.Get(name)
			if err != nil {
				fmt.Fprintln(stderr, "ohem bench:", err)
				return 1
			}
			r, err := measureWorkload(s, w, workers, budget, cpu)
			if err != nil {
				fmt.Fprintf(stderr, "ohem bench: %s/%s: %v\n", s.Name(), name, err)
				return 1
			}
			rep.Results[s.Name()][name] = r
			if !asJSON {
				if w.IsKth() {
					fmt.Fprintf(stdout, "%-8s %-8s %12s %12s %10s %12.3f %10s\n", s.Name(), name, "-", "-", "-", r.MS, "-")
				} else {
					fmt.Fprintf(stdout, "%-8s %-8s %12.3f %12.3f %10.3f %12.3f %10.3f\n", s.Name(), name,
						r.ForwardMS, r.ForwardBackwardMS, r.GelemS, r.CrossEntropyMS, r.CopyMS)
				}
			}
		}
	}
	if asJSON {
		return writeJSON(stdout, stderr, rep)
	}
	return 0
}

// writeJSON writes v to stdout as indented JSON; it returns the exit status (1 when the
// writing failed, said on stderr).
func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, "ohem bench:", err)
		return 1
	}
	return 0
}

// benchSets returns the kernel sets bench measures: those -sets names, every set (every), or the
// set in use; nil and the exit status after an error, printed to stderr.
func benchSets(list string, every bool, stderr io.Writer) ([]ohem.KernelSet, int) {
	var sets []ohem.KernelSet
	switch {
	case list != "":
		for _, n := range strings.Split(list, ",") {
			if n = strings.TrimSpace(n); n == "" || slices.ContainsFunc(sets, func(s ohem.KernelSet) bool { return s.Name() == n }) {
				continue
			}
			s, err := ohem.LookupKernelSet(n)
			if err != nil {
				fmt.Fprintln(stderr, "ohem bench:", err)
				return nil, 2
			}
			sets = append(sets, s)
		}
		if len(sets) == 0 {
			fmt.Fprintln(stderr, "ohem bench: -sets names no kernel set")
			return nil, 2
		}
	case every:
		sets = ohem.KernelSets()
	default:
		s, err := ohem.LookupKernelSet(ohem.Kernel())
		if err != nil {
			fmt.Fprintln(stderr, "ohem bench:", err)
			return nil, 1
		}
		sets = []ohem.KernelSet{s}
	}
	return sets, 0
}

// benchWorkloads returns the workloads -only names (every workload when it is empty); false after
// an error, printed to stderr.
func benchWorkloads(only string, stderr io.Writer) ([]string, bool) {
	names := workload.Names()
	if only != "" {
		names = nil
		for _, n := range strings.Split(only, ",") {
			if n = strings.TrimSpace(n); n == "" || slices.Contains(names, n) {
				continue
			}
			if workload.Desc(n) == "" {
				fmt.Fprintf(stderr, "ohem bench: unknown workload %q (have %s)\n", n, strings.Join(workload.Names(), ","))
				return nil, false
			}
			names = append(names, n)
		}
	}
	return names, true
}

func measureWorkload(s ohem.KernelSet, w workload.Workload, workers int, budget time.Duration, cpu bool) (Result, error) {
	if w.IsKth() {
		ms, err := measure(budget, cpu, func() error { _, err := s.KthLargest(w.X, w.K); return err })
		return Result{MS: ms}, err
	}
	cfg := w.Config
	cfg.Kernel, cfg.Workers = s.Name(), workers
	l, err := ohem.New(cfg)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if r.ForwardMS, err = measure(budget, cpu, func() error { _, err := l.Forward(w.Batch); return err }); err != nil {
		return r, err
	}
	grad := make([]float32, len(w.Batch.Logits))
	if r.ForwardBackwardMS, err = measure(budget, cpu, func() error { _, err := l.ForwardBackward(grad, w.Batch); return err }); err != nil {
		return r, err
	}
	r.CopyMS, _ = measure(budget, cpu, func() error { copy(grad, w.Batch.Logits); return nil })
	dst := make([]float32, w.Samples())
	if r.CrossEntropyMS, err = measure(budget, cpu, func() error { return s.CrossEntropy(dst, w.Batch) }); err != nil {
		return r, err
	}
	r.GelemS = float64(len(w.Batch.Logits)) / (r.ForwardMS * 1e-3) / 1e9
	return r, nil
}

func clockName(cpu bool) string {
	if cpu {
		return "thread"
	}
	return "wall"
}

// measure calls f once to warm up, then until budget has elapsed and at least 3 times, and returns
// the median time of a call in ms: wall time, or with cpu the CPU time of the calling thread (the
// goroutine locked to it), which leaves out the time the process waits for a core on a shared
// machine and counts only work done on that thread (Workers 0 or 1).
func measure(budget time.Duration, cpu bool, f func() error) (float64, error) {
	if cpu {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	base := time.Now()
	clock := func() time.Duration { return time.Since(base) }
	if cpu {
		clock = threadTime
	}
	if err := f(); err != nil {
		return 0, err
	}
	runtime.GC() // not the garbage of building a workload during the measurement
	var times []time.Duration
	start := time.Now()
	for len(times) < 3 || (time.Since(start) < budget && len(times) < 1e6) {
		t0 := clock()
		err := f()
		times = append(times, clock()-t0)
		if err != nil {
			return 0, err
		}
	}
	slices.Sort(times)
	n := len(times)
	med := (times[(n-1)/2] + times[n/2]) / 2
	return float64(med) / 1e6, nil
}
