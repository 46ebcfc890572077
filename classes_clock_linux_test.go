package ohem

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadClock returns the CPU time the calling OS thread has used.
func threadClock() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}
