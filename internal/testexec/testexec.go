// Package testexec starts a test binary again as a child process, also under user-mode
// emulation: with `go test -exec qemu-aarch64` on another architecture, the kernel cannot start
// the binary itself, so the child goes through the same emulator, found on PATH.
package testexec

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"
)

// emulators are the qemu-user binaries by GOARCH.
var emulators = map[string]string{"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}

// Output runs bin with args and extra environment variables and returns its standard output
// (combined with standard error when combined is set), as exec.Cmd does.
func Output(combined bool, env []string, bin string, args ...string) ([]byte, error) {
	run := func(name string, a ...string) ([]byte, error) {
		cmd := exec.Command(name, a...)
		cmd.Env = append(cmd.Environ(), env...)
		if combined {
			return cmd.CombinedOutput()
		}
		return cmd.Output()
	}
	out, err := run(bin, args...)
	if !errors.Is(err, syscall.ENOEXEC) {
		return out, err
	}
	qemu, ok := emulators[runtime.GOARCH]
	if !ok {
		return out, err
	}
	return run(qemu, append([]string{bin}, args...)...)
}
