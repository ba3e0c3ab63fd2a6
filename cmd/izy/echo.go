package main

import (
	"os"
	"os/exec"
	"runtime"
)

// noEcho turns off the terminal's echo while a password is typed and returns a function
// that turns it back on. It runs stty on the terminal rather than adding golang.org/x/term
// as a dependency; where stty is missing (Windows) the password shows as typed, and
// --password-file avoids that.
func noEcho(f *os.File) (restore func()) {
	if runtime.GOOS == "windows" {
		return func() {}
	}
	off := exec.Command("stty", "-echo")
	off.Stdin = f
	if off.Run() != nil {
		return func() {}
	}
	return func() {
		on := exec.Command("stty", "echo")
		on.Stdin = f
		on.Run()
	}
}
