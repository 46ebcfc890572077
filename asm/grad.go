package main

// genGrad emits the gradient kernels of tier t.
func genGrad(t tier) {}
