package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/svcauth/svcauth/issuer/domain"
)

// encoding/json is lenient where an authentication service must not be: it
// replaces invalid UTF-8 with U+FFFD, keeps the last of two members with
// the same name, and decodes null into a struct as if it were {}. checkBody
// refuses those before the body is decoded, so what the caller sent is what
// is stored, or nothing is.

// errNotObject is the one answer to every body that is not a JSON object
// (null, an array, a string, a number, a boolean).
var errNotObject = domain.Errorf(domain.EInvalid, "request body must be a JSON object")

// checkBody refuses a non-empty body that is not valid UTF-8, is not an
// object, or repeats a member name in any object. Syntax errors are left to
// the decoder, whose messages are more precise.
func checkBody(b []byte) error {
	if !utf8.Valid(b) {
		i := domain.InvalidUTF8At(string(b))
		return domain.Errorf(domain.EInvalid, "request body is not valid UTF-8 at byte %d", i)
	}
	if first := bytes.TrimLeft(b, " \t\r\n"); len(first) > 0 && first[0] != '{' {
		return errNotObject
	}
	return duplicateKey(b)
}

// duplicateKey walks b's tokens and reports the first object member whose
// name the same object already has, with its byte offset.
func duplicateKey(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	// One set of names per open object; nil for an open array.
	var open []map[string]bool
	expectKey := func() bool { return len(open) > 0 && open[len(open)-1] != nil }
	for {
		atKey := expectKey()
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil // a syntax error: the decoder reports it
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				open = append(open, map[string]bool{})
			case '[':
				open = append(open, nil)
			default:
				open = open[:len(open)-1]
			}
		case string:
			if !atKey {
				continue
			}
			names := open[len(open)-1]
			if names[t] {
				return domain.Errorf(domain.EInvalid, "duplicate member %s at byte %d", strconv.Quote(t), keyOffset(b, before))
			}
			names[t] = true
			// The value follows: Token does not stop at ':', so the next
			// token is the value, never a name.
			if err := skipValue(dec, &open); err != nil {
				return err
			}
		}
	}
}

// skipValue reads the value after a member name. A scalar is consumed
// here; an object or array is opened and walked by the caller's loop.
func skipValue(dec *json.Decoder, open *[]map[string]bool) error {
	tok, err := dec.Token()
	if err != nil {
		return nil // a syntax error: the decoder reports it
	}
	if d, ok := tok.(json.Delim); ok {
		switch d {
		case '{':
			*open = append(*open, map[string]bool{})
		case '[':
			*open = append(*open, nil)
		}
	}
	return nil
}

// keyOffset is the offset of the opening quote of the name the decoder
// read after offset: InputOffset before a Token call points at the
// separator before it.
func keyOffset(b []byte, after int64) int64 {
	if i := bytes.IndexByte(b[after:], '"'); i >= 0 {
		return after + int64(i)
	}
	return after
}
