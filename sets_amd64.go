//go:build !purego

package ohem

import "golang.org/x/sys/cpu"

// x86Features are the CPU features the generated kernels may require, by the names avo writes in
// each kernel's "// Requires:" line in ohem_amd64.s.
var x86Features = map[string]bool{
	"SSE":      true, // part of amd64 (PREFETCHh; no kernel has a legacy-SSE vector instruction)
	"SSE2":     true,
	"CMOV":     true, // part of amd64 (gradRows's branch-free prefetch address)
	"AVX":      cpu.X86.HasAVX,
	"AVX2":     cpu.X86.HasAVX2,
	"FMA3":     cpu.X86.HasFMA,
	"BMI2":     cpu.X86.HasBMI2,
	"POPCNT":   cpu.X86.HasPOPCNT,
	"AVX512F":  cpu.X86.HasAVX512F,
	"AVX512DQ": cpu.X86.HasAVX512DQ,
	"AVX512BW": cpu.X86.HasAVX512BW,
	"AVX512VL": cpu.X86.HasAVX512VL,
}

// tierFeatures lists, per tier, exactly the features its kernels require; a test checks them
// against the Requires lines of the generated assembly.
var tierFeatures = map[string][]string{
	"avx512": {"AVX", "AVX2", "AVX512DQ", "AVX512F", "AVX512VL", "BMI2", "CMOV", "POPCNT", "SSE"},
	"avx2":   {"AVX", "AVX2", "CMOV", "FMA3", "POPCNT", "SSE"},
}

func hasAll(features []string) bool {
	for _, f := range features {
		if !x86Features[f] {
			return false
		}
	}
	return true
}

// archSets returns the amd64 kernel sets this CPU can run, best first.
func archSets() []*kernelSet {
	var sets []*kernelSet
	if hasAll(tierFeatures["avx512"]) {
		sets = append(sets, avx512Set())
	}
	if hasAll(tierFeatures["avx2"]) {
		sets = append(sets, avx2Set())
	}
	return sets
}

func avx2Set() *kernelSet {
	ks := newArchSet("avx2")
	ks.expf = lanewise(8, expfAVX2)
	ks.log1pf = lanewise(8, log1pfAVX2)
	ks.log1pUnitf = lanewise(8, log1pUnitfAVX2)
	ks.maxTarget = maxTargetAVX2
	ks.countAtLeast = counter(countAtLeastAVX2, countNaNAVX2)
	selectAVX2(ks)
	ceAVX2(ks)
	planarAVX2(ks)
	gradAVX2(ks)
	sigAVX2(ks)
	return ks
}

func avx512Set() *kernelSet {
	ks := newArchSet("avx512")
	ks.expf = lanewise(16, expfAVX512)
	ks.log1pf = lanewise(16, log1pfAVX512)
	ks.log1pUnitf = lanewise(16, log1pUnitfAVX512)
	ks.maxTarget = maxTargetAVX512
	ks.countAtLeast = counter(countAtLeastAVX512, countNaNAVX512)
	selectAVX512(ks)
	ceAVX512(ks)
	planarAVX512(ks)
	gradAVX512(ks)
	sigAVX512(ks)
	return ks
}
