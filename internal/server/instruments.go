package server

import (
	"encoding/json"
	"net/http"

	izy "github.com/izytroniq/izytroniq"
)

// Test instruments belong to the testing company, not to a customer: every signed-in
// user reads them, admins and clerks keep them.

// instrumentView is an instrument with its calibration colour of today.
type instrumentView struct {
	*izy.Instrument
	Colour izy.Colour `json:"colour"`
}

// instrumentInput accepts a fetched instrument back; colour is ignored.
type instrumentInput struct {
	izy.Instrument
	Colour json.RawMessage `json:"colour"`
}

func (s *Server) viewInstrument(i *izy.Instrument) instrumentView {
	return instrumentView{i, izy.InstrumentColour(i, s.today(), s.cfg.Windows)}
}

// decodeInstrument decodes and validates the body of POST /api/v1/instruments.
func decodeInstrument(body []byte) (*izy.Instrument, error) {
	var in instrumentInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	i := &in.Instrument
	if i.ID != "" && !izy.ValidID(i.ID) {
		return nil, izy.Errorf(izy.EINVALID, "id must be a valid id or absent")
	}
	i.Version, i.Seq = 0, 0
	i.CreatedAt, i.UpdatedAt = zeroTime, zeroTime
	return i, i.Validate()
}

// decodeInstrumentUpdate decodes a PUT or PATCH body against the stored instrument cur.
func decodeInstrumentUpdate(body []byte, cur *izy.Instrument, patch bool) (*izy.Instrument, error) {
	var in instrumentInput
	if patch {
		in.Instrument = *cur
		in.Version = 0
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	i := &in.Instrument
	if err := checkUpdate(i.ID, cur.ID, i.Version); err != nil {
		return nil, err
	}
	i.ID, i.Seq, i.CreatedAt, i.UpdatedAt = cur.ID, cur.Seq, cur.CreatedAt, cur.UpdatedAt
	return i, i.Validate()
}

func (s *Server) listInstruments(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "colour", "color")
	f := izy.InstrumentFilter{Colour: q.colour(), Today: s.today(), Windows: s.cfg.Windows, Page: q.page()}
	if q.err != nil {
		return q.err
	}
	items, next, err := s.store.ListInstruments(r.Context(), f)
	if err != nil {
		return err
	}
	views := make([]instrumentView, len(items))
	for k := range items {
		views[k] = instrumentView{&items[k], izy.InstrumentColour(&items[k], f.Today, f.Windows)}
	}
	writeJSON(w, http.StatusOK, newList(views, next))
	return nil
}

func (s *Server) loadInstrument(r *http.Request) (*izy.Instrument, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	i, err := s.store.GetInstrument(r.Context(), id)
	return i, hide(err, "instrument")
}

func (s *Server) getInstrument(w http.ResponseWriter, r *http.Request) error {
	i, err := s.loadInstrument(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewInstrument(i))
	return nil
}

func (s *Server) createInstrument(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	i, err := decodeInstrument(body)
	if err != nil {
		return err
	}
	if err := s.store.CreateInstrument(r.Context(), i); err != nil {
		return err
	}
	created(w, "/api/v1/instruments/"+i.ID, s.viewInstrument(i))
	return nil
}

func (s *Server) putInstrument(w http.ResponseWriter, r *http.Request) error {
	return s.updateInstrument(w, r, false)
}

func (s *Server) patchInstrument(w http.ResponseWriter, r *http.Request) error {
	return s.updateInstrument(w, r, true)
}

func (s *Server) updateInstrument(w http.ResponseWriter, r *http.Request, patch bool) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	cur, err := s.loadInstrument(r)
	if err != nil {
		return err
	}
	i, err := decodeInstrumentUpdate(body, cur, patch)
	if err != nil {
		return err
	}
	if err := s.store.UpdateInstrument(r.Context(), i); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewInstrument(i))
	return nil
}

// retireInstrument is DELETE: an instrument stays referenced by the tests taken with it.
func (s *Server) retireInstrument(w http.ResponseWriter, r *http.Request) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	i, err := s.loadInstrument(r)
	if err != nil {
		return err
	}
	if version != 0 && version != i.Version {
		return izy.Errorf(izy.ECONFLICT, "the instrument has changed since version %d (now %d); reload it", version, i.Version)
	}
	if i.Status != izy.DeviceRetired {
		i.Status = izy.DeviceRetired
		if err := s.store.UpdateInstrument(r.Context(), i); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, s.viewInstrument(i))
	return nil
}
