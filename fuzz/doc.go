// Package fuzz holds the differential fuzz targets of package ohem: every kernel set of
// ohem.KernelSets() against the float64 reference of internal/ref and against the generic set.
//
//	go test ./fuzz                                   # the seed corpus under testdata/fuzz
//	go test -run XXX -fuzz FuzzSelect -fuzztime 60s ./fuzz
//
// The targets are FuzzCrossEntropy (CrossEntropy and LogSumExp), FuzzSelect (CountAtLeast,
// KthLargest, TopK) and FuzzLoss (New, Forward, ForwardBackward). The package has no code of its
// own; everything is in fuzz_test.go.
package fuzz
