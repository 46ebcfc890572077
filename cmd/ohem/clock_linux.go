package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// haveThreadClock reports whether threadTime works here.
const haveThreadClock = true

// threadTime returns the CPU time the calling OS thread has used.
func threadTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err) // CLOCK_THREAD_CPUTIME_ID exists since Linux 2.6.12
	}
	return time.Duration(ts.Nano())
}
