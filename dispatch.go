package ohem

import (
	"fmt"
	"os"
	"strings"
)

// usable lists the kernel sets this CPU can run, best first; generic is always last.
var usable = append(archSets(), genericSet)

// active is the set the package-level functions and a Loss with no Config.Kernel use: the best
// usable set, or the one OHEM_KERNEL names if this CPU can run it.
var active = chooseSet(os.Getenv("OHEM_KERNEL"))

func chooseSet(env string) *kernelSet {
	if ks := lookupSet(strings.TrimSpace(env)); ks != nil {
		return ks
	}
	return usable[0]
}

// envErr says why OHEM_KERNEL was not honoured, nil when it was (or is unset).
var envErr = checkEnv(os.Getenv("OHEM_KERNEL"))

func checkEnv(env string) error {
	name := strings.TrimSpace(env)
	if name == "" || lookupSet(name) != nil {
		return nil
	}
	why := "no kernel set has that name"
	switch name {
	case "avx512", "avx2", "neon":
		why = "this CPU cannot run it"
	}
	return fmt.Errorf("%w: OHEM_KERNEL=%q ignored (%s; have %s): using %s", ErrConfig, env, why, setNames(), usable[0].name)
}

// KernelEnv reports whether the environment variable OHEM_KERNEL was honoured: nil when it is unset
// or names a set this CPU can run, else an error wrapping ErrConfig that says why it was ignored (a
// misspelt name, or a set this CPU lacks) and which set [Kernel] uses instead. Scripts that run a
// suite per kernel set can check it (`ohem info` exits with status 1 when it is not nil).
func KernelEnv() error { return envErr }

func lookupSet(name string) *kernelSet {
	for _, ks := range usable {
		if ks.name == name {
			return ks
		}
	}
	return nil
}

// Kernel names the kernel set in use: "avx512", "avx2", "neon" or "generic". It is the best set
// this CPU can run unless the environment variable OHEM_KERNEL, read once at start, names another
// set the CPU can run (a lower tier); a name it cannot run is ignored, and [KernelEnv] says so.
func Kernel() string { return active.name }

// KernelSet is one implementation of the package's kernels. The package-level functions use the
// set [Kernel] names; a KernelSet runs the same functions on a set of your choice, to compare or
// benchmark them. Every set gives identical selection results and meets the same accuracy bounds.
type KernelSet struct{ ks *kernelSet }

// KernelSets returns every kernel set this CPU can run, best first; the last is "generic".
func KernelSets() []KernelSet {
	out := make([]KernelSet, len(usable))
	for i, ks := range usable {
		out[i] = KernelSet{ks}
	}
	return out
}

// LookupKernelSet returns the kernel set with the given name, or an error wrapping ErrConfig when
// this CPU cannot run it.
func LookupKernelSet(name string) (KernelSet, error) {
	ks := lookupSet(name)
	if ks == nil {
		return KernelSet{}, fmt.Errorf("%w: kernel set %q is not available on this CPU (have %s)", ErrConfig, name, setNames())
	}
	return KernelSet{ks}, nil
}

func setNames() string {
	names := make([]string, len(usable))
	for i, ks := range usable {
		names[i] = ks.name
	}
	return strings.Join(names, ", ")
}

func (k KernelSet) set() *kernelSet {
	if k.ks == nil {
		return active
	}
	return k.ks
}

// Name is the set's name. The zero KernelSet stands for the set in use.
func (k KernelSet) Name() string { return k.set().name }

// CrossEntropy is [CrossEntropy] on this kernel set.
func (k KernelSet) CrossEntropy(dst []float32, b Batch) error { return crossEntropy(k.set(), dst, b) }

// LogSumExp is [LogSumExp] on this kernel set.
func (k KernelSet) LogSumExp(dst []float32, b Batch) error { return logSumExp(k.set(), dst, b) }

// CountAtLeast is [CountAtLeast] on this kernel set.
func (k KernelSet) CountAtLeast(x []float32, t float32) int { return countAtLeast(k.set(), x, t) }

// KthLargest is [KthLargest] on this kernel set.
func (k KernelSet) KthLargest(x []float32, kth int) (float32, error) {
	return kthLargest(k.set(), x, kth)
}

// TopK is [TopK] on this kernel set.
func (k KernelSet) TopK(dst []int32, x []float32, kth int) ([]int32, error) {
	return topK(k.set(), dst, x, kth)
}
