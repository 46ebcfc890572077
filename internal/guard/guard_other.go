//go:build !(linux || darwin)

package guard

import "unsafe"

// Guarded reports whether buffers really sit against a PROT_NONE page on this platform.
const Guarded = false

// alloc returns ordinary Go memory (no guard page), aligned to align bytes; with
// front == false the data ends at the end of the allocation.
func alloc(nbytes, align int, front bool) (unsafe.Pointer, func()) {
	words := make([]uint64, (nbytes+7)/8+1) // +1: a non-nil pointer even for nbytes == 0
	off := 0
	if !front {
		off = (len(words)*8 - nbytes) / align * align
	}
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(words)), off), func() {}
}
