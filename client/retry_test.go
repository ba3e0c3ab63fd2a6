package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Tue, 24 Nov 2026 09:00:30 GMT": 30 * time.Second,
		"Tue, 24 Nov 2026 08:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestRetryable checks which answers a caller may send again: network failures, 408,
// 429, 502, 503 and 504, never another 4xx or a 500; the error still carries the server's
// code and message, and the Retry-After it asked for.
func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		retry  bool
		code   string
	}{
		{http.StatusServiceUnavailable, `{"error":{"code":"unavailable","message":"schema is not current"}}`, true, izy.EUNAVAILABLE},
		{http.StatusBadGateway, `<html>bad gateway</html>`, true, izy.EUNAVAILABLE},
		{http.StatusGatewayTimeout, ``, true, izy.EUNAVAILABLE},
		{http.StatusTooManyRequests, `{"error":{"code":"rate_limited","message":"slow down"}}`, true, izy.ERATELIMIT},
		{http.StatusRequestTimeout, ``, true, izy.EINTERNAL},
		{http.StatusUnauthorized, `{"error":{"code":"unauthorized","message":"wrong password"}}`, false, izy.EUNAUTHORIZED},
		{http.StatusConflict, `{"error":{"code":"conflict","message":"held"}}`, false, izy.ECONFLICT},
		{http.StatusNotFound, ``, false, izy.ENOTFOUND},
		{http.StatusInternalServerError, `{"error":{"code":"internal","message":"bug"}}`, false, izy.EINTERNAL},
	} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}))
		cl, err := New(hs.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Me(context.Background())
		hs.Close()
		if got := Retryable(err); got != c.retry {
			t.Errorf("%d: Retryable = %v, want %v (%v)", c.status, got, c.retry, err)
		}
		if got := izy.ErrorCode(err); got != c.code {
			t.Errorf("%d: code %q, want %q", c.status, got, c.code)
		}
		if got, want := StatusOf(err), c.status; got != want {
			t.Errorf("StatusOf = %d, want %d", got, want)
		}
		if got := RetryAfter(err); got != 3*time.Second {
			t.Errorf("%d: RetryAfter = %v, want 3s", c.status, got)
		}
	}
	// A server that is not there: a network error, retryable.
	cl, _ := New("http://127.0.0.1:1")
	_, err := cl.Me(context.Background())
	if !Retryable(err) || !IsNetError(err) {
		t.Errorf("refused connection: Retryable %v, IsNetError %v (%v)", Retryable(err), IsNetError(err), err)
	}
	if Retryable(nil) || Retryable(izy.Errorf(izy.EINVALID, "x")) {
		t.Error("nil or a domain error counts as retryable")
	}
}
