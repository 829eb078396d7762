package crawler

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// secretMark stands for a secret in what a scan keeps and logs.
const secretMark = "[secret]"

// secrets are the values a scan's journey typed that must never leave the
// scan: the values of ${NAME} references (a shop password), and whatever
// went into a password field. Masking covers the forms a page can put a
// value in by itself: as typed, URL-encoded (query and path), JSON-escaped
// and base64. Safe for concurrent use.
type secrets struct {
	mu    sync.RWMutex
	forms []string // longest first, so that no form is masked half
}

// add keeps v, in every form masked.
func (s *secrets) add(v string) {
	if v == "" {
		return
	}
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v),
		strings.Trim(strconv.Quote(v), `"`),
		base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v))}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range forms {
		if !slices.Contains(s.forms, f) {
			s.forms = append(s.forms, f)
		}
	}
	slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })
}

// mask replaces every form of every secret in text by secretMark.
func (s *secrets) mask(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.forms {
		if strings.Contains(text, f) {
			text = strings.ReplaceAll(text, f, secretMark)
		}
	}
	return text
}

// any reports whether there is a secret to mask.
func (s *secrets) any() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.forms) > 0
}

// maskedError is an error whose message had secrets masked; errors.Is and
// errors.As still see what it wraps.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }
