package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// progressHandler prints log records as short lines for a person watching a long
// operation: "  applied migration: version=1 name=0001_init.sql took=12ms".
type progressHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	attrs []slog.Attr
}

func newProgressHandler(w io.Writer) *progressHandler {
	return &progressHandler{mu: new(sync.Mutex), w: w}
}

func (h *progressHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *progressHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("  ")
	b.WriteString(r.Message)
	sep := ": "
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, "%s%s=%v", sep, a.Key, a.Value.Resolve())
		sep = " "
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *progressHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &progressHandler{mu: h.mu, w: h.w, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

// WithGroup is not needed for progress lines; attributes keep their plain keys.
func (h *progressHandler) WithGroup(string) slog.Handler { return h }
