package ocpp

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The hand-written fast paths of Decode, UnmarshalPayload and Encode read
// and write JSON with the few functions below instead of encoding/json's
// reflection. They are strict: whenever one of them meets something it is
// not sure about (invalid JSON or UTF-8, nesting deeper than
// maxFastDepth), it gives up, and the caller takes encoding/json's path,
// which decides, and words the error, as before. So the fast paths change
// how quickly a frame is handled, never how; fast_test.go and
// encode_test.go hold them to encoding/json's answers.

// maxFastDepth is how deep the fast paths follow nested objects and arrays
// before they leave a value to encoding/json. OCPP 1.6 payloads nest four
// levels deep at most.
const maxFastDepth = 64

// scanner reads JSON from data, starting at i.
type scanner struct {
	data []byte
	i    int
	// spaced is set once the scanner has skipped whitespace outside a
	// string: a value it read is not compact.
	spaced bool
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace moves past JSON whitespace.
func (s *scanner) skipSpace() {
	start := s.i
	for s.i < len(s.data) && isSpace(s.data[s.i]) {
		s.i++
	}
	if s.i != start {
		s.spaced = true
	}
}

// peek returns the byte at the read position, or 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

// consume skips whitespace and then c, and reports whether c was there.
func (s *scanner) consume(c byte) bool {
	s.skipSpace()
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// atEnd skips whitespace and reports whether nothing follows.
func (s *scanner) atEnd() bool {
	s.skipSpace()
	return s.i == len(s.data)
}

// value moves past one JSON value, whitespace before it included, and
// reports whether it was valid JSON. It does not check UTF-8, as
// encoding/json's scanner does not. depth is how deep the value is nested
// already.
//
// It walks nested objects and arrays in a loop, not by recursion, keeping
// which of its open containers are objects in the bits of one word: its
// frame is all the stack it takes, however deep the value. Send encodes
// each answer through it, on a goroutine that starts with a small stack.
func (s *scanner) value(depth int) bool {
	var objects uint64 // bit k is set if the k-th open container is an object
	open := 0
	for {
		// A value starts here.
		s.skipSpace()
		switch c := s.peek(); c {
		case '{', '[':
			if depth+open >= maxFastDepth {
				return false
			}
			s.i++
			if s.consume(c + 2) { // '}' is '{'+2, ']' is '['+2
				break // an empty one: a whole value
			}
			if c == '{' {
				objects |= 1 << open
			} else {
				objects &^= 1 << open
			}
			open++
			if c == '{' && !s.key() {
				return false
			}
			continue
		case '"':
			if _, _, ok := s.stringContent(); !ok {
				return false
			}
		case 't':
			if !s.literal("true") {
				return false
			}
		case 'f':
			if !s.literal("false") {
				return false
			}
		case 'n':
			if !s.literal("null") {
				return false
			}
		default:
			if _, ok := s.number(); !ok {
				return false
			}
		}
		// A value ended: close the containers it ends, up to the next
		// element of one still open.
		for {
			if open == 0 {
				return true
			}
			inObject := objects&(1<<(open-1)) != 0
			s.skipSpace()
			switch s.peek() {
			case ',':
				s.i++
				if inObject && !s.key() {
					return false
				}
			case '}', ']':
				if (s.peek() == '}') != inObject {
					return false
				}
				s.i++
				open--
				continue
			default:
				return false
			}
			break
		}
	}
}

// key moves past an object member's key and its colon.
func (s *scanner) key() bool {
	s.skipSpace()
	if _, _, ok := s.stringContent(); !ok {
		return false
	}
	return s.consume(':')
}

func (s *scanner) literal(word string) bool {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// stringContent reads a JSON string at the read position and returns its
// bytes between the quotes, still escaped, and whether it holds escapes.
func (s *scanner) stringContent() (raw []byte, escaped, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	start := s.i + 1
	for i := start; i < len(s.data); {
		switch c := s.data[i]; {
		case c == '"':
			s.i = i + 1
			return s.data[start:i], escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(s.data) {
				return nil, false, false
			}
			switch s.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.data) {
					return nil, false, false
				}
				for _, h := range s.data[i+2 : i+6] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				i += 6
			default:
				return nil, false, false
			}
		case c < ' ':
			return nil, false, false
		default:
			i++
		}
	}
	return nil, false, false
}

// stringValue reads a JSON string whose bytes are valid UTF-8 and returns
// its bytes, escapes resolved as encoding/json resolves them. The result
// may share memory with the data read unless the string held escapes.
func (s *scanner) stringValue() ([]byte, bool) {
	s.skipSpace()
	raw, escaped, ok := s.stringContent()
	if !ok || !utf8.Valid(raw) {
		return nil, false
	}
	if !escaped {
		return raw, true
	}
	return unescape(raw), true
}

// unescape resolves the escapes of raw, the inside of a JSON string that
// stringContent accepted, as encoding/json does: a \u escape of half a
// surrogate pair without its other half becomes U+FFFD.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch e := raw[i+1]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				dec := utf8.RuneError
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					dec = utf16.DecodeRune(r, hex4(raw[i+2:i+6]))
				}
				if dec != utf8.RuneError {
					i += 6 // a valid pair: its second half is read too
				}
				r = dec
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, e)
		}
		i += 2
	}
	return out
}

