package syncer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	izy "github.com/izytroniq/izytroniq"
)

// Protocol 1 (the previous version) differs from 2 only in the mutation: "changes"
// instead of "fields", no "base", and "record_test" instead of "test".
type batchV1 struct {
	ID        string       `json:"batch_id"`
	Protocol  int          `json:"protocol_version"`
	Mutations []mutationV1 `json:"mutations"`
}

type mutationV1 struct {
	ID          string                     `json:"mutation_id"`
	Op          string                     `json:"op"`
	Entity      string                     `json:"entity"`
	EntityID    string                     `json:"id"`
	BaseVersion int64                      `json:"base_version,omitempty"`
	Changes     map[string]json.RawMessage `json:"changes,omitempty"`
	CreatedAt   time.Time                  `json:"created_at"`
}

// ParseBatch decodes an upload body of either protocol version into the current
// version's Batch, checking its envelope; the mutations are checked one by one when
// they are applied, so that one bad mutation is rejected alone.
func ParseBatch(raw []byte, maxMutations int) (*izy.Batch, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, izy.Errorf(izy.EINVALID, "request body is empty; a batch is required")
	}
	if !utf8.Valid(raw) {
		return nil, izy.Errorf(izy.EINVALID, "request body is not valid UTF-8")
	}
	var head struct {
		Protocol int `json:"protocol_version"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, decodeErr(err)
	}
	var b izy.Batch
	switch head.Protocol {
	case izy.ProtocolVersion:
		if err := strictDecode(raw, &b); err != nil {
			return nil, err
		}
	case izy.PreviousProtocolVersion:
		var v1 batchV1
		if err := strictDecode(raw, &v1); err != nil {
			return nil, err
		}
		b = ConvertV1(&v1)
	default:
		return nil, izy.Errorf(izy.EINVALID, "protocol_version %d is not supported; send %d or %d", head.Protocol, izy.PreviousProtocolVersion, izy.ProtocolVersion)
	}
	switch {
	case b.ID == "" || len(b.ID) > 100:
		return nil, izy.Errorf(izy.EINVALID, "batch_id is required (at most 100 characters)")
	case len(b.Mutations) > maxMutations:
		return nil, izy.Errorf(izy.ETOOLARGE, "a batch has at most %d mutations (got %d); split it", maxMutations, len(b.Mutations))
	}
	for i, m := range b.Mutations {
		if m.ID == "" || len(m.ID) > 100 {
			return nil, izy.Errorf(izy.EINVALID, "mutation %d: mutation_id is required (at most 100 characters)", i+1)
		}
	}
	return &b, nil
}

// ConvertV1 turns a protocol 1 batch into the current version.
func ConvertV1(v1 *batchV1) izy.Batch {
	b := izy.Batch{ID: v1.ID, Protocol: izy.ProtocolVersion, Mutations: make([]izy.Mutation, len(v1.Mutations))}
	for i, m := range v1.Mutations {
		op := m.Op
		if op == "record_test" {
			op = izy.OpTest
		}
		b.Mutations[i] = izy.Mutation{ID: m.ID, Op: op, Entity: m.Entity, EntityID: m.EntityID,
			BaseVersion: m.BaseVersion, Fields: m.Changes, CreatedAt: m.CreatedAt}
	}
	return b
}

func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return izy.Errorf(izy.EINVALID, "unexpected data after the JSON object")
	}
	return nil
}

func decodeErr(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return izy.Errorf(izy.EINVALID, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return izy.Errorf(izy.EINVALID, "the body must be a JSON object, not %s", typ.Value)
		}
		return izy.Errorf(izy.EINVALID, "field %q has the wrong type (%s)", typ.Field, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return izy.Errorf(izy.EINVALID, "malformed JSON: the body ends early")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return izy.Errorf(izy.EINVALID, "malformed batch: %s", msg)
}
