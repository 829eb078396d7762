// Package web serves skimguard's web interface and JSON API behind a
// sign-in: the dashboard, findings to review with their evidence, approval
// and rejection with a justification, baseline history, the script
// inventory and scan history.
//
// Every page and API call needs a session (a local user signed in with a
// bcrypt-checked password) or the API token, except /healthz and the
// collector of shoppers' browsers' reports, which a site's token in its
// path guards instead (reports.go). State changes need the session's CSRF
// token as well, and the role that allows them (approving and rejecting: a
// reviewer), and cross-origin browser
// requests are refused outright (net/http's CrossOriginProtection). The
// interface runs no JavaScript, so its Content-Security-Policy allows none:
// what it shows comes from hostile pages.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
)

// Options configure a Server.
type Options struct {
	// Store is where scans, findings, baselines and users are.
	Store skimguard.Store
	// Resolve approves or rejects findings and updates baselines:
	// (*monitor.Monitor).Resolve.
	Resolve func(ctx context.Context, ids []int64, res skimguard.Resolution) error
	// Pages returns the configured pages, read at each request so that a
	// reloaded sites.yaml shows; nil shows the pages with a baseline only.
	Pages func() []skimguard.Page
	// NextCheck, when set, says when a configured page is checked next
	// (zero when never) and whether a check of it is under way:
	// (*schedule.Scheduler).NextRun.
	NextCheck func(site, page string) (next time.Time, running bool)
	// Channels, when set, names the alert channels findings are sent to, read
	// at each request so that a reload shows; the dashboard warns loudly
	// when it returns none. nil: the interface does not know, and says
	// nothing.
	Channels func() []string
	// Metrics, when set, is served at /metrics to signed-in users and the
	// API token.
	Metrics http.Handler
	// Token, when not empty, authenticates API clients that send
	// "Authorization: Bearer <Token>"; the daemon reads it from an
	// environment variable.
	Token string
	// TrustedProxies are the proxies (the TLS proxy in front, say) whose
	// X-Forwarded-For header names the client. Without them every client
	// behind a proxy has the proxy's address, and sign-in throttling slows
	// them all down together.
	TrustedProxies []netip.Prefix
	// SecureCookies marks cookies Secure and gives them the __Host- prefix:
	// set it whenever people reach the interface over HTTPS.
	SecureCookies bool
	Logger        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Collector, when set, serves the collector of shoppers' reports at
	// /reports/{site}/{token} and the pages' reports view (reports.go).
	Collector *Collector
}

// Server is the web interface and API; it is an http.Handler.
type Server struct {
	opts     Options
	store    skimguard.Store
	throttle throttle
	tmpl     map[string]*template.Template
	handler  http.Handler

	// healthMu guards lastHealth, the store's error at the latest health
	// check ("" when healthy).
	healthMu   sync.Mutex
	lastHealth string

	// limits is the collector's rate limit; pruned is when it last
	// removed old reports, guarded by pruneMu.
	limits  *limiter
	pruneMu sync.Mutex
	pruned  time.Time
}

//go:embed templates/*.html static/*
var files embed.FS

// New returns a Server for the options.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Resolve == nil {
		return nil, errors.New("web: Options.Store and Options.Resolve are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, store: o.Store, throttle: throttle{o.Store}}
	var err error
	if s.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}

	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", s.show("dashboard", s.loadDashboard))
	app.HandleFunc("GET /findings", s.show("findings", s.loadFindingList))
	app.HandleFunc("POST /findings/{action}", s.resolveBulk)
	app.HandleFunc("GET /findings/{id}", s.show("finding", s.loadFinding))
	app.HandleFunc("POST /findings/{id}/{action}", s.need(skimguard.RoleReviewer, s.resolveForm))
	app.HandleFunc("GET /pages/{site}/{page}", s.show("page", s.loadPage))
	app.HandleFunc("GET /pages/{site}/{page}/inventory.csv", s.inventoryCSV)
	app.HandleFunc("GET /inventory.csv", s.inventoryCSV)
	app.HandleFunc("GET /scans", s.show("scans", s.loadScans))
	app.HandleFunc("GET /scans/{id}", s.show("scan", s.loadScan))
	app.HandleFunc("GET /scans/{id}/screenshot.png", s.screenshot)
	app.HandleFunc("GET /audit", s.show("audit", s.loadAudit))
	app.HandleFunc("POST /logout", s.logout)
	if o.Metrics != nil {
		app.Handle("GET /metrics", o.Metrics)
	}
	s.api(app)

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", s.healthz)
	root.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(filesOnly{static})))
	// Browsers ask for an icon on their own; there is none.
	root.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	root.HandleFunc("GET /login", s.loginForm)
	root.HandleFunc("POST /login", s.login)
	root.Handle("/", s.requireAuth(app))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusForbidden, "cross-origin request refused: change things from skimguard's own pages, or call the API from a program, not from another site's page")
	}))
	s.reportRoutes(root, app, cop)
	s.handler = headers(limitBody(cop.Handler(root)))
	return s, nil
}

// filesOnly is a file system without directories, so that a file server
// on it lists nothing: a directory is not found.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := file.Stat()
	if err == nil && st.IsDir() {
		err = fs.ErrNotExist
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	return file, nil
}

