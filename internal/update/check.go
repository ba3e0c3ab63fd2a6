package update

import (
	"context"
	"time"
)

// Statuses of a check. Only StatusFail stops an update; StatusInfo lists something an
// administrator should know about (such as outstanding checkouts) without blocking.
const (
	StatusPass = "pass"
	StatusInfo = "info"
	StatusWarn = "warn"
	StatusFail = "fail"
	StatusSkip = "skip" // could not run because an earlier check failed
)

// Check is the result of one preflight check: what was checked, how it went, the
// details, what to do about a warning or failure, and how long it took.
type Check struct {
	Name     string        `json:"name"`
	Phase    string        `json:"phase"`
	Status   string        `json:"status"`
	Detail   string        `json:"detail"`
	Fix      string        `json:"fix,omitempty"`
	Items    []string      `json:"items,omitempty"` // e.g. the outstanding checkouts
	Duration time.Duration `json:"duration_ns"`
}

// Failed reports whether c stops the update.
func (c Check) Failed() bool { return c.Status == StatusFail }

// checkFunc runs one check and fills in Status, Detail, Fix and Items.
type checkFunc func(ctx context.Context, r *run, c *Check)

// namedCheck is a check in the order the preflight runs them.
type namedCheck struct {
	name string
	fn   checkFunc
}

// runChecks runs the checks in order and times each.
func runChecks(ctx context.Context, r *run, phase string, checks []namedCheck) []Check {
	out := make([]Check, 0, len(checks))
	for _, nc := range checks {
		c := Check{Name: nc.name, Phase: phase}
		start := time.Now()
		nc.fn(ctx, r, &c)
		c.Duration = time.Since(start)
		if r.log != nil {
			r.log.Info("preflight check", "check", c.Name, "status", c.Status, "detail", c.Detail, "took", c.Duration.Round(time.Millisecond).String())
		}
		out = append(out, c)
	}
	return out
}

func (c *Check) pass(detail string)      { c.Status, c.Detail = StatusPass, detail }
func (c *Check) info(detail string)      { c.Status, c.Detail = StatusInfo, detail }
func (c *Check) warn(detail, fix string) { c.Status, c.Detail, c.Fix = StatusWarn, detail, fix }
func (c *Check) fail(detail, fix string) { c.Status, c.Detail, c.Fix = StatusFail, detail, fix }
func (c *Check) skip(detail string)      { c.Status, c.Detail = StatusSkip, detail }
