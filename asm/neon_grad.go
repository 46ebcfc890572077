package main

// genGradNEON emits the gradient kernels.
func genGradNEON(f *neonFile) {}
