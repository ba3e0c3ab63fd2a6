package syncer_test

import (
	"encoding/json"
	"testing"

	"github.com/izytroniq/izytroniq/internal/syncer"
)

func TestMergeFields(t *testing.T) {
	j := func(s string) json.RawMessage { return json.RawMessage(s) }
	type fields = map[string]json.RawMessage
	for _, c := range []struct {
		name                 string
		base, server, client fields
		moved                bool
		apply                []string
		conflicts            []string
		merged               bool
	}{
		{"client only", fields{"a": j(`"x"`)}, fields{"a": j(`"x"`)}, fields{"a": j(`"y"`)}, false, []string{"a"}, nil, false},
		{"different fields", fields{"a": j(`"x"`)}, fields{"a": j(`"x"`), "b": j(`2`)}, fields{"a": j(`"y"`)}, true, []string{"a"}, nil, true},
		{"both to different values", fields{"a": j(`"x"`)}, fields{"a": j(`"s"`)}, fields{"a": j(`"c"`)}, true, nil, []string{"a"}, true},
		{"both to the same value", fields{"a": j(`"x"`)}, fields{"a": j(`"y"`)}, fields{"a": j(`"y"`)}, true, nil, nil, true},
		{"numbers by value", fields{"n": j(`5`)}, fields{"n": j(`5.0`)}, fields{"n": j(`7`)}, true, []string{"n"}, nil, true},
		{"null equals missing", fields{"n": j(`null`)}, fields{}, fields{"n": j(`1`)}, false, []string{"n"}, nil, false},
		{"v1 no base, version same", nil, fields{"a": j(`"s"`)}, fields{"a": j(`"c"`)}, false, []string{"a"}, nil, false},
		{"v1 no base, version moved", nil, fields{"a": j(`"s"`)}, fields{"a": j(`"c"`)}, true, nil, []string{"a"}, true},
		{"v1 no base, moved, same value", nil, fields{"a": j(`"c"`)}, fields{"a": j(`"c"`)}, true, nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := syncer.MergeFields(c.base, c.server, c.client, c.moved)
			if got, want := len(m.Apply), len(c.apply); got != want {
				t.Fatalf("apply %v, want %v", m.Apply, c.apply)
			}
			for _, f := range c.apply {
				if _, ok := m.Apply[f]; !ok {
					t.Fatalf("apply %v lacks %s", m.Apply, f)
				}
			}
			if got, want := len(m.Conflicts), len(c.conflicts); got != want {
				t.Fatalf("conflicts %+v, want %v", m.Conflicts, c.conflicts)
			}
			for i, f := range c.conflicts {
				fc := m.Conflicts[i]
				if fc.Field != f || !syncer.JSONEqual(fc.Server, c.server[f]) || !syncer.JSONEqual(fc.Client, c.client[f]) {
					t.Fatalf("conflict %+v", fc)
				}
			}
			if got, want := m.Merged, c.merged; got != want {
				t.Fatalf("merged %v, want %v", got, want)
			}
		})
	}
}
