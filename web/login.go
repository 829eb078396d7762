package web

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
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
	if wait, why := s.throttle.wait(now, addr, name); wait > 0 {
		s.opts.Logger.Warn("sign-in refused: too many failures", "user", typed, "addr", addr, "wait", wait)
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.showLogin(w, r, http.StatusTooManyRequests, next, name, fmt.Sprintf("%s Try again in %s.", why, waitText(secs)))
		return
	}
	ctx, cancel := timeout(r)
	defer cancel()
	hash, err := s.checkPassword(ctx, name, password)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	if hash == "" {
		s.throttle.failed(now, addr, name)
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
	s.throttle.succeeded(addr, name)
	token, _ := s.sessions.create(name, hash, now)
	s.setCookie(w, s.sessionCookie(), token, SessionMax)
	s.setCookie(w, s.loginCookie(), "", -1)
	s.opts.Logger.Info("signed in", "user", name, "addr", addr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.sessionCookie()); err == nil {
		s.sessions.end(c.Value)
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
	// maxTracked is how many keys the throttle holds before it drops the
	// expired ones.
	maxTracked = 10000
)

// throttle remembers recent failed sign-ins, in memory: a restart forgets
// them, as it forgets sessions.
type throttle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

func newThrottle() *throttle { return &throttle{failures: map[string][]time.Time{}} }

func addrKey(addr string) string       { return "addr\x00" + addr }
func userKey(addr, name string) string { return "user\x00" + addr + "\x00" + name }

// wait returns how long a sign-in as name from addr must wait, 0 when it
// may go ahead, and why.
func (t *throttle) wait(now time.Time, addr, name string) (time.Duration, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fs := t.recent(userKey(addr, name), now); len(fs) >= maxFailures {
		return fs[0].Add(failureWindow).Sub(now), "Too many failed sign-ins for this user from your address."
	}
	fs := t.recent(addrKey(addr), now)
	if len(fs) < freeFailures {
		return 0, ""
	}
	delay := maxDelay
	if n := len(fs) - freeFailures; n < 8 {
		delay = min(firstDelay<<n, maxDelay)
	}
	if w := fs[len(fs)-1].Add(delay).Sub(now); w > 0 {
		return w, "Too many failed sign-ins from your address."
	}
	return 0, ""
}

// recent returns the failures of key within the window, forgetting older
// ones. The caller holds t.mu.
func (t *throttle) recent(key string, now time.Time) []time.Time {
	ts := t.failures[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > failureWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(t.failures, key)
		return nil
	}
	t.failures[key] = ts
	return ts
}

// failed counts a failed sign-in as name from addr.
func (t *throttle) failed(now time.Time, addr, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) > maxTracked {
		for k := range t.failures {
			t.recent(k, now)
		}
	}
	for _, k := range []string{addrKey(addr), userKey(addr, name)} {
		t.failures[k] = append(t.recent(k, now), now)
	}
}

// succeeded forgets the user's failures at addr: the person got the
// password right in the end. The address's failures stay, or a guesser
// with an account of their own could clear them between guesses.
func (t *throttle) succeeded(addr, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, userKey(addr, name))
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
