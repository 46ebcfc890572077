// Command mnist trains a 784-256-10 perceptron on the MNIST digits with plain mean cross-entropy and
// with OHEM losses from package ohem, from the same initial weights through the same batches, and
// reports per epoch the test error, the error on the hardest digits, the time per step and the share
// of it spent in the loss; -plot writes a PNG of the test error against the epoch.
//
// Cases: "balanced" is the MNIST training set; "longtail" keeps only a fraction (-tail) of the
// digits 0–4; "noisy" gives a fraction (-noise) of the training images a wrong label. The test set
// is the full, clean MNIST test set in every case.
//
//	go run . -plot mnist.png                     # every case, 10 epochs: one to three minutes on 2 cores
//	go run . -quick                              # a few seconds
//	go run . -cases longtail -runs mean,keep,weighted
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ohem-go/ohem"
)

type options struct {
	data                  string
	epochs, batch, hidden int
	lr, momentum          float64
	seed                  uint64
	cases, runs           string
	keep, prob            float64
	minKept               int
	tail, noise           float64
	trainN, testN         int
	workers               int
	plot                  string
	quick                 bool
}

// A run is one loss configuration, trained from the same start as the others.
type run struct {
	Name    string
	Cfg     ohem.Config
	InvFreq bool // set Cfg.ClassWeights to the inverse of each digit's share of the training set
}

// epochStats is what one run measured in one epoch.
type epochStats struct {
	TestErr          float64 // fraction of the test set misclassified
	ClassErr         [classes]float64
	Hardest          [3]int  // the three digits with the highest test error, worst first
	HardestErr       float64 // their mean error
	StepMed, LossMed time.Duration
	Kept             float64 // mean samples kept per step
}

type caseResult struct {
	Name   string
	Desc   string
	Runs   []run
	Epochs [][]epochStats // [run][epoch]
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "", "directory with the MNIST .gz files (default: the GoMNIST module's data/)")
	flag.IntVar(&o.epochs, "epochs", 10, "passes over the training set")
	flag.IntVar(&o.batch, "batch", 128, "images per step")
	flag.IntVar(&o.hidden, "hidden", 256, "hidden units")
	flag.Float64Var(&o.lr, "lr", 0.1, "peak learning rate (cosine decay to 0 over the run)")
	flag.Float64Var(&o.momentum, "momentum", 0.9, "SGD momentum")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights, the batch order and the data subsets")
	flag.StringVar(&o.cases, "cases", "balanced,longtail,noisy", "comma-separated: balanced, longtail, noisy")
	flag.StringVar(&o.runs, "runs", "mean,keep,prob", "comma-separated losses: mean (Config{}), keep (KeepRatio), prob (ProbThreshold+MinKept),\nweighted (mean cross-entropy with ClassWeights the inverse of each digit's frequency: no mining)")
	flag.Float64Var(&o.keep, "keep", 0.5, "KeepRatio of the keep run")
	flag.Float64Var(&o.prob, "prob", 0.7, "ProbThreshold of the prob run")
	flag.IntVar(&o.minKept, "minkept", 32, "MinKept of the prob run")
	flag.Float64Var(&o.tail, "tail", 0.05, "longtail: the fraction of each of the digits 0–4 kept")
	flag.Float64Var(&o.noise, "noise", 0.3, "noisy: the fraction of training labels replaced by a wrong digit")
	flag.IntVar(&o.trainN, "train", 0, "use only the first N training images (0: all 60000)")
	flag.IntVar(&o.testN, "test", 0, "use only the first N test images (0: all 10000)")
	flag.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "Config.Workers of every loss")
	flag.StringVar(&o.plot, "plot", "", "write a PNG of the test error against the epoch to this file")
	flag.BoolVar(&o.quick, "quick", false, "a few seconds: 6000 training images, 2000 test images, 2 epochs")
	flag.Parse()
	if o.quick {
		o.trainN, o.testN, o.epochs = 6000, 2000, 2
	}
	if err := mainErr(&o); err != nil {
		fmt.Fprintln(os.Stderr, "mnist:", err)
		os.Exit(1)
	}
}

