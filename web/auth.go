package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	skimguard "github.com/skimguard/skimguard"
)

// Session lifetimes: a session ends after SessionIdle without a request or
// SessionMax after sign-in, whichever comes first.
const (
	SessionIdle = 8 * time.Hour
	SessionMax  = 24 * time.Hour
)

// TokenActor is the actor the audit log records for requests made with the
// API token.
const TokenActor = "api-token"

// TokenRole is what the API token may do: approve and reject findings,
// for the automation that closes them. Managing users and settings takes
// a person.
const TokenRole = skimguard.RoleReviewer

// HashPassword returns the bcrypt hash to store for a password.
func HashPassword(password string) ([]byte, error) {
	if len(password) < 12 {
		return nil, errors.New("the password is too short: use at least 12 characters")
	}
	if len(password) > 72 {
		// bcrypt reads only the first 72 bytes; refuse rather than ignore
		// the rest silently.
		return nil, errors.New("the password is too long: bcrypt uses at most 72 bytes")
	}
	return bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
}

// identity is who made a request.
type identity struct {
	user string
	role skimguard.Role
	// csrf is the session's anti-CSRF token; empty for the API token, whose
	// requests carry no ambient credentials another site could borrow.
	csrf string
}

type ctxKey struct{}

func withIdentity(ctx context.Context, id identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

func identityOf(r *http.Request) identity {
	id, _ := r.Context().Value(ctxKey{}).(identity)
	return id
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenKey is what the store keeps of a session's cookie value: its
// digest, which signs nobody in.
func tokenKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// startSession starts a session for user, whose password hash has digest,
// and returns its cookie value. The session lives in the store, so that
// every serve behind one address knows it and a restart keeps it.
func (s *Server) startSession(ctx context.Context, user, digest string, now time.Time) (string, error) {
	token := randomToken()
	ss := skimguard.Session{Key: tokenKey(token), User: user, PasswordDigest: digest, CSRF: randomToken(),
		CreatedAt: now, SeenAt: now, Idle: SessionIdle, EndsAt: now.Add(SessionMax)}
	if err := s.store.SaveSession(ctx, &ss); err != nil {
		return "", err
	}
	return token, nil
}

// dummyHash is compared against when a user does not exist, so that a
// sign-in takes as long for an unknown name as for a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("skimguard: no such user"), bcrypt.DefaultCost)

// checkPassword returns the digest of the user's password hash when
// password is the user's, "" when it is not.
func (s *Server) checkPassword(ctx context.Context, name, password string) (string, error) {
	u, err := s.store.User(ctx, name)
	if errors.Is(err, skimguard.ErrNotFound) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		return "", nil
	}
	return hashDigest(u.PasswordHash), nil
}

func hashDigest(h []byte) string {
	d := sha256.Sum256(h)
	return hex.EncodeToString(d[:])
}

// current returns a session's user's role, and false when the user no
// longer exists with the password it signed in with. The users live in the
// store, where `skimguard user` changes them from another process, so this
// is read at every request: a new role applies at once. (The store ends
// the sessions of a user it removes or gives a new password; the digest
// also ends one that started while that happened.)
func (s *Server) current(ctx context.Context, ss *skimguard.Session) (skimguard.Role, bool) {
	u, err := s.store.User(ctx, ss.User)
	if err != nil {
		if !errors.Is(err, skimguard.ErrNotFound) {
			s.opts.Logger.Error("session not checked: the store does not answer", "err", err)
		}
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(hashDigest(u.PasswordHash)), []byte(ss.PasswordDigest)) != 1 {
		return "", false
	}
	return u.Role, true
}

// sessionCookie is the cookie's name: with the __Host- prefix when
// cookies are Secure, so that no subdomain or plain-HTTP page can set it.
func (s *Server) sessionCookie() string {
	if s.opts.SecureCookies {
		return "__Host-skimguard_session"
	}
	return "skimguard_session"
}

func (s *Server) loginCookie() string {
	if s.opts.SecureCookies {
		return "__Host-skimguard_login"
	}
	return "skimguard_login"
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	age := int(maxAge / time.Second)
	if maxAge < 0 {
		age = -1 // delete it now
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/",
		MaxAge:   age,
		HttpOnly: true,
		Secure:   s.opts.SecureCookies,
		// Lax, not Strict: a link from an alert e-mail or Slack then opens
		// the finding signed in. Every state change also needs the CSRF
		// token.
		SameSite: http.SameSiteLaxMode,
	})
}

