package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
)

// Retrying. A field client's network fails in basements: instead of ending a command with
// an error and asking the user to run it again, izy sends a failed call again by itself
// after a growing wait. That is safe because every call izy makes is idempotent: upload
// batches carry IDs fixed in the outbox before the first try, the download resumes from
// the page cursor committed with its rows, a repeated checkout answers the checkout the
// client already holds, and acks, releases and resolutions answer a repeat with the
// first result.

// Default retry policy: waits from 0.5 s doubling to 30 s, for up to 5 minutes.
const (
	defaultRetryFor  = 5 * time.Minute
	defaultRetryBase = 500 * time.Millisecond
	retryCapFactor   = 60 // the longest wait is base × 60 (30 s by default)
)

// retrier sends a failed call again with exponential backoff and jitter while the
// failure is retryable (client.Retryable) and the budget lasts.
type retrier struct {
	budget time.Duration // how long after a call's first failure to keep trying; 0: never retry
	base   time.Duration // the first wait
	max    time.Duration // the longest wait
	out    io.Writer     // "connection lost, retrying in 4 s (attempt 3)"; nil: silent
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
	rand  func() float64 // in [0, 1), for the jitter
	// retries counts the calls sent again, for the end-to-end tests.
	retries int
}

// newRetrier returns the policy of the command line: budget from --retry-for, the first
// wait from IZY_RETRY_BASE (a duration; tests set it to milliseconds).
func newRetrier(e *env) (*retrier, error) {
	base := defaultRetryBase
	if v := e.getenv("IZY_RETRY_BASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, usageErrorf("IZY_RETRY_BASE=%q must be a positive duration such as 500ms", v)
		}
		base = d
	}
	return &retrier{budget: e.retryFor, base: base, max: base * retryCapFactor, out: e.stderr,
		sleep: sleepCtx, now: time.Now, rand: rand.Float64}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before attempt n+1 after n failed attempts: base × 2^(n-1), capped
// at max, of which a random half is taken away so that many clients that lost the same
// network do not come back in step.
func (r *retrier) backoff(n int) time.Duration {
	d := r.base
	for i := 1; i < n && d < r.max; i++ {
		d *= 2
	}
	d = min(d, r.max)
	return d/2 + time.Duration(r.rand()*float64(d/2))
}

