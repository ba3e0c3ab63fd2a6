package izytroniq_test

import (
	"strings"
	"sync"
	"testing"

	izy "github.com/izytroniq/izytroniq"
)

func TestNewID(t *testing.T) {
	const n = 20000 // enough to cross many milliseconds and to count within one
	prev := ""
	seen := make(map[string]bool, n)
	for range n {
		id := izy.NewID()
		if !izy.ValidID(id) {
			t.Fatalf("NewID() = %q: not a valid id", id)
		}
		if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewID() = %q: want UUID version 7, RFC 9562 variant", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		// Text order is creation order, so rows created together sit together in an index.
		if id <= prev {
			t.Fatalf("NewID() = %q after %q: want increasing ids", id, prev)
		}
		prev = id
	}
}

func TestNewIDConcurrent(t *testing.T) {
	const workers, each = 8, 2000
	var mu sync.Mutex
	seen := make(map[string]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			ids := make([]string, each)
			for i := range ids {
				ids[i] = izy.NewID()
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if seen[id] {
					t.Errorf("NewID() repeated %q across goroutines", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
}

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{
		{"0192d4e0-7c1a-7abc-8def-0123456789ab", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"0192D4E0-7C1A-7ABC-8DEF-0123456789AB", false}, // canonical form is lower-case
		{"0192d4e07c1a7abc8def0123456789ab", false},
		{"0192d4e0-7c1a-7abc-8def-0123456789a", false},
		{"0192d4e0-7c1a-7abc-8def-0123456789abc", false},
		{"0192d4e0_7c1a-7abc-8def-0123456789ab", false},
		{"0192d4e0-7c1a-7abc-8def-0123456789ag", false},
		{"{192d4e0-7c1a-7abc-8def-0123456789ab}", false},
		{"", false},
	} {
		if got := izy.ValidID(tt.s); got != tt.ok {
			t.Errorf("ValidID(%q): got %v, want %v", tt.s, got, tt.ok)
		}
	}
}
