package workload

import (
	"math"
	"slices"
	"testing"

	"github.com/ohem-go/ohem"
	"github.com/ohem-go/ohem/internal/ref"
)

// seg (84 MB) is left out: it is built by the benchmarks only; ssd81 (92 MB) has a test of its own.
var small = []string{"rpn", "cls", "lm", "ssd21", "roi81", "kth_1e5"}

func TestNames(t *testing.T) {
	want := []string{"rpn", "cls", "seg", "lm", "ssd21", "ssd81", "roi81", "kth_1e5", "kth_1e7", "dbnet"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		if Desc(n) == "" {
			t.Errorf("Desc(%q) is empty", n)
		}
	}
	if _, err := Get("nope"); err == nil {
		t.Error("Get(nope): no error")
	}
}

func TestWorkloads(t *testing.T) {
	for _, name := range small {
		w, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != name {
			t.Errorf("%s: Name = %q", name, w.Name)
		}
		if w.IsKth() {
			if w.K != int(0.3*float64(len(w.X))) || w.Bytes() != 4*int64(len(w.X)) {
				t.Errorf("%s: K = %d, Bytes = %d for n = %d", name, w.K, w.Bytes(), len(w.X))
			}
			if _, err := ohem.KthLargest(w.X, w.K); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		b := w.Batch
		if w.Bytes() != 4*int64(len(b.Logits)+len(b.Targets)) || w.Elems() != len(b.Logits) {
			t.Errorf("%s: Bytes = %d, Elems = %d", name, w.Bytes(), w.Elems())
		}
		l, err := ohem.New(w.Config)
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Forward(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Kept == 0 || res.Loss <= 0 {
			t.Errorf("%s: %+v", name, res)
		}
		t.Logf("%s: %+v", name, res)
	}
}

func TestRPN(t *testing.T) {
	w, _ := Get("rpn")
	b := w.Batch
	if len(b.Logits) != 8*8192*2 || len(b.Targets) != 8*8192 || b.Classes != 2 || b.Images != 8 {
		t.Fatalf("rpn shape: %d logits, %d targets, C=%d, images=%d", len(b.Logits), len(b.Targets), b.Classes, b.Images)
	}
	ignored := 0
	for _, v := range b.Targets {
		if v < 0 {
			ignored++
		}
	}
	if f := float64(ignored) / float64(len(b.Targets)); f < 0.23 || f > 0.27 {
		t.Errorf("rpn: %.3f ignored, want ~0.25", f)
	}
	l, _ := ohem.New(w.Config)
	if res, _ := l.Forward(b); res.Kept != 8*256 {
		t.Errorf("rpn: kept %d, want %d", res.Kept, 8*256)
	}
}

func TestDeterministic(t *testing.T) {
	// normals crosses chunk boundaries and runs its chunks concurrently: it must not matter.
	a, b := normals(7, 3<<20+5), normals(7, 3<<20+5)
	if !slices.Equal(a, b) {
		t.Fatal("normals is not deterministic")
	}
	if c := normals(7, 1000); !slices.Equal(c, a[:1000]) {
		t.Fatal("normals(n) is not a prefix of normals(m > n)")
	}
	var sum, sq float64
	for _, v := range a {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(a))
	if m, v := sum/n, sq/n-(sum/n)*(sum/n); m < -0.01 || m > 0.01 || v < 0.99 || v > 1.01 {
		t.Errorf("normals: mean %g, variance %g", m, v)
	}
}

// checkDetection checks a row-major detection workload: its shape, that class 0 (background)
// holds all but about a fraction pos of the targets with the rest spread over 1..c-1 and none
// ignored, the rule, and Forward against the float64 reference: the kept count, counted here
// from the targets by the rule's definition, and the loss.
func checkDetection(t *testing.T, name string, images, per, c int, pos float64, cfg ohem.Config, wantKept func(pos, neg int) int) {
	t.Helper()
	w, err := Get(name)
	if err != nil {
		t.Fatal(err)
	}
	b := w.Batch
	if len(b.Logits) != images*per*c || len(b.Targets) != images*per || b.Classes != c || b.Images != images || b.Spatial != 0 {
		t.Fatalf("%s shape: %d logits, %d targets, C=%d, images=%d, spatial=%d", name, len(b.Logits), len(b.Targets), b.Classes, b.Images, b.Spatial)
	}
	if !configEqual(w.Config, cfg) {
		t.Errorf("%s config %+v, want %+v", name, w.Config, cfg)
	}
	kept, positives := 0, 0
	seen := make([]bool, c)
	for img := range images {
		p := 0
		for _, v := range b.Targets[img*per : (img+1)*per] {
			if v < 0 || int(v) >= c {
				t.Fatalf("%s: target %d", name, v)
			}
			seen[v] = true
			if v != 0 {
				p++
			}
		}
		positives += p
		kept += wantKept(p, per-p)
	}
	f := float64(positives) / float64(len(b.Targets))
	if math.Abs(f-pos) > 0.1*pos {
		t.Errorf("%s: %.4f positive, want ~%g", name, f, pos)
	}
	if slices.Contains(seen, false) {
		t.Errorf("%s: not every class is a target", name)
	}
	l, err := ohem.New(w.Config)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	want := ref.Loss(ref.Config{Keep: cfg.Keep, NegPosRatio: cfg.NegPosRatio, Background: cfg.Background, PerImage: cfg.PerImage,
		Reduction: int(cfg.Reduction)}, b.Logits, b.Targets, c, 0, images)
	if res.Kept != kept || want.Kept != kept || res.Valid != len(b.Targets) || math.Abs(float64(res.Loss)-want.Loss) > 1e-5*want.Loss {
		t.Errorf("%s: %+v; want %d kept, %d valid, loss %g", name, res, kept, len(b.Targets), want.Loss)
	}
	t.Logf("%s: %d positives (%.4f), %+v", name, positives, f, res)
}

func configEqual(a, b ohem.Config) bool {
	return a.Keep == b.Keep && a.KeepRatio == b.KeepRatio && a.ProbThreshold == b.ProbThreshold &&
		a.NegPosRatio == b.NegPosRatio && a.Background == b.Background && a.MinKept == b.MinKept &&
		a.KeepTies == b.KeepTies && a.PerImage == b.PerImage && a.ClassWeights == nil && b.ClassWeights == nil &&
		a.LabelSmoothing == b.LabelSmoothing && a.Reduction == b.Reduction && a.Workers == b.Workers && a.Kernel == b.Kernel
}

// ssdConfig is torchvision SSD's hard negative mining: every positive, and the 3 x positives hardest
// negatives of each image, summed.
var ssdConfig = ohem.Config{NegPosRatio: 3, Background: 0, PerImage: true, Reduction: ohem.Sum}

func ssdKept(pos, neg int) int { return pos + min(neg, 3*pos) }

func TestSSD21(t *testing.T) {
	checkDetection(t, "ssd21", 32, 8732, 21, 0.01, ssdConfig, ssdKept)
}

func TestSSD81(t *testing.T) {
	if testing.Short() {
		t.Skip("ssd81 is 92 MB")
	}
	checkDetection(t, "ssd81", 32, 8732, 81, 0.01, ssdConfig, ssdKept)
}

func TestRoI81(t *testing.T) {
	checkDetection(t, "roi81", 2, 2000, 81, 0.25, ohem.Config{Keep: 64, PerImage: true},
		func(pos, neg int) int { return min(64, pos+neg) })
}

func TestSweep(t *testing.T) {
	for _, elems := range []int{SweepElems, 5000, 1} {
		for _, c := range SweepClasses {
			r := SweepRows(c, elems)
			n := max(1, elems/c)
			if len(r.Logits) != n*c || len(r.Targets) != n || r.Classes != c || r.Spatial != 0 || r.Images != 0 {
				t.Fatalf("rows C=%d elems=%d: %d logits, %d targets", c, elems, len(r.Logits), len(r.Targets))
			}
			images, s := PlanarShape(c, elems)
			p := SweepPlanar(c, elems)
			if len(p.Logits) != images*c*s || len(p.Targets) != images*s || p.Classes != c || p.Spatial != s || s < 1 || images < 1 {
				t.Fatalf("planar C=%d elems=%d: %d logits, %d targets, spatial %d, %d images", c, elems, len(p.Logits), len(p.Targets), s, images)
			}
			// images of at most 256 x 256 positions, H*W a power of two, the logits within a third of
			// elems (when there are at least as many logits as classes), whole images
			if s > 65536 || s&(s-1) != 0 || (c <= elems && (3*len(p.Logits) > 4*elems || 3*len(p.Logits) < 2*elems)) ||
				(s < 65536 && 2*s <= elems/c) {
				t.Errorf("planar C=%d elems=%d: %d x %d x %d", c, elems, images, c, s)
			}
			for _, b := range []ohem.Batch{r, p} {
				for _, v := range b.Targets {
					if v < 0 || int(v) >= c {
						t.Fatalf("C=%d: target %d", c, v)
					}
				}
			}
			if elems == SweepElems && c <= 4096 && len(r.Logits) < elems-c {
				t.Errorf("rows C=%d: %d logits", c, len(r.Logits))
			}
		}
	}
	// the logits are prefixes of one standard normal buffer
	a, b := SweepRows(3, 300), SweepPlanar(7, 300)
	if !slices.Equal(a.Logits[:200], b.Logits[:200]) || !slices.Equal(a.Logits, normals(99, len(a.Logits))) {
		t.Error("the sweep's logits are not prefixes of one buffer")
	}
}