// do calls fn until it succeeds, fails for good, the budget since its first failure is
// spent, or ctx ends; it returns fn's last error.
func (r *retrier) do(ctx context.Context, fn func() error) error {
	var first time.Time
	for n := 1; ; n++ {
		err := fn()
		if err == nil || ctx.Err() != nil || r.budget <= 0 || !client.Retryable(err) {
			return err
		}
		now := r.now()
		if first.IsZero() {
			first = now
		}
		wait := r.backoff(n)
		if ra := client.RetryAfter(err); ra > wait {
			wait = ra
		}
		if now.Add(wait).Sub(first) > r.budget {
			return &gaveUpError{err: err, attempts: n, since: now.Sub(first)}
		}
		if r.out != nil {
			fmt.Fprintf(r.out, "%s, retrying in %s (attempt %d)\n", retryReason(err), fmtWait(wait), n+1)
		}
		r.retries++
		if err := r.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// gaveUpError is a retryable failure that lasted longer than --retry-for.
type gaveUpError struct {
	err      error
	attempts int
	since    time.Duration
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts in %s)", e.err, e.attempts, e.since.Round(time.Second))
}
func (e *gaveUpError) Unwrap() error { return e.err }

// retryReason says in a few words why a call is retried.
func retryReason(err error) string {
	switch client.StatusOf(err) {
	case 0:
		return "connection lost"
	case http.StatusTooManyRequests:
		return "the server is busy (429)"
	case http.StatusRequestTimeout:
		return "the server timed out the request (408)"
	default:
		return fmt.Sprintf("the server is unavailable (%d)", client.StatusOf(err))
	}
}

// fmtWait shows a wait to people: "4 s", "0.5 s", "10 ms".
func fmtWait(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
}

// retryFlag adds --retry-for to a command that goes online; the global --retry-for (before
// the command) is its default.
func (e *env) retryFlag(fs *flag.FlagSet) {
	fs.DurationVar(&e.retryFor, "retry-for", e.retryFor, "keep retrying a lost connection this long before giving up (0: do not retry)")
}

// remote is the server as izy uses it: every call goes through the retrier. It is the
// replica's Remote, too.
type remote struct {
	c *client.Client
	r *retrier
}

func (a *remote) Handshake(ctx context.Context, req client.HandshakeRequest) (h *client.Handshake, err error) {
	err = a.r.do(ctx, func() error { h, err = a.c.Handshake(ctx, req); return err })
	return h, err
}

// Login signs in. A wrong password (401) or too many attempts (429) is never retried: the
// same password would fail again, and more attempts would prolong a lockout.
func (a *remote) Login(ctx context.Context, user, password string) (tok string, err error) {
	err = a.r.do(ctx, func() error {
		tok, err = a.c.Login(ctx, user, password)
		if client.StatusOf(err) == http.StatusTooManyRequests {
			return noRetry{err}
		}
		return err
	})
	if nr, ok := err.(noRetry); ok {
		err = nr.error
	}
	return tok, err
}

// noRetry hides an error from client.Retryable.
type noRetry struct{ error }

// CreateCheckout opens a checkout; a repeat after a lost answer gets the same checkout
// (the server answers the open checkout of the same client, user, mode and scope).
func (a *remote) CreateCheckout(ctx context.Context, req client.CheckoutRequest) (co *izy.Checkout, err error) {
	err = a.r.do(ctx, func() error { co, err = a.c.CreateCheckout(ctx, req); return err })
	return co, err
}

// ReleaseCheckout checks in; releasing a released checkout changes nothing.
func (a *remote) ReleaseCheckout(ctx context.Context, id string) error {
	return a.r.do(ctx, func() error { return a.c.ReleaseCheckout(ctx, id) })
}

func (a *remote) Snapshot(ctx context.Context, checkoutID, cursor string, limit int) (p *izy.SyncPage, err error) {
	err = a.r.do(ctx, func() error { p, err = a.c.Snapshot(ctx, checkoutID, cursor, limit); return err })
	return p, err
}

func (a *remote) Changes(ctx context.Context, checkoutID string, since int64, limit int) (p *izy.SyncPage, err error) {
	err = a.r.do(ctx, func() error { p, err = a.c.Changes(ctx, checkoutID, since, limit); return err })
	return p, err
}

// Upload sends a batch; its ID was fixed in the outbox before the first try, so a repeat
// answers the stored result and applies nothing twice.
func (a *remote) Upload(ctx context.Context, checkoutID string, b *izy.Batch) (res *izy.BatchResult, err error) {
	err = a.r.do(ctx, func() error { res, err = a.c.Upload(ctx, checkoutID, b); return err })
	return res, err
}

// Ack records the client's position; the server keeps the highest seq acknowledged.
func (a *remote) Ack(ctx context.Context, checkoutID string, seq int64) error {
	return a.r.do(ctx, func() error { return a.c.Ack(ctx, checkoutID, seq) })
}

func (a *remote) Conflicts(ctx context.Context, q client.ListOptions) (l *client.List[izy.Conflict], err error) {
	err = a.r.do(ctx, func() error { l, err = a.c.Conflicts(ctx, q); return err })
	return l, err
}

func (a *remote) Conflict(ctx context.Context, id string) (c *izy.Conflict, err error) {
	err = a.r.do(ctx, func() error { c, err = a.c.Conflict(ctx, id); return err })
	return c, err
}

// ResolveConflict resolves a conflict; the same resolution again answers the resolved
// conflict.
func (a *remote) ResolveConflict(ctx context.Context, id string, res client.Resolution) (c *izy.Conflict, err error) {
	err = a.r.do(ctx, func() error { c, err = a.c.ResolveConflict(ctx, id, res); return err })
	return c, err
}
