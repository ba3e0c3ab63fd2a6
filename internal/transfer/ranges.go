package transfer

// Range is a run of bytes of an upload, from Start to End inclusive, as in Content-Range.
type Range struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// maxRanges bounds the separate runs a session may hold, so that a client sending tiny
// scattered fragments cannot make the metadata (rewritten after each fragment) grow
// without limit. Fragments sent in any order within a normal upload stay far below it.
var maxRanges = 1024 // a variable for the tests

// addRange returns the sorted, coalesced set rs with r added. rs is not changed.
func addRange(rs []Range, r Range) []Range {
	out := make([]Range, 0, len(rs)+1)
	i := 0
	for ; i < len(rs) && rs[i].End+1 < r.Start; i++ {
		out = append(out, rs[i])
	}
	for ; i < len(rs) && rs[i].Start <= r.End+1; i++ {
		r.Start = min(r.Start, rs[i].Start)
		r.End = max(r.End, rs[i].End)
	}
	out = append(out, r)
	return append(out, rs[i:]...)
}

// covering reports whether off lies in rs and the last offset of the run, in or out of
// rs, that off starts (the largest int64 after the last range).
func covering(rs []Range, off int64) (in bool, runEnd int64) {
	for _, r := range rs {
		if off < r.Start {
			return false, r.Start - 1
		}
		if off <= r.End {
			return true, r.End
		}
	}
	return false, 1<<63 - 1
}

// receivedBytes returns how many bytes rs covers.
func receivedBytes(rs []Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.End - r.Start + 1
	}
	return n
}

// firstGap returns the first offset below size that rs does not cover, or size.
func firstGap(rs []Range) int64 {
	if len(rs) > 0 && rs[0].Start == 0 {
		return rs[0].End + 1
	}
	return 0
}

// validRanges reports whether rs is sorted, coalesced and within size, as addRange keeps it.
func validRanges(rs []Range, size int64) bool {
	for i, r := range rs {
		if r.Start < 0 || r.End < r.Start || r.End >= size {
			return false
		}
		if i > 0 && rs[i-1].End+1 >= r.Start {
			return false
		}
	}
	return true
}
