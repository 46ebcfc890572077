// Package bench holds the benchmarks of package ohem: for every kernel set this CPU runs
// ([ohem.KernelSets]), the Forward, ForwardBackward and CrossEntropy of the workloads of
// internal/workload (rpn, cls, seg, lm, ssd21, ssd81, roi81), KthLargest and TopK. See README.md for how to run and
// compare them, and compare.sh for the side-by-side comparison with PyTorch.
//
//	go test -run XXX -bench . ./bench
//	go test -run XXX -bench 'Forward/generic/(rpn|cls)' -benchtime 3x ./bench
package bench
