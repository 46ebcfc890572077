//go:build purego || !(amd64 || arm64)

package ohem

// archSets returns the assembly kernel sets of this build that the CPU can run, best first. This
// build has none.
func archSets() []*kernelSet { return nil }
