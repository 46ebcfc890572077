package main

// genPlanar emits the planar ([images][classes][positions]) cross-entropy and log-sum-exp kernels
// of tier t.
func genPlanar(t tier) {}
