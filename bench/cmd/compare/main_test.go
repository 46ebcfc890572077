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

const ohemJSON = `{"kernel":"avx2","go_version":"go1.26.8","goos":"linux","goarch":"amd64","workers":0,
"sets":["avx2","generic"],"workloads":["rpn","kth_1e5"],
"results":{"avx2":{"rpn":{"forward_ms":0.5,"forward_backward_ms":1,"gelem_s":0.2,"cross_entropy_ms":0.25,"copy_ms":0.25},"kth_1e5":{"ms":0.1}},
"generic":{"rpn":{"forward_ms":2,"forward_backward_ms":4,"gelem_s":0.05,"cross_entropy_ms":1},"kth_1e5":{"ms":0.5}}}}`

const torchJSON = `{"torch_version":"1.13","threads":1,"malloc":"tuned","results":{
"rpn":{"forward_ms":8,"forward_backward_ms":12},"ce_rpn":{"ms":4},"topk_rpn":{"ms":3},"kth_1e5":{"ms":1}}}`

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
	for _, want := range []string{"PyTorch 1.13", "rpn forward", "16.00x", "4.00x", "rpn CE only", "16.00x",
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
