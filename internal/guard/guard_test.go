package guard

import (
	"errors"
	"fmt"
	"os"

	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"

	"github.com/ohem-go/ohem/internal/testexec"
)

var sizes = []int{0, 1, 2, 3, 7, 15, 16, 17, 31, 1023, 1024, 1025, 4096, 100003}

func addr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

// checkUsable checks len, cap, zeroing, and that every element can be written and read.
func checkUsable[T Elem](t *testing.T, name string, buf []T, n int) {
	t.Helper()
	if len(buf) != n || cap(buf) != n {
		t.Fatalf("%s(%d): len %d cap %d", name, n, len(buf), cap(buf))
	}
	for i, v := range buf {
		if v != 0 {
			t.Fatalf("%s(%d)[%d] = %v, want 0", name, n, i, v)
		}
	}
	for i := range buf {
		buf[i] = T(i % 100)
	}
	for i, v := range buf {
		if v != T(i%100) {
			t.Fatalf("%s(%d)[%d] = %v after write", name, n, i, v)
		}
	}
}

func TestUsableAndPlaced(t *testing.T) {
	ps := uintptr(os.Getpagesize())
	for _, n := range sizes {
		f, freeF := Float32s(n)
		checkUsable(t, "Float32s", f, n)
		i, freeI := Int32s(n)
		checkUsable(t, "Int32s", i, n)
		d, freeD := Make[float64](n)
		checkUsable(t, "Make[float64]", d, n)
		b, freeB := Make[uint8](n)
		checkUsable(t, "Make[uint8]", b, n)
		ff, freeFF := Float32sFront(n)
		checkUsable(t, "Float32sFront", ff, n)
		fi, freeFI := Int32sFront(n)
		checkUsable(t, "Int32sFront", fi, n)

		if Guarded {
			for _, c := range []struct {
				name       string
				start, end uintptr
			}{
				{"Float32s", addr(unsafe.SliceData(f)), addr(unsafe.SliceData(f)) + uintptr(4*n)},
				{"Int32s", addr(unsafe.SliceData(i)), addr(unsafe.SliceData(i)) + uintptr(4*n)},
				{"Make[float64]", addr(unsafe.SliceData(d)), addr(unsafe.SliceData(d)) + uintptr(8*n)},
				{"Make[uint8]", addr(unsafe.SliceData(b)), addr(unsafe.SliceData(b)) + uintptr(n)},
			} {
				if c.end%ps != 0 {
					t.Errorf("%s(%d) ends at %#x, not at a page boundary", c.name, n, c.end)
				}
			}
			for _, s := range []uintptr{addr(unsafe.SliceData(f)), addr(unsafe.SliceData(i))} {
				if got := int(s%64) / 4; got != Misalign(n) || s%4 != 0 {
					t.Errorf("start %#x of a %d-element buffer: misalignment %d, Misalign says %d", s, n, got, Misalign(n))
				}
			}
			for _, s := range []uintptr{addr(unsafe.SliceData(ff)), addr(unsafe.SliceData(fi))} {
				if s%ps != 0 {
					t.Errorf("front buffer of %d starts at %#x, not at a page boundary", n, s)
				}
			}
		}
		for _, free := range []func(){freeF, freeI, freeD, freeB, freeFF, freeFI} {
			free()
			free() // idempotent
		}
	}
}

func TestMisalignChoosesStart(t *testing.T) {
	for a := 0; a < 16; a++ {
		n := 16*3 + (16-a)%16
		if Misalign(n) != a {
			t.Fatalf("Misalign(%d) = %d, want %d", n, Misalign(n), a)
		}
	}
}

var sink float32

// touch does one out-of-bounds access of the given kind on a fresh buffer of n elements.
func touch(kind string, n int) {
	switch kind {
	case "read-tail":
		buf, free := Float32s(n)
		defer free()
		sink = *(*float32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(buf)), 4*n))
	case "write-tail":
		buf, free := Int32s(n)
		defer free()
		*(*int32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(buf)), 4*n)) = 1
	case "read-front":
		buf, free := Float32sFront(n)
		defer free()
		sink = *(*float32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(buf)), -4))
	case "in-bounds":
		buf, free := Float32s(n)
		defer free()
		if n > 0 {
			sink = buf[n-1]
			buf[0] = 1
		}
	default:
		panic("unknown kind " + kind)
	}
}

// faultAddr runs touch with faults turned into panics and returns the faulting address.
func faultAddr(kind string, n int) (addr uintptr, faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		var re interface{ Addr() uintptr }
		if err, ok := r.(error); ok && errors.As(err, &re) {
			addr, faulted = re.Addr(), true
			return
		}
		panic(r)
	}()
	touch(kind, n)
	return 0, false
}

func TestFaultInProcess(t *testing.T) {
	if !Guarded {
		t.Skip("no guard pages on " + runtime.GOOS)
	}
	ps := uintptr(os.Getpagesize())
	for _, n := range sizes {
		for _, kind := range []string{"read-tail", "write-tail", "read-front"} {
			a, ok := faultAddr(kind, n)
			if !ok {
				t.Errorf("%s past a %d-element buffer did not fault", kind, n)
				continue
			}
			// The faulting address is the first byte past the end (a page boundary) or,
			// for the front guard, the last 4 bytes before the start.
			want := uintptr(0)
			if kind == "read-front" {
				want = ps - 4
			}
			if a%ps != want {
				t.Errorf("%s on %d elements faulted at %#x (offset %#x in its page, want %#x)", kind, n, a, a%ps, want)
			}
		}
		if _, ok := faultAddr("in-bounds", n); ok {
			t.Errorf("in-bounds access of a %d-element buffer faulted", n)
		}
	}
}

const childEnv = "GUARD_TEST_CHILD_KIND"

// TestFaultChild is run by TestFaultSubprocess in a child process; it does nothing otherwise.
func TestFaultChild(t *testing.T) {
	kind := os.Getenv(childEnv)
	if kind == "" {
		t.Skip("only run as a child of TestFaultSubprocess")
	}
	fmt.Println("guard: touching", kind)
	touch(kind, 5)
	fmt.Println("guard: survived", kind)
}

func TestFaultSubprocess(t *testing.T) {
	if !Guarded {
		t.Skip("no guard pages on " + runtime.GOOS)
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip("no executable:", err)
	}
	for _, kind := range []string{"in-bounds", "read-tail", "write-tail", "read-front"} {
		out, err := testexec.Output(true, []string{childEnv + "=" + kind}, exe, "-test.run=^TestFaultChild$", "-test.v", "-test.count=1")
		s := string(out)
		if !strings.Contains(s, "guard: touching "+kind) {
			t.Fatalf("%s: child did not reach the access (err %v):\n%s", kind, err, s)
		}
		if kind == "in-bounds" {
			if err != nil || !strings.Contains(s, "guard: survived") {
				t.Errorf("in-bounds child failed (err %v):\n%s", err, s)
			}
			continue
		}
		crashed := strings.Contains(s, "unexpected fault address") ||
			strings.Contains(s, "SIGSEGV") || strings.Contains(s, "SIGBUS")
		if err == nil || strings.Contains(s, "guard: survived") || !crashed {
			t.Errorf("%s: child did not crash with a fault (err %v):\n%s", kind, err, s)
		}
	}
}
