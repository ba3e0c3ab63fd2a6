package server

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Health answers follow the IETF draft "Health Check Response Format for HTTP APIs"
// (application/health+json), which load balancers and `izytroniq check` read.

// health is a health+json document.
type health struct {
	Status      string                   `json:"status"` // pass, warn or fail
	Version     string                   `json:"version,omitempty"`
	ServiceID   string                   `json:"serviceId,omitempty"`
	Description string                   `json:"description,omitempty"`
	Checks      map[string][]healthCheck `json:"checks,omitempty"`
}

type healthCheck struct {
	ComponentType string    `json:"componentType,omitempty"`
	Status        string    `json:"status"`
	Time          time.Time `json:"time"`
	ObservedValue any       `json:"observedValue,omitempty"`
	ObservedUnit  string    `json:"observedUnit,omitempty"`
	Output        string    `json:"output,omitempty"`
}

const (
	pass = "pass"
	fail = "fail"
)

// readyTimeout bounds each database check, so a hung database fails readiness quickly.
const readyTimeout = 3 * time.Second

func writeHealthJSON(w http.ResponseWriter, h health) {
	status := http.StatusOK
	if h.Status == fail {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSONAs(w, status, "application/health+json", h)
}

// livez passes while the process can answer at all; it checks no dependency, so that a
// database outage does not get the process restarted.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) error {
	now := s.now()
	h := health{
		Status: pass, Version: s.cfg.ProductVersion, ServiceID: "izytroniq",
		Description: "the izytroniq process is running",
		Checks: map[string][]healthCheck{"uptime": {{
			ComponentType: "system", Status: pass, Time: now.UTC(),
			ObservedValue: int64(now.Sub(s.metrics.start).Seconds()), ObservedUnit: "s",
		}}},
	}
	writeHealthJSON(w, h)
	return nil
}

// readyz passes when the database answers and holds the schema this binary expects.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	writeHealthJSON(w, s.ready(r.Context()))
	return nil
}

// ready checks the database: reachable, and on the schema version this binary needs.
func (s *Server) ready(ctx context.Context) health {
	h := health{Status: pass, Version: s.cfg.ProductVersion, ServiceID: "izytroniq",
		Description: "database reachable and schema current", Checks: map[string][]healthCheck{}}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	start := time.Now()
	err := s.store.Ping(ctx)
	ping := healthCheck{ComponentType: "datastore", Status: pass, Time: s.now().UTC(),
		ObservedValue: float64(time.Since(start).Microseconds()) / 1000, ObservedUnit: "ms"}
	if err != nil {
		ping.Status, ping.Output, ping.ObservedValue, ping.ObservedUnit = fail, "database unreachable: "+err.Error(), nil, ""
	}
	h.Checks["database:ping"] = []healthCheck{ping}

	schema := healthCheck{ComponentType: "datastore", Status: pass, Time: s.now().UTC()}
	if err != nil {
		schema.Status, schema.Output = fail, "not checked: the database is unreachable"
	} else if cur, want, err := s.store.SchemaVersions(ctx); err != nil {
		schema.Status, schema.Output = fail, "reading the schema version: "+err.Error()
	} else {
		schema.ObservedValue = cur
		switch {
		case cur < want:
			schema.Status, schema.Output = fail, fmt.Sprintf("schema version %d is older than the %d this binary needs; run: izytroniq db upgrade", cur, want)
		case cur > want && schemaCompatible(ctx, s.store):
			// Newer by expand migrations only (docs/migrations.md): this binary runs on it,
			// which is what lets an update migrate before the switch and roll back without
			// a restore.
			schema.Output = fmt.Sprintf("schema version %d is newer than the %d this binary knows, and compatible with it", cur, want)
		case cur > want:
			schema.Status, schema.Output = fail, fmt.Sprintf("schema version %d is newer than the %d this binary knows; run the matching server version", cur, want)
		default:
			schema.Output = fmt.Sprintf("schema version %d is current", cur)
		}
	}
	h.Checks["database:schema"] = []healthCheck{schema}
	if ping.Status == fail || schema.Status == fail {
		h.Status = fail
	}
	return h
}

// schemaCompatible asks a store that knows (the SQL store does) whether this binary may
// run on a schema newer than its own.
func schemaCompatible(ctx context.Context, store any) bool {
	c, ok := store.(interface {
		SchemaCompatible(ctx context.Context) (bool, error)
	})
	if !ok {
		return false
	}
	yes, err := c.SchemaCompatible(ctx)
	return err == nil && yes
}
