package main

import (
	"strings"
	"testing"

	. "github.com/mmcloughlin/avo/operand"
)

// TestConstTableReuse checks that a constant's name reused with its contents gets the symbol
// emitted first, without emitting it again, and reused with other contents panics naming both.
func TestConstTableReuse(t *testing.T) {
	c := constTable{}
	emits := 0
	emit := func() Mem { emits++; return Mem{Disp: emits} }
	first := c.get("half", u32Data(0x3f000000), emit)
	if again := c.get("half", u32Data(0x3f000000), emit); again != first || emits != 1 {
		t.Fatalf("same contents: got %v after %d emits, want %v after 1", again, emits, first)
	}
	for _, other := range [][]byte{u32Data(0x3f800000), u32Data(0x3f000000, 0x3f000000)} {
		msg := func() (msg string) {
			defer func() {
				r := recover()
				msg, _ = r.(string)
			}()
			c.get("half", other, emit)
			return ""
		}()
		if msg == "" {
			t.Fatalf("reuse of half with %x did not panic", other)
		}
		if !strings.Contains(msg, "0x3f000000") || !strings.Contains(msg, describeData(other)) {
			t.Errorf("panic %q does not show both contents", msg)
		}
		t.Log(msg)
	}
	if emits != 1 {
		t.Errorf("%d emits, want 1", emits)
	}
}

// TestConstMemConflict checks constMem itself, with avo's global context: a name reused with
// other bits panics before anything is emitted.
func TestConstMemConflict(t *testing.T) {
	defer func(saved constTable) { consts = saved }(consts)
	consts = constTable{}
	constMem("testConst", 0x3f800000)
	defer func() {
		r := recover()
		msg, _ := r.(string)
		if !strings.Contains(msg, "0x3f800000") || !strings.Contains(msg, "0x40000000") {
			t.Errorf("constMem(testConst) with other bits: recovered %v, want a panic naming both", r)
		}
	}()
	constMem("testConst", 0x40000000)
}

// TestKernelConsts runs every amd64 kernel's generator (in avo's global context, without
// Generate): no constant is reused under its name with other contents.
func TestKernelConsts(t *testing.T) {
	defer func(saved constTable) { consts = saved }(consts)
	consts = constTable{}
	genAMD64()
	if len(consts) == 0 {
		t.Fatal("no constants emitted")
	}
}
