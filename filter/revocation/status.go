package revocation

import (
	"strconv"
	"strings"
)

// Status is the record the worker VMs share next to the last sync answer:
//
//	"<generation> <last success> <down since> <etag>"
//
// in Unix seconds, 0 for none; etag "-" for none. The poller bumps the
// generation after it writes a new answer, and every VM applies the answer
// when the generation it sees moves.
type Status struct {
	Gen         uint64
	LastSuccess int64
	DownSince   int64
	ETag        string
}

// Encode is the record's shared form.
func (s Status) Encode() []byte {
	etag := s.ETag
	if etag == "" {
		etag = "-"
	}
	b := make([]byte, 0, 64+len(etag))
	b = strconv.AppendUint(b, s.Gen, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.LastSuccess, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.DownSince, 10)
	b = append(b, ' ')
	return append(b, etag...)
}

// DecodeStatus reads a shared status record.
func DecodeStatus(b []byte) (Status, bool) {
	f := strings.Fields(string(b))
	if len(f) != 4 {
		return Status{}, false
	}
	var s Status
	var e1, e2, e3 error
	s.Gen, e1 = strconv.ParseUint(f[0], 10, 64)
	s.LastSuccess, e2 = strconv.ParseInt(f[1], 10, 64)
	s.DownSince, e3 = strconv.ParseInt(f[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return Status{}, false
	}
	if f[3] != "-" {
		s.ETag = f[3]
	}
	return s, true
}
