// Command compare prints the side-by-side table of bench/compare.sh: the median ms of
// `ohem bench -json` for each kernel set next to those of bench/torch/ohem_torch.py --json, and the
// speedup torch ms / ohem ms; per loss workload also ForwardBackward/Forward of each, and the
// floor the machine's memory sets for it, copy/Forward (copy: the logits into the gradient buffer).
//
//	go run ./bench/cmd/compare -ohem ohem.json [-torch torch.json]
//
// Without -torch (PyTorch unavailable) it prints the ohem figures alone.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// ohemReport is the part of `ohem bench -json` (cmd/ohem's Report) that is compared.
type ohemReport struct {
	Kernel    string                                   `json:"kernel"`
	GoVersion string                                   `json:"go_version"`
	GOOS      string                                   `json:"goos"`
	GOARCH    string                                   `json:"goarch"`
	Workers   int                                      `json:"workers"`
	Clock     string                                   `json:"clock"` // "wall" or "thread" (CPU time)
	Sets      []string                                 `json:"sets"`
	Workloads []string                                 `json:"workloads"`
	Results   map[string]map[string]map[string]float64 `json:"results"` // set -> workload -> field -> ms
}

// torchReport is the output of ohem_torch.py --json.
type torchReport struct {
	TorchVersion string                        `json:"torch_version"`
	Threads      int                           `json:"threads"`
	Malloc       string                        `json:"malloc"`
	Clock        string                        `json:"clock"`   // "wall" or "thread" (CPU time)
	Results      map[string]map[string]float64 `json:"results"` // workload -> field -> ms
}

// The ratio rows: ForwardBackward over Forward, and copy(grad, logits) over Forward: the floor the
// machine's memory sets for the first when the gradient is written in the forward pass.
const (
	ratioFB   = "fwd+bwd/fwd"
	ratioCopy = "copy/fwd"
)

// value returns a report field; the ratio fields are computed from the others.
func value(r map[string]float64, field string) (float64, bool) {
	var num, den string
	switch field {
	case ratioFB:
		num, den = "forward_backward_ms", "forward_ms"
	case ratioCopy:
		num, den = "copy_ms", "forward_ms"
	default:
		v, ok := r[field]
		return v, ok
	}
	n, ok1 := r[num]
	d, ok2 := r[den]
	if !ok1 || !ok2 || d <= 0 {
		return 0, false
	}
	return n / d, true
}

// A row compares one ohem figure with one torch figure; either may be missing.
type row struct {
	label                 string
	ohemWork, ohemField   string
	torchWork, torchField string
}

func main() {
	ohemPath := flag.String("ohem", "", "JSON of `ohem bench -json` (required)")
	torchPath := flag.String("torch", "", "JSON of `ohem_torch.py --json` (optional)")
	flag.Parse()
	if *ohemPath == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	var o ohemReport
	if err := load(*ohemPath, &o); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
	var t *torchReport
	if *torchPath != "" {
		t = new(torchReport)
		if err := load(*torchPath, t); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
	}
	printTable(os.Stdout, &o, t)
}

func load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// rows lists what is compared, in the order of the ohem workloads.
func rows(o *ohemReport, t *torchReport) []row {
	var rs []row
	for _, w := range o.Workloads {
		if strings.HasPrefix(w, "kth_") {
			rs = append(rs, row{w + " KthLargest", w, "ms", w, "ms"})
			continue
		}
		rs = append(rs,
			row{w + " forward", w, "forward_ms", w, "forward_ms"},
			row{w + " fwd+bwd", w, "forward_backward_ms", w, "forward_backward_ms"},
			row{w + " fwd+bwd/fwd", w, ratioFB, w, ratioFB},
			row{w + " copy/fwd", w, ratioCopy, "", ""})
		if w == "rpn" { // the torch script times rpn's cross-entropy and top-k alone too
			rs = append(rs, row{"rpn CE only", w, "cross_entropy_ms", "ce_rpn", "ms"})
			if t != nil && t.Results["topk_rpn"] != nil {
				rs = append(rs, row{"rpn top-k only", "", "", "topk_rpn", "ms"})
			}
		}
	}
	return rs
}

func printTable(out io.Writer, o *ohemReport, t *torchReport) {
	fmt.Fprintf(out, "ohem: %s %s/%s, kernel %s, workers %d, %s time", o.GoVersion, o.GOOS, o.GOARCH, o.Kernel, o.Workers, clock(o.Clock))
	if t != nil {
		fmt.Fprintf(out, "; PyTorch %s, %d thread(s), %s malloc, %s time", t.TorchVersion, t.Threads, t.Malloc, clock(t.Clock))
	}
	fmt.Fprint(out, "\nmedian ms per call")
	if t != nil {
		fmt.Fprint(out, "; speedup = torch ms / ohem ms")
	}
	fmt.Fprintln(out)

	fmt.Fprintf(out, "%-20s", "workload")
	if t != nil {
		fmt.Fprintf(out, " %10s", "torch")
	}
	for _, s := range o.Sets {
		fmt.Fprintf(out, " %10s", s)
		if t != nil {
			fmt.Fprintf(out, " %8s", "speedup")
		}
	}
	fmt.Fprintln(out)
	for _, r := range rows(o, t) {
		tv, tok := 0.0, false
		if t != nil {
			tv, tok = value(t.Results[r.torchWork], r.torchField)
		}
		ratio := r.ohemField == ratioFB || r.ohemField == ratioCopy
		fmt.Fprintf(out, "%-20s", r.label)
		if t != nil {
			fmt.Fprintf(out, " %10s", ms(tv, tok, ratio))
		}
		for _, s := range o.Sets {
			ov, ook := value(o.Results[s][r.ohemWork], r.ohemField)
			fmt.Fprintf(out, " %10s", ms(ov, ook, ratio))
			if t != nil {
				sp := "-"
				if tok && ook && ov > 0 && !ratio {
					sp = fmt.Sprintf("%.2fx", tv/ov)
				}
				fmt.Fprintf(out, " %8s", sp)
			}
		}
		fmt.Fprintln(out)
	}
}

// clock names a report's clock; reports from before the field was added timed the wall clock.
func clock(c string) string {
	switch c {
	case "", "wall":
		return "wall"
	case "thread":
		return "thread CPU"
	}
	return c
}

// ms formats a figure: ms to three decimals, a ratio to two with an x.
func ms(v float64, ok, ratio bool) string {
	switch {
	case !ok:
		return "-"
	case ratio:
		return fmt.Sprintf("%.2fx", v)
	}
	return fmt.Sprintf("%.3f", v)
}
