//go:build windows

package service

import (
	"syscall"
	"testing"
)

// TestQuoteMatchesEscapeArg: mgr.CreateService quotes with syscall.EscapeArg, and
// Repoint with windowsQuoteArg; they must agree.
func TestQuoteMatchesEscapeArg(t *testing.T) {
	for _, s := range []string{"", "serve", `C:\Program Files\x.exe`, `a"b`, `a\"b`, `C:\dir with space\`, "tab\there"} {
		if got, want := windowsQuoteArg(s), syscall.EscapeArg(s); got != want {
			t.Errorf("windowsQuoteArg(%q) = %s, syscall.EscapeArg = %s", s, got, want)
		}
	}
}
