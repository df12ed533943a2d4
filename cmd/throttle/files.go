package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// maxNameLen keeps file names well under the 255 bytes most file systems
// allow, with room for the hash.
const maxNameLen = 120

// fileFor is the file in dir that the body of rawURL goes to: the host and
// path with every byte outside [A-Za-z0-9.-] made '_' ("example.com_a_b.json";
// a path ending in / gets "index.html"), and, when the URL has a query or
// the name had to be shortened or lost a byte, the first 12 hex digits of the
// URL's SHA-256, so that different URLs get different files. The same
// URL always gets the same name: --resume relies on it.
func fileFor(dir, rawURL string) string {
	name, exact := rawURL, true
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		name = u.Host + u.EscapedPath()
		if name == u.Host || strings.HasSuffix(name, "/") {
			name = strings.TrimSuffix(name, "/") + "/index.html"
		}
		exact = u.RawQuery == "" && u.Fragment == ""
	} else {
		exact = false
	}
	// '/' becomes '_' without loss only when the name has no '_' of its
	// own; any other byte replaced loses what it was.
	hadUnderscore := strings.Contains(name, "_")
	safe := []byte(name)
	for i, c := range safe {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			if c != '/' || hadUnderscore {
				exact = false
			}
			safe[i] = '_'
		}
	}
	// A leading dot would hide the file, and ".." must never be a name.
	if safe[0] == '.' {
		safe[0] = '_'
	}
	if len(safe) > maxNameLen {
		safe, exact = safe[:maxNameLen], false
	}
	out := string(safe)
	if !exact {
		sum := sha256.Sum256([]byte(rawURL))
		out += "-" + hex.EncodeToString(sum[:6])
	}
	return filepath.Join(dir, out)
}

// writeFile writes r to path through a temporary file in the same
// folder, renamed into place only once it is complete: an interrupted or
// failed write leaves no half file under path (and removes its
// temporary one).
func writeFile(path string, r io.Reader) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".throttle-*.part")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if n, err = io.Copy(tmp, r); err != nil {
		return n, err
	}
	if err = tmp.Close(); err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), path)
}
