// Package fuzz holds the differential fuzz targets of package ohem: every kernel set of
// ohem.KernelSets() against the float64 reference of internal/ref and against the generic set.
//
//	go test ./fuzz                                   # the seed corpus under testdata/fuzz
//	go test -run XXX -fuzz FuzzSelect -fuzztime 60s ./fuzz
//
// The targets are FuzzCrossEntropy (CrossEntropy and LogSumExp), FuzzSelect (CountAtLeast,
// KthLargest, TopK), FuzzLoss (New, Forward, ForwardBackward) and FuzzSigmoid (all of them on
// Sigmoid batches, sigmoid_test.go). The package has no code of its own; everything is in the
// test files.
package fuzz
