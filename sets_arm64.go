//go:build !purego

package ohem

import "golang.org/x/sys/cpu"

// archSets returns the arm64 kernel sets this CPU can run: "neon" (Advanced SIMD, part of every
// ARMv8-A core, reported by the kernel as ASIMD).
func archSets() []*kernelSet {
	if !cpu.ARM64.HasASIMD {
		return nil
	}
	return []*kernelSet{neonSet()}
}

func neonSet() *kernelSet {
	ks := newArchSet("neon")
	ks.expf = lanewise(4, expfNEON)
	ks.log1pf = lanewise(4, log1pfNEON)
	ks.log1pUnitf = lanewise(4, log1pUnitfNEON)
	selectNEON(ks)
	ceNEON(ks)
	planarNEON(ks)
	gradNEON(ks)
	sigNEON(ks)
	return ks
}