// ServeHTTP serves the interface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now().UTC()
	}
	return time.Now().UTC()
}

// headers sets the security headers of every response. The interface runs
// no script and loads nothing from elsewhere; pages may not be framed.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// maxBody caps every request body. A form or an API call needs a few
// kilobytes; MaxReason characters take at most 24 KiB percent-encoded.
const maxBody = 64 << 10

// tooLarge is what a request over maxBody is told.
var tooLarge = fmt.Sprintf("the request is larger than %d KiB: a justification may have at most %d characters", maxBody>>10, skimguard.MaxReason)

// limitBody caps every request's body at maxBody, so that no form or API
// call makes the server read, or the audit log keep, megabytes.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h.ServeHTTP(w, r)
	})
}

// health is what /healthz answers, as JSON when asked for.
type health struct {
	// Status is "ok" or "unavailable".
	Status string `json:"status"`
	// Reason says in a word why the store cannot take writes: "full",
	// "locked" or "other"; Message says it in a sentence.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// healthz answers 200 "ok" when the store takes writes, else 503 with why,
// in plain text or, for "Accept: application/json", as JSON. It needs no
// sign-in, so it names no file: the log has the store's own error.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := s.store.Health(ctx)
	s.logHealth(err)
	h, code := health{Status: "ok"}, http.StatusOK
	if err != nil {
		code = http.StatusServiceUnavailable
		h = health{Status: "unavailable", Reason: "other", Message: "the store cannot take writes; the server log says why"}
		switch {
		case errors.Is(err, skimguard.ErrStoreFull):
			h.Reason, h.Message = "full", "the store's disk is full: scans are not being stored"
		case errors.Is(err, skimguard.ErrStoreLocked):
			h.Reason, h.Message = "locked", "another process holds the store's write lock: scans wait for it, then are not stored"
		}
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, code, h)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if err == nil {
		fmt.Fprintln(w, "ok")
		return
	}
	fmt.Fprintf(w, "unavailable (%s): %s\n", h.Reason, h.Message)
}

// logHealth logs the store's health when it changes, not at every probe.
func (s *Server) logHealth(err error) {
	now := ""
	if err != nil {
		now = err.Error()
	}
	s.healthMu.Lock()
	was := s.lastHealth
	s.lastHealth = now
	s.healthMu.Unlock()
	switch {
	case now == was:
	case err != nil:
		s.opts.Logger.Error("health check: the store cannot take writes", "err", err)
	default:
		s.opts.Logger.Info("health check: the store takes writes again")
	}
}

// isAPI reports whether a request is for the JSON API, which answers
// errors in JSON.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/")
}

// fail answers an error: JSON for the API, a page for people.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if isAPI(r) || r.URL.Path == "/metrics" {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	w.WriteHeader(code)
	s.render(w, r, "error", map[string]any{"Code": code, "Status": http.StatusText(code), "Message": msg})
}

// failErr maps a store or resolve error to a status, once, here.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var bad errBadRequest
	var confirm errConfirm
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &bad):
		s.fail(w, r, http.StatusBadRequest, bad.msg)
	case errors.As(err, &confirm):
		s.fail(w, r, http.StatusBadRequest, confirm.Error())
	case errors.As(err, &big):
		s.fail(w, r, http.StatusRequestEntityTooLarge, tooLarge)
	case errors.Is(err, skimguard.ErrReasonTooLong):
		s.fail(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, skimguard.ErrNotFound), errors.Is(err, skimguard.ErrNoBaseline):
		s.fail(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, skimguard.ErrNotOpen):
		s.fail(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, skimguard.ErrSameReviewer):
		s.fail(w, r, http.StatusForbidden, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		s.opts.Logger.Error("request timed out", "path", r.URL.Path, "err", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the store did not answer in time; try again")
	default:
		s.opts.Logger.Error("request failed", "path", r.URL.Path, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "internal error; the server log has the details")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// pathID reads the {id} of a request's path; what names the thing for
// the error when there is none such.
func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("no such %s %q: %w", what, r.PathValue("id"), skimguard.ErrNotFound)
	}
	return id, nil
}

// loader reads what a request asks for from the store.
type loader func(ctx context.Context, r *http.Request) (any, error)

// show answers a request with what load returns: the named page for
// people, JSON for the API when page is "". Errors are mapped once, in
// failErr.
func (s *Server) show(page string, load loader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := timeout(r)
		defer cancel()
		v, err := load(ctx, r)
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		if page == "" {
			writeJSON(w, http.StatusOK, v)
			return
		}
		s.render(w, r, page, v)
	}
}

// timeout bounds a request's store work.
func timeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}

// Link is where an alert's findings are reviewed: the finding itself when
// there is one, else the page with its open findings. (A scan is no good
// target: a finding seen again moves on to the newer scan.)
func Link(base *url.URL, a alerts.Alert) string {
	if len(a.Findings) == 1 && a.Findings[0].ID != 0 {
		return base.JoinPath("findings", strconv.FormatInt(a.Findings[0].ID, 10)).String()
	}
	return base.JoinPath("pages", a.Site, a.Page).String()
}
