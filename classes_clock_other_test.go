//go:build !linux

package ohem

import "time"

var clockStart = time.Now()

// threadClock falls back to the wall clock where the thread's CPU time is not at hand.
func threadClock() time.Duration { return time.Since(clockStart) }