// hex4 reads four hex digits that stringContent checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number moves past a JSON number and reports whether it is an integer:
// no fraction, no exponent.
func (s *scanner) number() (integer, ok bool) {
	i := s.i
	if i < len(s.data) && s.data[i] == '-' {
		i++
	}
	switch {
	case i < len(s.data) && s.data[i] == '0':
		i++
	case i < len(s.data) && isDigit(s.data[i]):
		for i < len(s.data) && isDigit(s.data[i]) {
			i++
		}
	default:
		return false, false
	}
	integer = true
	if i < len(s.data) && s.data[i] == '.' {
		integer = false
		i++
		if i >= len(s.data) || !isDigit(s.data[i]) {
			return false, false
		}
		for i < len(s.data) && isDigit(s.data[i]) {
			i++
		}
	}
	if i < len(s.data) && (s.data[i] == 'e' || s.data[i] == 'E') {
		integer = false
		i++
		if i < len(s.data) && (s.data[i] == '+' || s.data[i] == '-') {
			i++
		}
		if i >= len(s.data) || !isDigit(s.data[i]) {
			return false, false
		}
		for i < len(s.data) && isDigit(s.data[i]) {
			i++
		}
	}
	s.i = i
	return integer, true
}

// int reads a JSON integer into an int, as encoding/json does: no
// fraction, no exponent. Integers of more than 18 digits are left to
// encoding/json, which knows where int overflows.
func (s *scanner) int() (int, bool) {
	s.skipSpace()
	start := s.i
	if integer, ok := s.number(); !ok || !integer {
		return 0, false
	}
	digits := s.data[start:s.i]
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// appendCompactValue appends the JSON text v, which must be one valid
// value with nothing after it but whitespace, to dst with the whitespace
// outside strings left out, as json.Compact does. It reports false, and
// appends nothing, if v is not such a value or nests deeper than
// maxFastDepth.
func appendCompactValue(dst, v []byte) ([]byte, bool) {
	s := scanner{data: v}
	s.skipSpace()
	start := s.i
	if !s.value(0) {
		return dst, false
	}
	end := s.i
	if !s.atEnd() {
		return dst, false
	}
	if !s.spaced {
		return append(dst, v...), true
	}
	return appendStripped(dst, v[start:end]), true
}

// appendStripped appends the valid JSON value v without the whitespace
// outside its strings.
func appendStripped(dst, v []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case isSpace(c):
			dst = append(dst, v[start:i]...)
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json writes
// it with HTML escaping off: '"' and '\\' escaped, control characters as
// \b, \f, \n, \r, \t or \u00XX, U+2028 and U+2029 as \u2028 and \u2029,
// each byte of invalid UTF-8 as \ufffd, and everything else as it is
// (<, > and & included: stations are not browsers).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
