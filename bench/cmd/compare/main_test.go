package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// fieldsOf returns the cells after label of the table line that starts with it.
func fieldsOf(table, label string) []string {
	for _, line := range strings.Split(table, "\n") {
		if rest, ok := strings.CutPrefix(line, label+" "); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

const ohemJSON = `{"kernel":"avx2","go_version":"go1.26.8","goos":"linux","goarch":"amd64","workers":0,"clock":"thread",
"sets":["avx2","generic"],"workloads":["rpn","ssd21","ssd81","roi81","kth_1e5"],
"results":{"avx2":{"rpn":{"forward_ms":0.5,"forward_backward_ms":1,"gelem_s":0.2,"cross_entropy_ms":0.25,"copy_ms":0.25},
"ssd21":{"forward_ms":4,"forward_backward_ms":5,"copy_ms":1},"ssd81":{"forward_ms":10,"forward_backward_ms":16},
"roi81":{"forward_ms":0.125,"forward_backward_ms":0.2},"kth_1e5":{"ms":0.1}},
"generic":{"rpn":{"forward_ms":2,"forward_backward_ms":4,"gelem_s":0.05,"cross_entropy_ms":1},
"ssd21":{"forward_ms":50,"forward_backward_ms":60},"ssd81":{"forward_ms":160,"forward_backward_ms":200},
"roi81":{"forward_ms":2,"forward_backward_ms":2.5},"kth_1e5":{"ms":0.5}}}}`

const torchJSON = `{"torch_version":"1.13","threads":1,"malloc":"tuned","results":{
"rpn":{"forward_ms":8,"forward_backward_ms":12},"ce_rpn":{"ms":4},"topk_rpn":{"ms":3},"kth_1e5":{"ms":1},
"ssd21":{"forward_ms":120,"forward_backward_ms":160},"ssd81":{"forward_ms":400,"forward_backward_ms":560},
"roi81":{"forward_ms":0.5,"forward_backward_ms":1.2}}}`

func TestTable(t *testing.T) {
	var o ohemReport
	var tr torchReport
	if err := json.Unmarshal([]byte(ohemJSON), &o); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(torchJSON), &tr); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	printTable(&buf, &o, &tr)
	out := buf.String()
	for _, want := range []string{"PyTorch 1.13", "workers 0, thread CPU time;", "malloc, wall time", "rpn forward", "16.00x", "4.00x", "rpn CE only", "16.00x",
		"rpn top-k only", "kth_1e5 KthLargest", "10.00x", "2.00x"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// the ratio rows: torch 12/8, avx2 1/0.5 and generic 4/2; copy/fwd avx2 0.25/0.5, the rest
	// unknown; no speedups on them
	for label, want := range map[string][]string{
		"rpn fwd+bwd/fwd": {"1.50x", "2.00x", "-", "2.00x", "-"},
		"rpn copy/fwd":    {"-", "0.50x", "-", "-", "-"},
		// the detection workloads: torch ms, then per set ms and torch ms / ohem ms
		"ssd21 forward":     {"120.000", "4.000", "30.00x", "50.000", "2.40x"},
		"ssd21 fwd+bwd":     {"160.000", "5.000", "32.00x", "60.000", "2.67x"},
		"ssd21 fwd+bwd/fwd": {"1.33x", "1.25x", "-", "1.20x", "-"},
		"ssd21 copy/fwd":    {"-", "0.25x", "-", "-", "-"},
		"ssd81 forward":     {"400.000", "10.000", "40.00x", "160.000", "2.50x"},
		"ssd81 fwd+bwd":     {"560.000", "16.000", "35.00x", "200.000", "2.80x"},
		"roi81 forward":     {"0.500", "0.125", "4.00x", "2.000", "0.25x"},
		"roi81 fwd+bwd":     {"1.200", "0.200", "6.00x", "2.500", "0.48x"},
		"roi81 fwd+bwd/fwd": {"2.40x", "1.60x", "-", "1.25x", "-"},
	} {
		if got := fieldsOf(out, label); !slices.Equal(got, want) {
			t.Errorf("row %q: %q, want %q", label, got, want)
		}
	}
	buf.Reset()
	printTable(&buf, &o, nil) // no torch: the ohem columns alone
	out = buf.String()
	if strings.Contains(out, "torch") || strings.Contains(out, "top-k") || !strings.Contains(out, "0.500") {
		t.Errorf("table without torch:\n%s", out)
	}
	t.Log("\n" + out)
}
