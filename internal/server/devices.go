package server

import (
	"encoding/json"
	"net/http"

	izy "github.com/izytroniq/izytroniq"
)

// deviceView is a device as the API shows it: with its dashboard colour of today.
type deviceView struct {
	*izy.Device
	Colour izy.Colour `json:"colour"`
}

// deviceInput is a device as the API accepts it; colour is ignored like every field the
// server owns, so that a fetched device can be sent back.
type deviceInput struct {
	izy.Device
	Colour json.RawMessage `json:"colour"`
}

func (s *Server) viewDevice(d *izy.Device) deviceView {
	return deviceView{d, izy.DeviceColour(d, s.today(), s.cfg.Windows)}
}

// clearDeviceOwned resets the fields the server owns to those of cur (nil for a new device).
func clearDeviceOwned(d *izy.Device, cur *izy.Device) {
	if cur == nil {
		cur = &izy.Device{}
	}
	d.LastTestDate, d.LastResult, d.NextDue = cur.LastTestDate, cur.LastResult, cur.NextDue
	d.Seq, d.CreatedAt, d.UpdatedAt = cur.Seq, cur.CreatedAt, cur.UpdatedAt
}

// decodeDevice decodes and validates the body of POST /api/v1/devices.
func decodeDevice(body []byte) (*izy.Device, error) {
	var in deviceInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	d := &in.Device
	if d.ID != "" && !izy.ValidID(d.ID) {
		return nil, izy.Errorf(izy.EINVALID, "id must be a valid id or absent")
	}
	clearDeviceOwned(d, nil)
	d.Version = 0
	return d, d.Validate()
}

// decodeDeviceUpdate decodes a PUT or PATCH body against the stored device cur. The
// customer of a device never changes.
func decodeDeviceUpdate(body []byte, cur *izy.Device, patch bool) (*izy.Device, error) {
	var in deviceInput
	if patch {
		in.Device = *cur
		if cur.Medical != nil {
			m := *cur.Medical
			in.Medical = &m
		}
		in.Version = 0
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	d := &in.Device
	if err := checkUpdate(d.ID, cur.ID, d.Version); err != nil {
		return nil, err
	}
	if d.CustomerID != "" && d.CustomerID != cur.CustomerID {
		return nil, izy.Errorf(izy.EINVALID, "the customer of a device cannot change; retire it and create a new one")
	}
	d.ID, d.CustomerID = cur.ID, cur.CustomerID
	clearDeviceOwned(d, cur)
	return d, d.Validate()
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r, "customer_id", "location_id", "colour", "color", "status", "q")
	f := izy.DeviceFilter{
		GrantedTo:  grantFilter(r.Context()),
		CustomerID: q.id("customer_id"),
		LocationID: q.id("location_id"),
		Colour:     q.colour(),
		Status:     q.oneOf("status", izy.DeviceActive, izy.DeviceRetired),
		Query:      q.str("q"),
		Today:      s.today(),
		Windows:    s.cfg.Windows,
		Page:       q.page(),
	}
	if q.err != nil {
		return q.err
	}
	items, next, err := s.store.ListDevices(r.Context(), f)
	if err != nil {
		return err
	}
	views := make([]deviceView, len(items))
	for i := range items {
		views[i] = deviceView{&items[i], izy.DeviceColour(&items[i], f.Today, f.Windows)}
	}
	writeJSON(w, http.StatusOK, newList(views, next))
	return nil
}

// loadDevice returns the device of the path, or 404 when the caller may not see it.
func (s *Server) loadDevice(r *http.Request) (*izy.Device, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	d, err := s.store.GetDevice(r.Context(), id)
	if err != nil {
		return nil, hide(err, "device")
	}
	return d, mayRead(r.Context(), d.CustomerID, "device")
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.loadDevice(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewDevice(d))
	return nil
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	d, err := decodeDevice(body)
	if err != nil {
		return err
	}
	if err := mayWrite(r.Context(), d.CustomerID, "customer"); err != nil {
		return err
	}
	if err := s.store.CreateDevice(r.Context(), d); err != nil {
		return err
	}
	created(w, "/api/v1/devices/"+d.ID, s.viewDevice(d))
	return nil
}

func (s *Server) putDevice(w http.ResponseWriter, r *http.Request) error {
	return s.updateDevice(w, r, false)
}

func (s *Server) patchDevice(w http.ResponseWriter, r *http.Request) error {
	return s.updateDevice(w, r, true)
}

func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request, patch bool) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	cur, err := s.loadDevice(r)
	if err != nil {
		return err
	}
	if err := mayWrite(r.Context(), cur.CustomerID, "device"); err != nil {
		return err
	}
	d, err := decodeDeviceUpdate(body, cur, patch)
	if err != nil {
		return err
	}
	if err := s.store.UpdateDevice(r.Context(), d); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewDevice(d))
	return nil
}

// retireDevice is DELETE: devices are never deleted, because their tests must stay.
// Retiring a retired device changes nothing and answers it as it is.
func (s *Server) retireDevice(w http.ResponseWriter, r *http.Request) error {
	version, err := versionParam(r)
	if err != nil {
		return err
	}
	d, err := s.loadDevice(r)
	if err != nil {
		return err
	}
	if err := mayWrite(r.Context(), d.CustomerID, "device"); err != nil {
		return err
	}
	if version != 0 && version != d.Version {
		return izy.Errorf(izy.ECONFLICT, "the device has changed since version %d (now %d); reload it", version, d.Version)
	}
	if d.Status != izy.DeviceRetired {
		d.Status = izy.DeviceRetired
		if err := s.store.UpdateDevice(r.Context(), d); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, s.viewDevice(d))
	return nil
}
