//go:build !linux

package main

import "time"

// haveThreadClock reports whether threadTime works here.
const haveThreadClock = false

func threadTime() time.Duration { panic("ohem: no thread CPU clock on this system") }
