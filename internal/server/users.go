package server

import (
	"net/http"
	"slices"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/password"
)

// Users are managed by admins only. An admin cannot disable or demote themself, so that
// the last admin cannot lock everybody out by accident.

// userInput is a user with a password: required on create, optional on update (a reset).
type userInput struct {
	izy.User
	Password string `json:"password"`
}

// decodeUser decodes and validates the body of POST /api/v1/users.
func decodeUser(body []byte) (*izy.User, string, error) {
	var in userInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, "", err
	}
	u := &in.User
	if u.ID != "" && !izy.ValidID(u.ID) {
		return nil, "", izy.Errorf(izy.EINVALID, "id must be a valid id or absent")
	}
	u.Version = 0
	u.CreatedAt, u.UpdatedAt = zeroTime, zeroTime
	if err := u.Validate(); err != nil {
		return nil, "", err
	}
	return u, in.Password, izy.ValidatePassword(in.Password)
}

// decodeUserUpdate decodes a PUT or PATCH body against the stored user cur; the
// username never changes. The password is "" when it stays.
func decodeUserUpdate(body []byte, cur *izy.User, patch bool) (*izy.User, string, error) {
	var in userInput
	if patch {
		in.User = *cur
		in.Grants = slices.Clone(cur.Grants)
		in.Version = 0
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, "", err
	}
	u := &in.User
	if err := checkUpdate(u.ID, cur.ID, u.Version); err != nil {
		return nil, "", err
	}
	if u.Username != "" && u.Username != cur.Username {
		return nil, "", izy.Errorf(izy.EINVALID, "the username cannot change")
	}
	u.ID, u.Username, u.CreatedAt, u.UpdatedAt = cur.ID, cur.Username, cur.CreatedAt, cur.UpdatedAt
	if err := u.Validate(); err != nil {
		return nil, "", err
	}
	if in.Password != "" {
		if err := izy.ValidatePassword(in.Password); err != nil {
			return nil, "", err
		}
	}
	return u, in.Password, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r)
	p := q.page()
	if q.err != nil {
		return q.err
	}
	items, next, err := s.store.ListUsers(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(items, next))
	return nil
}

func (s *Server) loadUser(r *http.Request) (*izy.User, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(r.Context(), id)
	return u, hide(err, "user")
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.loadUser(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	u, pw, err := decodeUser(body)
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw, s.cfg.PasswordIterations)
	if err != nil {
		return err
	}
	if err := s.store.CreateUser(r.Context(), u, hash); err != nil {
		return err
	}
	created(w, "/api/v1/users/"+u.ID, u)
	return nil
}

func (s *Server) putUser(w http.ResponseWriter, r *http.Request) error {
	return s.updateUser(w, r, false)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	return s.updateUser(w, r, true)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, patch bool) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	cur, err := s.loadUser(r)
	if err != nil {
		return err
	}
	u, pw, err := decodeUserUpdate(body, cur, patch)
	if err != nil {
		return err
	}
	if cur.ID == caller(r.Context()).ID && (u.Disabled || u.Role != cur.Role) {
		return izy.Errorf(izy.ECONFLICT, "you cannot disable yourself or change your own role; ask another admin")
	}
	var hash string
	if pw != "" {
		if hash, err = password.Hash(pw, s.cfg.PasswordIterations); err != nil {
			return err
		}
	}
	if err := s.store.UpdateUser(r.Context(), u); err != nil {
		return err
	}
	if hash != "" {
		if err := s.store.SetPassword(r.Context(), u.ID, hash); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// disableUser is DELETE: users stay, because the audit log and tests name them.
func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	u, err := s.loadUser(r)
	if err != nil {
		return err
	}
	if u.ID == caller(r.Context()).ID {
		return izy.Errorf(izy.ECONFLICT, "you cannot disable yourself; ask another admin")
	}
	if version != 0 && version != u.Version {
		return izy.Errorf(izy.ECONFLICT, "the user has changed since version %d (now %d); reload it", version, u.Version)
	}
	if !u.Disabled {
		u.Disabled = true
		if err := s.store.UpdateUser(r.Context(), u); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}
