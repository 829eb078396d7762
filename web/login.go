package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// loginForm shows the sign-in form. Its CSRF token sits in a short-lived
// cookie as well as in the form, so that another site cannot sign a
// browser in to an account of its choosing.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, ok := s.authenticate(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, next, "", "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, code int, next, user, msg string) {
	// Keep the browser's token: a second sign-in tab, or the browser's own
	// request for /favicon.ico, must not invalidate the form on screen.
	token := randomToken()
	if c, err := r.Cookie(s.loginCookie()); err == nil && len(c.Value) == len(token) {
		token = c.Value
	}
	s.setCookie(w, s.loginCookie(), token, 30*time.Minute)
	w.WriteHeader(code)
	s.render(w, r, "login", map[string]any{"CSRF": token, "Next": next, "User": user, "Error": msg})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.failErr(w, r, formError(err))
		return
	}
	next := localPath(r.PostFormValue("next"))
	name, password := r.PostFormValue("user"), r.PostFormValue("password")
	c, err := r.Cookie(s.loginCookie())
	form := r.PostFormValue("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		s.showLogin(w, r, http.StatusForbidden, next, name, "The sign-in form expired. Please sign in again.")
		return
	}
	now := s.now()
	addr, typed := s.clientAddr(r), truncate(name, maxTypedName)
	ctx, cancel := timeout(r)
	defer cancel()
	wait, why, err := s.throttle.wait(ctx, now, addr, name)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if wait > 0 {
		s.opts.Logger.Warn("sign-in refused: too many failures", "user", typed, "addr", addr, "wait", wait)
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.showLogin(w, r, http.StatusTooManyRequests, next, name, fmt.Sprintf("%s Try again in %s.", why, waitText(secs)))
		return
	}
	hash, err := s.checkPassword(ctx, name, password)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if hash == "" {
		if err := s.throttle.failed(ctx, now, addr, name); err != nil {
			s.opts.Logger.Error("failed sign-in not counted", "err", err)
		}
		s.opts.Logger.Warn("sign-in failed", "user", typed, "addr", addr)
		// The name as typed, cut short: it is whatever a guesser sent.
		err := s.store.AppendAudit(ctx, skimguard.AuditEntry{At: now, Actor: addr, Action: "signin.failed",
			Detail: fmt.Sprintf("sign-in as %q failed from %s", typed, addr)})
		if err != nil {
			s.opts.Logger.Error("failed sign-in not recorded in the audit log", "err", err)
		}
		s.showLogin(w, r, http.StatusUnauthorized, next, name, "Wrong user name or password.")
		return
	}
	if err := s.throttle.succeeded(ctx, addr, name); err != nil {
		s.opts.Logger.Error("failed sign-ins of a user who signed in not forgotten", "err", err)
	}
	token, err := s.startSession(ctx, name, hash, now)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	s.setCookie(w, s.sessionCookie(), token, SessionMax)
	s.setCookie(w, s.loginCookie(), "", -1)
	s.opts.Logger.Info("signed in", "user", name, "addr", addr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.sessionCookie()); err == nil {
		ctx, cancel := timeout(r)
		defer cancel()
		if err := s.store.DeleteSession(ctx, tokenKey(c.Value)); err != nil {
			s.failErr(w, r, err)
			return
		}
	}
	s.setCookie(w, s.sessionCookie(), "", -1)
	s.opts.Logger.Info("signed out", "user", identityOf(r).user)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// maxTypedName bounds the user name as typed in logs and the audit log.
const maxTypedName = 64

// truncate cuts s to at most n bytes of valid UTF-8, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "?")
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func waitText(secs int) string {
	if secs < 120 {
		return fmt.Sprintf("%d seconds", secs)
	}
	return fmt.Sprintf("%d minutes", (secs+59)/60)
}

// Sign-in throttling. Failures are counted over failureWindow per client
// address and per user name at an address.
//
// An address that failed freeFailures times waits before each further
// attempt, firstDelay at first and twice as long after each failure, up to
// maxDelay: someone who mistypes is not slowed, a guesser is, and nobody
// else behind the same address (a proxy, an office) is locked out for
// long. A user name that failed maxFailures times at one address is
// refused there until the window has passed; the same user signs in from
// any other address as usual, so a guesser cannot lock a person out.
const (
	failureWindow = 15 * time.Minute
	freeFailures  = 5
	firstDelay    = time.Second
	maxDelay      = time.Minute
	maxFailures   = 10
)

// throttle counts failed sign-ins in the store, so that every serve
// behind one address counts them together and a restart forgets none.
type throttle struct{ store skimguard.Store }

// The keys failures are counted under: digests, so that the store keeps
// neither the addresses nor the names typed (a password typed into the
// name field, say).
func addrKey(addr string) string       { return tokenKey("addr\x00" + addr) }
func userKey(addr, name string) string { return tokenKey("user\x00" + addr + "\x00" + name) }

// wait returns how long a sign-in as name from addr must wait, 0 when it
// may go ahead, and why.
func (t throttle) wait(ctx context.Context, now time.Time, addr, name string) (time.Duration, string, error) {
	uk, ak := userKey(addr, name), addrKey(addr)
	recent, err := t.store.SignInFailures(ctx, now.Add(-failureWindow), uk, ak)
	if err != nil {
		return 0, "", err
	}
	if fs := recent[uk]; len(fs) >= maxFailures {
		return fs[0].Add(failureWindow).Sub(now), "Too many failed sign-ins for this user from your address.", nil
	}
	fs := recent[ak]
	if len(fs) < freeFailures {
		return 0, "", nil
	}
	delay := maxDelay
	if n := len(fs) - freeFailures; n < 8 {
		delay = min(firstDelay<<n, maxDelay)
	}
	if w := fs[len(fs)-1].Add(delay).Sub(now); w > 0 {
		return w, "Too many failed sign-ins from your address.", nil
	}
	return 0, "", nil
}

// failed counts a failed sign-in as name from addr, and lets the store
// forget failures too old to count.
func (t throttle) failed(ctx context.Context, now time.Time, addr, name string) error {
	return t.store.RecordSignInFailure(ctx, now, now.Add(-failureWindow), addrKey(addr), userKey(addr, name))
}

// succeeded forgets the user's failures at addr: the person got the
// password right in the end. The address's failures stay, or a guesser
// with an account of their own could clear them between guesses.
func (t throttle) succeeded(ctx context.Context, addr, name string) error {
	return t.store.ClearSignInFailures(ctx, userKey(addr, name))
}

// clientAddr is the address a request came from, for throttling and the
// audit log: the connection's peer or, when the peer is a trusted proxy,
// the address the proxies say they received it from. X-Forwarded-For is
// read right to left past every trusted proxy, so that what a client
// writes in it itself is never believed.
func (s *Server) clientAddr(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !s.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := parseHop(hops[i])
		if err != nil {
			// Garbage beyond the last trusted proxy: that proxy is the
			// last address known for certain.
			return addr.String()
		}
		addr = hop
		if !s.trusted(addr) {
			return addr.String()
		}
	}
	return addr.String()
}

// parseHop reads one X-Forwarded-For entry: an address, perhaps with a port.
func parseHop(h string) (netip.Addr, error) {
	h = strings.TrimSpace(h)
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return a.Unmap(), err
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
