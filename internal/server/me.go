package server

import (
	"net/http"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
)

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, izy.UserFromContext(r.Context()))
	return nil
}

// passwordChange is the body of PUT /api/v1/me/password.
type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func decodePasswordChange(body []byte) (*passwordChange, error) {
	var p passwordChange
	if err := decodeJSON(body, &p); err != nil {
		return nil, err
	}
	if p.CurrentPassword == "" {
		return nil, izy.Errorf(izy.EINVALID, "current_password is required")
	}
	return &p, izy.ValidatePassword(p.NewPassword)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodePasswordChange(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	me := izy.UserFromContext(ctx)
	_, hash, err := s.store.UserByUsername(ctx, me.Username)
	if err != nil {
		return err
	}
	if !password.Check(hash, req.CurrentPassword) {
		return izy.Errorf(izy.EFORBIDDEN, "current_password is wrong")
	}
	newHash, err := password.Hash(req.NewPassword, s.cfg.PasswordIterations)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, me.ID, newHash); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
