//go:build linux || darwin

package guard

// This file uses the standard library's syscall package rather than golang.org/x/sys/unix:
// x/sys v0.50.0 declares go 1.26.0, above this module's go 1.24 line, so importing it does
// not build until go.mod is raised. syscall has Mmap, Mprotect and Munmap on linux and darwin.

import (
	"sync"
	"syscall"
	"unsafe"
)

// Guarded reports whether buffers really sit against a PROT_NONE page on this platform.
const Guarded = true

// alloc maps the data pages plus one guard page and returns a pointer to nbytes of
// accessible memory that ends at the guard page (front == false) or starts right after it.
func alloc(nbytes, _ int, front bool) (unsafe.Pointer, func()) {
	ps := syscall.Getpagesize()
	pages := (nbytes + ps - 1) / ps
	mem, err := syscall.Mmap(-1, 0, (pages+1)*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic("guard: mmap: " + err.Error())
	}
	var guard []byte
	var off int
	if front {
		guard, off = mem[:ps], ps
	} else {
		guard, off = mem[pages*ps:], pages*ps-nbytes
	}
	if err := syscall.Mprotect(guard, syscall.PROT_NONE); err != nil {
		syscall.Munmap(mem)
		panic("guard: mprotect: " + err.Error())
	}
	var once sync.Once
	free := func() {
		once.Do(func() {
			if err := syscall.Munmap(mem); err != nil {
				panic("guard: munmap: " + err.Error())
			}
		})
	}
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(mem)), off), free
}
