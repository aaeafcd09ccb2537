// Package idtags reads the list of idTags a central system authorizes:
// the RFID cards and app tokens that may charge, each with its status.
//
// The file holds one idTag a line: the tag, then optionally its status
// (Accepted, Blocked, Expired or Invalid; Accepted if left out) and an
// expiry date (RFC 3339), separated by spaces:
//
//	# tag        status    expiry
//	04A1B2C3D4
//	OPERATOR1    Accepted  2027-12-31T23:59:59Z
//	LOSTCARD     Blocked
//
// An Accepted tag whose expiry has passed is answered Expired. A tag not in
// the list is Invalid. Blank lines and lines starting with # are skipped; a
// malformed line refuses the whole file with its line number.
package idtags

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// MaxLength is the longest idTag OCPP 1.6 allows (IdToken: 20 characters).
const MaxLength = 20

// A Tag is one line of the list.
type Tag struct {
	Status ocpp.AuthorizationStatus
	Expiry time.Time // zero: never
}

// List is the idTags a central system knows. A nil List accepts every tag.
type List map[string]Tag

// Info returns the idTagInfo to answer for tag at time now.
func (l List) Info(tag string, now time.Time) ocpp.IdTagInfo {
	if l == nil {
		return ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}
	}
	t, ok := l[tag]
	if !ok {
		return ocpp.IdTagInfo{Status: ocpp.AuthorizationInvalid}
	}
	info := ocpp.IdTagInfo{Status: t.Status}
	if !t.Expiry.IsZero() {
		info.ExpiryDate = &ocpp.DateTime{Time: t.Expiry.UTC()}
		if t.Status == ocpp.AuthorizationAccepted && !now.Before(t.Expiry) {
			info.Status = ocpp.AuthorizationExpired
		}
	}
	return info
}

// Load reads the list from the file at path; errors name the file and line.
func Load(path string) (List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idTag list: %w", err)
	}
	defer f.Close()
	l, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return l, nil
}

// Parse reads a list; an error names the line ("3: …").
func Parse(r io.Reader) (List, error) {
	l := List{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) > 3 {
			return nil, fmt.Errorf("%d: %d fields, want at most 3: tag [status] [expiry]", n, len(fields))
		}
		tag := fields[0]
		if len(tag) > MaxLength {
			return nil, fmt.Errorf("%d: idTag %q has %d characters, OCPP 1.6 allows %d", n, tag, len(tag), MaxLength)
		}
		if _, dup := l[tag]; dup {
			return nil, fmt.Errorf("%d: idTag %q is listed twice", n, tag)
		}
		t := Tag{Status: ocpp.AuthorizationAccepted}
		if len(fields) > 1 {
			t.Status = ocpp.AuthorizationStatus(fields[1])
			if !t.Status.Valid() || t.Status == ocpp.AuthorizationConcurrentTx {
				return nil, fmt.Errorf("%d: status %q: want Accepted, Blocked, Expired or Invalid", n, fields[1])
			}
		}
		if len(fields) > 2 {
			exp, err := time.Parse(time.RFC3339, fields[2])
			if err != nil {
				return nil, fmt.Errorf("%d: expiry %q is not an RFC 3339 time such as 2027-12-31T23:59:59Z", n, fields[2])
			}
			t.Expiry = exp
		}
		l[tag] = t
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return l, nil
}
