package transfer

import (
	"strconv"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// parseContentRange parses the Content-Range of a fragment, "bytes START-END/TOTAL" with
// END inclusive, as RFC 9110 writes it. Only the complete form is accepted: a fragment
// must say where it goes and how large the whole is. The numbers are plain decimal digits
// (no sign, no spaces), so what the client meant is never guessed.
func parseContentRange(h string) (start, end, total int64, err error) {
	const form = `Content-Range must read "bytes START-END/TOTAL"`
	unit, spec, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return 0, 0, 0, izy.Errorf(izy.EINVALID, "%s", form)
	}
	rng, tot, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, 0, 0, izy.Errorf(izy.EINVALID, "%s: the /TOTAL is missing", form)
	}
	if tot == "*" {
		return 0, 0, 0, izy.Errorf(izy.EINVALID, "%s: TOTAL must be the size of the whole upload, not *", form)
	}
	s, e, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, izy.Errorf(izy.EINVALID, "%s: the - between START and END is missing", form)
	}
	if start, err = parseOffset("START", s); err != nil {
		return 0, 0, 0, err
	}
	if end, err = parseOffset("END", e); err != nil {
		return 0, 0, 0, err
	}
	if total, err = parseOffset("TOTAL", tot); err != nil {
		return 0, 0, 0, err
	}
	if end < start {
		return 0, 0, 0, izy.Errorf(izy.EINVALID, "Content-Range END (%d) is smaller than START (%d)", end, start)
	}
	if end >= total {
		return 0, 0, 0, izy.Errorf(izy.EINVALID, "Content-Range END (%d) must be smaller than TOTAL (%d)", end, total)
	}
	return start, end, total, nil
}

// parseOffset parses one number of a Content-Range.
func parseOffset(name, s string) (int64, error) {
	if s == "" {
		return 0, izy.Errorf(izy.EINVALID, "Content-Range %s is missing", name)
	}
	if len(s) > 19 {
		return 0, izy.Errorf(izy.EINVALID, "Content-Range %s is too large", name)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, izy.Errorf(izy.EINVALID, "Content-Range %s must be a decimal number", name)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, izy.Errorf(izy.EINVALID, "Content-Range %s is too large", name)
	}
	return n, nil
}