func mainErr(o *options) error {
	runs, err := makeRuns(o)
	if err != nil {
		return err
	}
	caseNames := strings.Split(o.cases, ",")
	for _, c := range caseNames {
		if c != "balanced" && c != "longtail" && c != "noisy" {
			return fmt.Errorf("-cases: unknown case %q (balanced, longtail, noisy)", c)
		}
	}
	start := time.Now()
	train, test, err := LoadMNIST(o.data)
	if err != nil {
		return err
	}
	train, test = train.Head(o.trainN), test.Head(o.testN)
	fmt.Printf("MNIST: %d training and %d test images, read in %.1f s; kernel set %s, GOMAXPROCS %d, Workers %d\n",
		train.Len(), test.Len(), time.Since(start).Seconds(), ohem.Kernel(), runtime.GOMAXPROCS(0), o.workers)
	fmt.Printf("784-%d-10 perceptron, SGD momentum %g, batch %d, peak lr %g with cosine decay, seed %d\n",
		o.hidden, o.momentum, o.batch, o.lr, o.seed)

	var results []*caseResult
	for _, name := range caseNames {
		set, desc := train, "the MNIST training set"
		switch name {
		case "longtail":
			set = train.LongTail([]int32{0, 1, 2, 3, 4}, o.tail, rand.New(rand.NewPCG(o.seed, 2)))
			desc = fmt.Sprintf("%.0f%% of the digits 0–4, all of 5–9", 100*o.tail)
		case "noisy":
			var n int
			set, n = train.WithNoise(o.noise, rand.New(rand.NewPCG(o.seed, 3)))
			desc = fmt.Sprintf("%.0f%% of the labels (%d) wrong", 100*o.noise, n)
		}
		r, err := trainCase(o, name, desc, set, test, runs)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	printSummary(results, o)
	if o.plot != "" {
		if err := writePlot(o.plot, results); err != nil {
			return err
		}
		fmt.Println("\nwrote", o.plot)
	}
	fmt.Printf("total %.0f s\n", time.Since(start).Seconds())
	return nil
}

func makeRuns(o *options) ([]run, error) {
	var runs []run
	for _, r := range strings.Split(o.runs, ",") {
		switch r {
		case "mean":
			runs = append(runs, run{Name: "mean CE"})
		case "keep":
			runs = append(runs, run{Name: fmt.Sprintf("OHEM keep %g%%", 100*o.keep), Cfg: ohem.Config{KeepRatio: o.keep}})
		case "prob":
			runs = append(runs, run{Name: fmt.Sprintf("OHEM p<%g, min %d", o.prob, o.minKept),
				Cfg: ohem.Config{ProbThreshold: float32(o.prob), MinKept: o.minKept}})
		case "weighted":
			runs = append(runs, run{Name: "CE, class weights", InvFreq: true})
		default:
			return nil, fmt.Errorf("-runs: unknown run %q (mean, keep, prob, weighted)", r)
		}
	}
	for i := range runs {
		runs[i].Cfg.Workers = o.workers
		if _, err := ohem.New(runs[i].Cfg); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// trainCase trains every run on set for o.epochs epochs, one epoch of each run in turn (so that a
// change in the machine's load falls on every run alike), and evaluates each on test after every epoch.
func trainCase(o *options, name, desc string, set, test *Set, runs []run) (*caseResult, error) {
	steps := set.Len() / o.batch // the last partial batch is dropped: every step has the same shape
	if steps == 0 {
		return nil, fmt.Errorf("%s: %d training images, fewer than a batch of %d", name, set.Len(), o.batch)
	}
	counts := set.Counts()
	fmt.Printf("\n== %s: %s; %d training images (per digit %v), %d test; %d steps of %d per epoch\n",
		name, desc, set.Len(), counts, test.Len(), steps, o.batch)
	fmt.Printf("%5s  %-20s %8s  %-27s %9s %8s %8s %6s\n",
		"epoch", "run", "test err", "hardest digits (test err)", "kept/step", "step ms", "loss µs", "share")

	type state struct {
		tr    *Trainer
		rng   *rand.Rand
		order []int32
	}
	states := make([]state, len(runs))
	for i, r := range runs {
		cfg := r.Cfg
		if r.InvFreq {
			cfg.ClassWeights = make([]float32, classes)
			for d, n := range counts {
				if n > 0 {
					cfg.ClassWeights[d] = float32(set.Len()) / float32(classes*n)
				}
			}
		}
		loss, err := ohem.New(cfg)
		if err != nil {
			return nil, err
		}
		net := NewMLP(pixels, o.hidden, classes)
		net.Init(rand.New(rand.NewPCG(o.seed, 1))) // the same start for every run
		order := make([]int32, set.Len())
		for j := range order {
			order[j] = int32(j)
		}
		states[i] = state{NewTrainer(net, loss, o.batch, float32(o.momentum)), rand.New(rand.NewPCG(o.seed, 4)), order}
	}
	res := &caseResult{Name: name, Desc: desc, Runs: runs, Epochs: make([][]epochStats, len(runs))}
	total := o.epochs * steps
	stepT := make([]time.Duration, steps)
	lossT := make([]time.Duration, steps)
	for e := range o.epochs {
		for i, r := range runs {
			s := &states[i]
			s.rng.Shuffle(len(s.order), func(a, b int) { s.order[a], s.order[b] = s.order[b], s.order[a] })
			kept := 0
			for k := range steps {
				t := e*steps + k
				lr := float32(o.lr * 0.5 * (1 + math.Cos(math.Pi*float64(t)/float64(total))))
				out, err := s.tr.Step(set, s.order[k*o.batch:(k+1)*o.batch], lr)
				if err != nil {
					return nil, fmt.Errorf("%s, %s, epoch %d, step %d: %w", name, r.Name, e+1, k, err)
				}
				if math.IsNaN(float64(out.Loss)) || math.IsInf(float64(out.Loss), 0) {
					return nil, fmt.Errorf("%s, %s, epoch %d, step %d: loss %v", name, r.Name, e+1, k, out.Loss)
				}
				kept += out.Kept
				stepT[k], lossT[k] = s.tr.StepTime, s.tr.LossTime
			}
			st := evaluate(s.tr, test)
			st.StepMed, st.LossMed = median(stepT), median(lossT)
			st.Kept = float64(kept) / float64(steps)
			res.Epochs[i] = append(res.Epochs[i], st)
			h := st.Hardest
			fmt.Printf("%5d  %-20s %7.2f%%  %d: %4.1f%%  %d: %4.1f%%  %d: %4.1f%%  %9.1f %8.2f %8.1f %5.1f%%\n",
				e+1, r.Name, 100*st.TestErr, h[0], 100*st.ClassErr[h[0]], h[1], 100*st.ClassErr[h[1]], h[2], 100*st.ClassErr[h[2]],
				st.Kept, ms(st.StepMed), float64(st.LossMed)/1e3, 100*float64(st.LossMed)/float64(st.StepMed))
		}
	}
	return res, nil
}

func evaluate(tr *Trainer, test *Set) epochStats {
	total, wrong := tr.Evaluate(test)
	var st epochStats
	var n, w int
	order := make([]int, classes)
	for c := range classes {
		n += total[c]
		w += wrong[c]
		if total[c] > 0 {
			st.ClassErr[c] = float64(wrong[c]) / float64(total[c])
		}
		order[c] = c
	}
	st.TestErr = float64(w) / float64(n)
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case st.ClassErr[a] > st.ClassErr[b]:
			return -1
		case st.ClassErr[a] < st.ClassErr[b]:
			return 1
		}
		return 0
	})
	for i := range st.Hardest {
		st.Hardest[i] = order[i]
		st.HardestErr += st.ClassErr[order[i]] / float64(len(st.Hardest))
	}
	return st
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// printSummary prints the last epoch of every run as a Markdown table, then every run's final
// test error per digit.
func printSummary(results []*caseResult, o *options) {
	fmt.Printf("\nAfter %d epochs (medians over the last epoch's steps; share = the loss's median / the step's median):\n\n", o.epochs)
	fmt.Println("| case | run | test accuracy | test error | 3 hardest digits: mean error | kept per step | step ms | loss µs | loss share |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, c := range results {
		for i, r := range c.Runs {
			st := c.Epochs[i][len(c.Epochs[i])-1]
			fmt.Printf("| %s | %s | %.2f%% | %.2f%% | %.1f%% (%d, %d, %d) | %.0f | %.2f | %.1f | %.1f%% |\n",
				c.Name, r.Name, 100*(1-st.TestErr), 100*st.TestErr, 100*st.HardestErr,
				st.Hardest[0], st.Hardest[1], st.Hardest[2], st.Kept, ms(st.StepMed),
				float64(st.LossMed)/1e3, 100*float64(st.LossMed)/float64(st.StepMed))
		}
	}
	fmt.Println("\nFinal test error per digit:")
	fmt.Println()
	fmt.Print("| case | run |")
	for d := range classes {
		fmt.Printf(" %d |", d)
	}
	fmt.Print("\n|---|---|")
	fmt.Println(strings.Repeat("---|", classes))
	for _, c := range results {
		for i, r := range c.Runs {
			st := c.Epochs[i][len(c.Epochs[i])-1]
			fmt.Printf("| %s | %s |", c.Name, r.Name)
			for d := range classes {
				fmt.Printf(" %.1f%% |", 100*st.ClassErr[d])
			}
			fmt.Println()
		}
	}
}