// authenticate finds who made the request: a session cookie or the API
// token. It reports false when neither is valid.
func (s *Server) authenticate(r *http.Request) (identity, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if ok && s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.Token)) == 1 {
			return identity{user: TokenActor, role: TokenRole}, true
		}
		return identity{}, false
	}
	c, err := r.Cookie(s.sessionCookie())
	if err != nil || c.Value == "" {
		return identity{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ss, err := s.store.TouchSession(ctx, tokenKey(c.Value), s.now())
	if err != nil {
		if !errors.Is(err, skimguard.ErrNotFound) {
			s.opts.Logger.Error("session not checked: the store does not answer", "err", err)
		}
		return identity{}, false
	}
	role, ok := s.current(ctx, ss)
	if !ok {
		if err := s.store.DeleteSession(ctx, ss.Key); err != nil {
			s.opts.Logger.Error("session of a removed user or an old password not ended", "err", err)
		}
		return identity{}, false
	}
	return identity{user: ss.User, role: role, csrf: ss.CSRF}, true
}

// safeMethod reports whether a request's method cannot change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// csrfOK checks a state-changing request's anti-CSRF token: the form field
// "csrf" or the X-CSRF-Token header must carry the session's token.
func csrfOK(r *http.Request, id identity) bool {
	if id.csrf == "" {
		return id.user == TokenActor
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(id.csrf)) == 1
}

// requireAuth lets only signed-in requests through, and state-changing
// ones only with the session's CSRF token.
func (s *Server) requireAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.authenticate(r)
		api := isAPI(r) || r.URL.Path == "/metrics"
		if !ok {
			if api || !safeMethod(r.Method) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="skimguard"`)
				s.fail(w, r, http.StatusUnauthorized, "sign in first, or send the API token as \"Authorization: Bearer <token>\"")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !safeMethod(r.Method) {
			// Read the form here, so that one too large is refused as such,
			// not as a form without its CSRF token.
			if err := r.ParseForm(); err != nil {
				s.failErr(w, r, formError(err))
				return
			}
		}
		if !safeMethod(r.Method) && !csrfOK(r, id) {
			s.fail(w, r, http.StatusForbidden, "the request has no valid CSRF token: reload the page and try again (API clients using a session send it as X-CSRF-Token)")
			return
		}
		h.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), id)))
	})
}

// need lets a request through only when its user's role allows what role
// does; others are refused, saying which role it takes, and the refusal is
// recorded in the audit log: the interface offers no such action to them.
func (s *Server) need(role skimguard.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := identityOf(r)
		if id.role.Allows(role) {
			h(w, r)
			return
		}
		ctx, cancel := timeout(r)
		defer cancel()
		err := s.store.AppendAudit(ctx, skimguard.AuditEntry{At: s.now(), Actor: id.user, Action: "access.denied",
			Detail: fmt.Sprintf("%s %s needs the %s role; %s has %s", r.Method, r.URL.Path, role, id.user, id.role)})
		if err != nil {
			s.opts.Logger.Error("refused request not recorded in the audit log", "err", err)
		}
		s.opts.Logger.Warn("request refused: role", "user", id.user, "role", id.role, "needs", role, "path", r.URL.Path)
		s.fail(w, r, http.StatusForbidden, fmt.Sprintf("%s is a %s, and this needs the %s role: ask an admin to run `skimguard user role %s %s`",
			id.user, id.role, role, id.user, role))
	}
}

// formError says what is wrong with a form that could not be read.
func formError(err error) error {
	if errors.As(err, new(*http.MaxBytesError)) {
		return err
	}
	return errBadRequest{"the form could not be read: " + err.Error()}
}

// localPath returns next when a browser would read it as a path on this
// server, else "/", so that the sign-in form cannot send people to another
// site. Browsers strip tabs and newlines anywhere in a URL and read a
// backslash as a slash, so that "/<TAB>/evil" and "/\evil" both mean the
// host evil. Rather than repair such a value the way some browser might,
// anything that would need repair is refused: control characters and
// backslashes (percent-encoded too), a scheme, a host, and a path that
// starts with two slashes.
func localPath(next string) string {
	const home = "/"
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || !plainPath(next) {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	dec, err := url.PathUnescape(next)
	if err != nil || strings.HasPrefix(dec, "//") || !plainPath(dec) {
		return home
	}
	return next
}

// plainPath reports whether s has no control characters and no
// backslashes, which browsers drop or read as slashes.
func plainPath(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' })
}
