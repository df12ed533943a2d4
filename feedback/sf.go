package feedback

import "strings"

// This file holds a tolerant, allocation-free reader for RFC 8941
// structured-field lists and dictionaries, enough for the rate-limit
// fields: members separated by commas, each a bare item (token, string,
// number) or key=value, followed by ;key=value parameters. Quoted strings
// may contain commas, semicolons and backslash escapes. Optional
// whitespace is accepted around every separator. Nothing is validated
// beyond what the callers need; what cannot be read is skipped.

// cut splits s at the first sep outside a quoted string. It returns s
// whole and an empty rest when there is none.
func cut(s string, sep byte) (head, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // the escaped character cannot end the string
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// nextMember returns the first member of an sf-list, trimmed, and the rest
// of the list.
func nextMember(list string) (member, rest string) {
	member, rest = cut(list, ',')
	return trimOWS(member), rest
}

// splitMember splits a member into its bare item and its parameters
// (everything after the first ';', still to be read with nextParam).
func splitMember(member string) (item, params string) {
	item, params = cut(member, ';')
	return trimOWS(item), params
}

// nextParam returns the first parameter's key and value (value "" for a
// key without one), trimmed, and the remaining parameters.
func nextParam(params string) (key, value, rest string) {
	p, rest := cut(params, ';')
	key, value, _ = strings.Cut(p, "=")
	return trimOWS(key), trimOWS(value), rest
}

// unquote returns the content of an sf-string, or s itself if it is not
// quoted (a token). It allocates only when the string holds escapes.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' {
		return s
	}
	s = s[1:]
	if s[len(s)-1] == '"' {
		s = s[:len(s)-1]
	}
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isKey reports whether key equals want, ignoring ASCII case (servers are
// not always as strict as RFC 8941's lowercase keys).
func isKey(key, want string) bool { return strings.EqualFold(key, want) }

// trimOWS trims spaces and tabs from both ends of s.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
