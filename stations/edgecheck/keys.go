package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// readKeys reads a file of station keys, the one the server reads: a line
// `identity:password` per station; blank lines and lines starting with #
// are skipped. An identity may contain ':' and a key may not (OCPP's
// AuthorizationKey is hex), so a line splits at its last ':'.
func readKeys(name string) ([]Key, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read station keys: %w", err)
	}
	defer f.Close()
	keys, err := parseKeys(f)
	if err != nil {
		return nil, fmt.Errorf("read station keys from %s: %w", name, err)
	}
	return keys, nil
}

// parseKeys reads the lines of a keys file; see readKeys.
func parseKeys(r io.Reader) ([]Key, error) {
	var keys []Key
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ':')
		if i <= 0 || i == len(line)-1 {
			return nil, fmt.Errorf("line %d: want identity:password", n)
		}
		keys = append(keys, Key{Station: line[:i], Password: line[i+1:]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no identity:password line")
	}
	return keys, nil
}
