package main

// genPlanarNEON emits the planar cross-entropy and log-sum-exp kernels.
func genPlanarNEON(f *neonFile) {}
