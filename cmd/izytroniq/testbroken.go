//go:build izytroniq_testbroken

package main

import (
	"fmt"
	"os"
)

// Built only into the packages that bench/update.sh makes to measure update's automatic
// rollback: a server that cannot start. No release is built with the tag
// izytroniq_testbroken; every other command works as usual (release build asks the binary
// for its versions).
func init() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		fmt.Fprintln(os.Stderr, "izytroniq: built with the tag izytroniq_testbroken: serve fails on purpose")
		os.Exit(3)
	}
}
