package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/ohem-go/ohem"
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
