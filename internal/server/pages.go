package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
)

//go:embed templates
var templateFS embed.FS

var indexTemplate = template.Must(template.ParseFS(templateFS, "templates/index.html"))

// indexPage is what the status page at / shows.
type indexPage struct {
	Product, Version, Schema, Role, Edition, Problem string
	Ready                                            bool
	Routes                                           []Route
}

// index renders the status page: versions, health, role and links to everything else.
func (s *Server) index(w http.ResponseWriter, r *http.Request) error {
	p := indexPage{Product: "Izytroniq", Version: s.cfg.ProductVersion, Role: s.cfg.Role,
		Edition: s.edition(), Schema: "unknown", Routes: s.Routes()}
	h := s.ready(r.Context())
	p.Ready = h.Status == pass
	if c := h.Checks["database:schema"]; len(c) == 1 && c[0].ObservedValue != nil {
		p.Schema = fmt.Sprint(c[0].ObservedValue)
	}
	for _, name := range []string{"database:ping", "database:schema"} {
		if c := h.Checks[name]; len(c) == 1 && c[0].Status == fail && p.Problem == "" {
			p.Problem = c[0].Output
		}
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
	return nil
}
