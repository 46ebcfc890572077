//go:build !race

package ohem

const raceOn = false
