// Package server is the HTTP server of Izytroniq: the JSON API under /api/v1, health,
// the manual's test pages, metrics and the small web page at /.
package server
