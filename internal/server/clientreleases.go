package server

import (
	"net/http"
	"os"
	"strings"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/clientrel"
)

// ClientReleases is the store of published izy builds (internal/clientrel.Store). It
// parses versions and platforms strictly itself; the handlers check them too.
type ClientReleases interface {
	// Versions returns the current and minimum client versions, "" for none.
	Versions() (current, minimum string)
	// Latest returns the highest build published for platform "os/arch".
	Latest(platform string) (*clientrel.Release, error)
	// OpenBinary opens a published build; the caller closes it.
	OpenBinary(version, goos, goarch string) (*os.File, *clientrel.Entry, error)
}

// ClientVersionHeader carries the version of the izy that sends a request. A client below
// the minimum may upload but not download; a request without it (another API client)
// is not refused.
const ClientVersionHeader = "Izy-Client-Version"

// clientVersions returns the current and minimum client versions: the published index's
// when there is a store (it follows a publish without a restart), else the static
// configuration's.
func (s *Server) clientVersions() (current, minimum string) {
	if s.cfg.ClientReleases != nil {
		return s.cfg.ClientReleases.Versions()
	}
	return s.cfg.CurrentClientVersion, s.cfg.MinClientVersion
}

// checkClientVersion refuses a request from an izy below the minimum client version:
// it must update before it downloads (SPEC §7). Uploads do not call it, so offline work
// is never stranded.
func (s *Server) checkClientVersion(r *http.Request) error {
	v := strings.TrimSpace(r.Header.Get(ClientVersionHeader))
	if v == "" {
		return nil
	}
	if len(v) > 64 || strings.ContainsFunc(v, notVersionRune) {
		return izy.Errorf(izy.EINVALID, "%s must be a version such as 1.4.2", ClientVersionHeader)
	}
	_, minimum := s.clientVersions()
	if minimum != "" && compareVersions(v, minimum) < 0 {
		return izy.Errorf(izy.ECONFLICT, "izy %s is below the minimum %s: update izy before downloading (uploads still work, so offline work is never stranded)", v, minimum)
	}
	return nil
}

// downloading wraps a sync handler that hands data out to a client: refused for a
// client below the minimum version.
func (s *Server) downloading(h func(sy Syncer, w http.ResponseWriter, r *http.Request) error) func(sy Syncer, w http.ResponseWriter, r *http.Request) error {
	return func(sy Syncer, w http.ResponseWriter, r *http.Request) error {
		if err := s.checkClientVersion(r); err != nil {
			return err
		}
		return h(sy, w, r)
	}
}

// clientReleaseResponse is the answer of GET /api/v1/client-releases/current: the
// manifest's exact bytes and its signature document (both as strings, since the
// signature covers those bytes), the signer's public key and where to download.
type clientReleaseResponse struct {
	Version      string `json:"version"`
	Platform     string `json:"platform"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	KeyID        string `json:"key_id"`
	Manifest     string `json:"manifest"`
	Signature    string `json:"signature"`
	PublicKey    string `json:"public_key"`
	DownloadPath string `json:"download_path"`
	Current      string `json:"current"`
	Minimum      string `json:"minimum"`
}

func (s *Server) releases() (ClientReleases, error) {
	if s.cfg.ClientReleases == nil {
		return nil, izy.Errorf(izy.ENOTFOUND, "this server publishes no izy releases")
	}
	return s.cfg.ClientReleases, nil
}

func (s *Server) currentClientRelease(w http.ResponseWriter, r *http.Request) error {
	cr, err := s.releases()
	if err != nil {
		return err
	}
	plat := r.URL.Query().Get("platform")
	p, err := clientrel.ParsePlatform(plat)
	if err != nil {
		return err
	}
	rel, err := cr.Latest(p.String())
	if err != nil {
		return err
	}
	cur, minimum := cr.Versions()
	e := rel.Entry
	writeJSON(w, http.StatusOK, clientReleaseResponse{
		Version: e.Version, Platform: p.String(), Size: e.Size, SHA256: e.SHA256, KeyID: e.KeyID,
		Manifest: string(rel.Manifest), Signature: string(rel.Signature), PublicKey: string(rel.PublicKey),
		DownloadPath: "/api/v1/client-releases/" + e.Version + "/" + p.OS + "/" + p.Arch + "/izy",
		Current:      cur, Minimum: minimum,
	})
	return nil
}

// clientReleaseBinary serves a published build with HEAD, Range, If-Range and the ETag
// "<sha256>" (http.ServeContent). Version and platform are parsed strictly before any
// file is touched, and only builds the index lists are served.
func (s *Server) clientReleaseBinary(w http.ResponseWriter, r *http.Request) error {
	cr, err := s.releases()
	if err != nil {
		return err
	}
	version, goos, goarch := r.PathValue("version"), r.PathValue("os"), r.PathValue("arch")
	if _, err := clientrel.ParseVersion(version); err != nil {
		return err
	}
	if _, err := clientrel.ParsePlatform(goos + "/" + goarch); err != nil {
		return err
	}
	f, e, err := cr.OpenBinary(version, goos, goarch)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != e.Size {
		return izy.Errorf(izy.EUNAVAILABLE, "the published izy %s for %s/%s does not match its index entry", version, goos, goarch)
	}
	h := w.Header()
	h.Set("ETag", `"`+e.SHA256+`"`)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=31536000, immutable") // a published build never changes
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}
