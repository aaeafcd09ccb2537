// Package authkeys reads the file of station keys that a central system
// checks HTTP Basic authentication against (OCPP 1.6 security profile 1),
// and that the simulator sends its keys from.
//
// The file holds one station a line, its identity and its password (the
// station's AuthorizationKey) separated by a colon:
//
//	# identity:password
//	CS0001:0123456789abcdef0123
//	site:7:charger:fedcba98765432100000
//
// An identity may contain ':', a password may not (an AuthorizationKey is
// hex), so a line is split at its last ':'. Blank lines and lines that
// start with '#' are skipped; the whitespace around a line is ignored. A
// file with a malformed line is refused whole, with the line's number:
// half a file of keys would lock out the stations of the other half.
//
// Only plain keys are accepted, no hashed form (such as htpasswd's
// bcrypt). The server compares the key a station sends with the one it
// holds, and the same file gives the simulator the keys its stations send.
// An AuthorizationKey is a random key that the central system sets on the
// station, not a password a person chose and reuses elsewhere, which is
// what a slow hash mostly protects. What a hash would still guard, the keys
// of a file that leaks, is guarded here by keeping the file private:
// readable by the server's user only (chmod 600). [Warning] says when it
// is not.
package authkeys

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIdentity is the longest identity accepted, in characters: the limit
// OCPP sets on a charging station's identity.
const MaxIdentity = 48

// A LineError is a malformed line of a keys file.
type LineError struct {
	File   string // the file's name; empty when read by Parse
	Line   int    // 1 for the first line
	Reason string // what is wrong, such as "no ':' between identity and password"
}

func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// Parse reads a keys file from r and returns each identity's password. The
// map is not nil, even for a file with no keys. A malformed line makes it
// return a *LineError, and no keys at all.
func Parse(r io.Reader) (map[string]string, error) {
	keys := make(map[string]string)
	first := make(map[string]int) // the line each identity is on
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF") // a byte-order mark some editors write
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		id, password, reason := parseLine(line)
		if reason == "" {
			if at, dup := first[id]; dup {
				reason = fmt.Sprintf("identity %q again: it has a key on line %d already", id, at)
			}
		}
		if reason != "" {
			return nil, &LineError{Line: n, Reason: reason}
		}
		keys[id], first[id] = password, n
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, &LineError{Line: n + 1, Reason: fmt.Sprintf("the line is longer than %d bytes", bufio.MaxScanTokenSize)}
	} else if err != nil {
		return nil, fmt.Errorf("read the keys: %w", err)
	}
	return keys, nil
}

// parseLine splits a line that is neither blank nor a comment into an
// identity and a password, or says what is wrong with it.
func parseLine(line string) (id, password, reason string) {
	i := strings.LastIndexByte(line, ':')
	if i < 0 {
		return "", "", "no ':' between identity and password (want identity:password)"
	}
	id, password = line[:i], line[i+1:]
	switch {
	case id == "":
		return "", "", "no identity before the ':'"
	case password == "":
		return "", "", fmt.Sprintf("no password after identity %q", id)
	case !utf8.ValidString(id):
		return "", "", "the identity is not valid UTF-8"
	case utf8.RuneCountInString(id) > MaxIdentity:
		return "", "", fmt.Sprintf("identity %.12q… is %d characters long: OCPP allows %d at most",
			id, utf8.RuneCountInString(id), MaxIdentity)
	case strings.IndexFunc(id, unicode.IsSpace) >= 0:
		return "", "", fmt.Sprintf("identity %q holds a space (a space before the ':'?)", id)
	case strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", "", fmt.Sprintf("identity %q holds a control character", id)
	}
	// The password is what the station sends as is: a space or a character
	// that a station cannot type is a mistake in the file, not a key.
	for j := 0; j < len(password); j++ {
		if c := password[j]; c <= ' ' || c > '~' {
			what := "is not printable ASCII"
			if c == ' ' || c == '\t' {
				what = "holds a space (a space after the ':'?)"
			}
			return "", "", fmt.Sprintf("the password of %q %s", id, what)
		}
	}
	return id, password, ""
}

// Load reads the keys file at path, as Parse does. A malformed line is
// reported as a *LineError that names the file: "keys.txt:3: …".
func Load(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the keys: %w", err)
	}
	keys, err := Parse(bytes.NewReader(data))
	var le *LineError
	if errors.As(err, &le) {
		le.File = path
	}
	return keys, err
}

// Warning returns what to say about the permissions of the keys file at
// path, or "" if there is nothing to say: on Unix, a file that its group
// or other users can read gives every station's key away to them.
func Warning(path string) string {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return "" // no Unix permission bits to read
	}
	info, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if mode := info.Mode().Perm(); mode&0o044 != 0 {
		return fmt.Sprintf("%s can be read by other users (mode %04o): it holds every station's key; chmod 600 %s", path, mode, path)
	}
	return ""
}
