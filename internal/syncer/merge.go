package syncer

import (
	"encoding/json"
	"reflect"
	"sort"

	izy "github.com/izytroniq/izytroniq"
)

// Merge is the outcome of a three-way merge of one update.
type Merge struct {
	Apply     map[string]json.RawMessage // client values to write
	Conflicts []izy.FieldConflict        // fields changed on both sides to different values
	Merged    bool                       // the server changed other fields since the base
}

// MergeFields merges a client's update field by field. base holds the client's values
// at the version it edited (protocol 1 sends none), server the current values, client the
// new ones; serverMoved says whether the server's version differs from the base version.
// A field the server did not change takes the client's value; a field changed on both
// sides to the same value is fine; to different values it is a conflict. Without a base
// value a field counts as changed on the server when the version moved and the values
// differ.
func MergeFields(base, server, client map[string]json.RawMessage, serverMoved bool) Merge {
	m := Merge{Apply: map[string]json.RawMessage{}, Merged: serverMoved}
	names := make([]string, 0, len(client))
	for f := range client {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		cv, sv := client[f], server[f]
		b, hasBase := base[f]
		var serverChanged bool
		if hasBase {
			serverChanged = !JSONEqual(sv, b)
		} else {
			serverChanged = serverMoved && !JSONEqual(sv, cv)
		}
		switch {
		case !serverChanged:
			if !JSONEqual(sv, cv) {
				m.Apply[f] = cv
			}
		case JSONEqual(sv, cv):
			// Both sides made the same change.
		default:
			if !hasBase {
				b = json.RawMessage("null")
			}
			m.Conflicts = append(m.Conflicts, izy.FieldConflict{Field: f, Base: b, Server: orNull(sv), Client: cv})
		}
	}
	return m
}

func orNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

// JSONEqual compares two JSON values by meaning (1 equals 1.0; key order is ignored);
// a missing value equals null.
func JSONEqual(a, b json.RawMessage) bool {
	var x, y any
	if len(a) == 0 {
		a = json.RawMessage("null")
	}
	if len(b) == 0 {
		b = json.RawMessage("null")
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// fieldsOf returns the JSON fields of v.
func fieldsOf(v any) map[string]json.RawMessage {
	b, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return m
}

// overlay returns a copy of v with fields set, decoded into a fresh value of v's type.
func overlay[T any](v *T, fields map[string]json.RawMessage) (*T, error) {
	m := fieldsOf(v)
	for k, f := range fields {
		m[k] = f
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, izy.Errorf(izy.EINVALID, "a field has the wrong type: %v", err)
	}
	return &out, nil
}
