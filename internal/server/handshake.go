package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// The handshake is public: a client asks it before signing in, to learn whether it may
// talk to this server at all and whether it must update first. It reveals versions and
// the edition, nothing about data.

// handshakeRequest is the body of POST /api/v1/handshake.
type handshakeRequest struct {
	ClientVersion   string `json:"client_version"`
	ProtocolVersion int    `json:"protocol_version"`
	ClientID        string `json:"client_id"`
}

func decodeHandshake(body []byte) (*handshakeRequest, error) {
	var h handshakeRequest
	if err := decodeJSON(body, &h); err != nil {
		return nil, err
	}
	h.ClientVersion = strings.TrimSpace(h.ClientVersion)
	switch {
	case h.ClientVersion == "":
		return nil, izy.Errorf(izy.EINVALID, "client_version is required")
	case len(h.ClientVersion) > 64 || strings.ContainsFunc(h.ClientVersion, notVersionRune):
		return nil, izy.Errorf(izy.EINVALID, "client_version must be a version such as 1.4.2")
	case h.ProtocolVersion < 1 || h.ProtocolVersion > 1_000_000:
		return nil, izy.Errorf(izy.EINVALID, "protocol_version must be a positive whole number")
	case len(h.ClientID) > 100 || strings.ContainsFunc(h.ClientID, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return nil, izy.Errorf(izy.EINVALID, "client_id must be at most 100 printable characters")
	}
	return &h, nil
}

func notVersionRune(r rune) bool {
	return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' || r == '+')
}

// handshakeResponse tells the client what this server speaks and what the client
// should do: a client below min_client_version may still upload its outbox, but must
// update before it downloads (SPEC §7).
type handshakeResponse struct {
	ServerVersion        string    `json:"server_version"`
	SchemaVersion        int       `json:"schema_version"`
	ProtocolVersions     []int     `json:"protocol_versions"`
	ProtocolVersion      int       `json:"protocol_version"` // the version to use; 0 when none fits
	ProtocolSupported    bool      `json:"protocol_supported"`
	MinClientVersion     string    `json:"min_client_version"`
	CurrentClientVersion string    `json:"current_client_version"`
	UpdateAvailable      bool      `json:"update_available"`
	UpdateRequired       bool      `json:"update_required"`
	Edition              string    `json:"edition"`
	Role                 string    `json:"role"`
	ServerTime           time.Time `json:"server_time"`
}

func (s *Server) handshake(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeHandshake(body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.negotiate(req))
	return nil
}

func (s *Server) negotiate(req *handshakeRequest) handshakeResponse {
	c := s.cfg
	current, minimum := s.clientVersions()
	res := handshakeResponse{
		ServerVersion:        c.ProductVersion,
		SchemaVersion:        c.SchemaVersion,
		ProtocolVersions:     c.ProtocolVersions,
		ProtocolSupported:    slices.Contains(c.ProtocolVersions, req.ProtocolVersion),
		MinClientVersion:     minimum,
		CurrentClientVersion: current,
		Edition:              s.edition(),
		Role:                 c.Role,
		ServerTime:           s.now().UTC(),
	}
	// The highest version both sides speak: the client's own when the server knows it,
	// else the newest older one the server accepts (the client may speak it too).
	for _, v := range c.ProtocolVersions {
		if v <= req.ProtocolVersion && v > res.ProtocolVersion {
			res.ProtocolVersion = v
		}
	}
	res.UpdateAvailable = current != "" && compareVersions(req.ClientVersion, current) < 0
	res.UpdateRequired = minimum != "" && compareVersions(req.ClientVersion, minimum) < 0
	return res
}

// compareVersions compares dotted versions part by part, numerically where both parts
// are numbers ("1.10" > "1.9"); a leading "v" and any "+build" suffix are ignored, and a
// pre-release ("1.2.0-rc1") sorts before its release.
func compareVersions(a, b string) int {
	pa, prea := splitVersion(a)
	pb, preb := splitVersion(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		x, y := "0", "0"
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	switch {
	case prea == preb:
		return 0
	case prea == "":
		return 1
	case preb == "":
		return -1
	}
	return comparePart(prea, preb)
}

func splitVersion(v string) (parts []string, pre string) {
	v = strings.TrimPrefix(strings.TrimPrefix(v, "v"), "V")
	v, _, _ = strings.Cut(v, "+")
	v, pre, _ = strings.Cut(v, "-")
	return strings.Split(v, "."), pre
}

func comparePart(x, y string) int {
	nx, errx := strconv.ParseUint(x, 10, 64)
	ny, erry := strconv.ParseUint(y, 10, 64)
	if errx == nil && erry == nil {
		switch {
		case nx < ny:
			return -1
		case nx > ny:
			return 1
		}
		return 0
	}
	return strings.Compare(x, y)
}
