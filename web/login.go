package web

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"
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
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := localPath(r.PostFormValue("next"))
	name, password := r.PostFormValue("user"), r.PostFormValue("password")
	c, err := r.Cookie(s.loginCookie())
	form := r.PostFormValue("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		s.showLogin(w, r, http.StatusForbidden, next, name, "The sign-in form expired. Please sign in again.")
		return
	}
	now := s.now()
	keys := []string{"user:" + name, "addr:" + clientAddr(r)}
	if wait := s.sessions.throttled(now, keys...); wait > 0 {
		s.opts.Logger.Warn("sign-in refused: too many failures", "user", name, "addr", clientAddr(r))
		s.showLogin(w, r, http.StatusTooManyRequests, next, name,
			fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", int(wait.Minutes())+1))
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
		s.sessions.failed(now, keys...)
		s.opts.Logger.Warn("sign-in failed", "user", name, "addr", clientAddr(r))
		s.showLogin(w, r, http.StatusUnauthorized, next, name, "Wrong user name or password.")
		return
	}
	token, _ := s.sessions.create(name, hash, now)
	s.setCookie(w, s.sessionCookie(), token, SessionMax)
	s.setCookie(w, s.loginCookie(), "", -1)
	s.opts.Logger.Info("signed in", "user", name, "addr", clientAddr(r))
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
