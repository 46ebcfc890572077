// Package guard allocates test buffers that sit against an inaccessible (PROT_NONE) page,
// so that a kernel reading or writing one element past the end (or, for the Front
// variants, before the start) faults at once instead of silently touching other memory.
//
// Each slice has cap == len, so Go's bounds checks cannot hide an overrun by re-slicing
// either. Because the guard page is page-aligned, a tail-guarded buffer of n elements of
// size s starts (−n·s) mod pagesize bytes past a page boundary: to test a particular start
// misalignment with a guarded end, choose n accordingly (see Misalign).
//
// On platforms without mmap (Guarded is false) the buffers are ordinary Go memory.
// Call free when done; it unmaps the memory (any later access faults) and is idempotent.
// Never store Go pointers in these buffers: the element types are plain numbers for that reason.
package guard

import "unsafe"

// Elem is the element types a guarded buffer may hold: numbers, which hold no Go pointers.
type Elem interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64
}

// Make returns a slice of n zeroed elements whose last element ends exactly where a
// PROT_NONE page begins. It panics if n < 0 or the memory cannot be mapped.
func Make[T Elem](n int) (buf []T, free func()) {
	return make_[T](n, false)
}

// MakeFront returns a slice of n zeroed elements whose first element starts exactly where
// a PROT_NONE page ends (the start is page-aligned). It panics if n < 0 or the memory
// cannot be mapped.
func MakeFront[T Elem](n int) (buf []T, free func()) {
	return make_[T](n, true)
}

func make_[T Elem](n int, front bool) ([]T, func()) {
	if n < 0 {
		panic("guard: negative length")
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	p, free := alloc(n*size, size, front)
	return unsafe.Slice((*T)(p), n), free
}

// Float32s returns n zeroed float32s ending at a guard page.
func Float32s(n int) (buf []float32, free func()) { return Make[float32](n) }

// Int32s returns n zeroed int32s ending at a guard page.
func Int32s(n int) (buf []int32, free func()) { return Make[int32](n) }

// Float32sFront returns n zeroed float32s starting right after a guard page.
func Float32sFront(n int) (buf []float32, free func()) { return MakeFront[float32](n) }

// Int32sFront returns n zeroed int32s starting right after a guard page.
func Int32sFront(n int) (buf []int32, free func()) { return MakeFront[int32](n) }

// Misalign returns how many 4-byte elements past a 64-byte boundary Float32s(n) and
// Int32s(n) start when Guarded: (−n) mod 16. Float32s(16·m + 16 − a), for example,
// starts a elements (4·a bytes) past a 64-byte boundary.
func Misalign(n int) int { return ((-n)%16 + 16) % 16 }
