package update

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// verifyPhase is phase 7: the new server answers /readyz with the new version and
// schema, within VerifyTimeout.
func verifyPhase(ctx context.Context, r *run) error {
	if err := r.save(PhaseVerify); err != nil {
		return err
	}
	r.crashPoint("verify:before")
	if !r.j.ServerRunning {
		r.note("not verified: no server runs")
		return nil
	}
	if err := r.waitReady(ctx, r.j.ToVersion, r.j.ToSchema); err != nil {
		return err
	}
	r.note("%s answers /readyz as version %s on schema %d", r.o.ServerURL, r.j.ToVersion, r.j.ToSchema)
	r.crashPoint("verify:after")
	return nil
}

// readyz is the part of /readyz the verification reads.
type readyz struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Checks  map[string][]struct {
		Status        string `json:"status"`
		ObservedValue any    `json:"observedValue"`
		Output        string `json:"output"`
	} `json:"checks"`
}

// waitReady polls /readyz until it reports version and schema, or VerifyTimeout ends.
func (r *run) waitReady(ctx context.Context, version string, schema int) error {
	if r.o.ServerURL == "" {
		return errors.New("the server's URL is not known: cannot verify it")
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.VerifyTimeout)
	defer cancel()
	last := "no answer"
	for {
		got, err := r.readyz(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			// The deadline cut this request short; the answer before says more.
		case err != nil:
			last = err.Error()
		case got.Version != version:
			last = fmt.Sprintf("answers as version %q, not %s", got.Version, version)
		case got.Status != "pass":
			last = "/readyz: " + got.Status
			for _, cs := range got.Checks {
				for _, c := range cs {
					if c.Output != "" && c.Status != "pass" {
						last += ": " + c.Output
					}
				}
			}
		default:
			obs := -1
			if cs := got.Checks["database:schema"]; len(cs) > 0 {
				if f, ok := cs[0].ObservedValue.(float64); ok {
					obs = int(f)
				}
			}
			if schema >= 0 && obs != schema {
				last = fmt.Sprintf("reports schema version %d, not %d", obs, schema)
				break
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready as version %s within %s: %s", r.o.ServerURL, version, r.o.VerifyTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
