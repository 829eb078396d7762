package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	skimguard "github.com/skimguard/skimguard"
)

// api registers the JSON API: the same loaders as the pages, for
// automation. The README documents it; its shapes are a contract.
func (s *Server) api(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/pages", s.show("", s.loadDashboard))
	mux.HandleFunc("GET /api/v1/pages/{site}/{page}", s.show("", s.loadPage))
	mux.HandleFunc("GET /api/v1/pages/{site}/{page}/baselines", s.show("", s.loadBaselines))
	mux.HandleFunc("GET /api/v1/findings", s.show("", s.loadFindings))
	mux.HandleFunc("GET /api/v1/findings/{id}", s.show("", s.loadFinding))
	mux.HandleFunc("POST /api/v1/findings/{id}/{action}", s.need(skimguard.RoleReviewer, s.apiResolve))
	mux.HandleFunc("GET /api/v1/scans", s.show("", s.loadScans))
	mux.HandleFunc("GET /api/v1/scans/{id}", s.show("", s.loadScan))
	mux.HandleFunc("GET /api/v1/inventory", s.show("", s.loadInventory))
	mux.HandleFunc("GET /api/v1/audit", s.show("", s.loadAudit))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "no such API endpoint: see the README's API section")
	})
}

// versionJSON is a baseline version with its items, script texts left out.
type versionJSON struct {
	version
	Items []skimguard.Item `json:"items"`
}

// loadBaselines returns every baseline version of a page, newest first,
// with what changed from the one before.
func (s *Server) loadBaselines(ctx context.Context, r *http.Request) (any, error) {
	bs, err := s.store.BaselineVersions(ctx, r.PathValue("site"), r.PathValue("page"))
	if err != nil {
		return nil, err
	}
	h := history(bs)
	out := make([]versionJSON, len(bs))
	for i, b := range bs {
		items := make([]skimguard.Item, len(b.Items))
		for j, it := range b.Items {
			it.Source = ""
			items[j] = it
		}
		out[i] = versionJSON{version: h[i], Items: items}
	}
	return map[string]any{"baselines": out}, nil
}

func (s *Server) loadInventory(ctx context.Context, r *http.Request) (any, error) {
	inv, _, err := s.inventory(ctx, r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"inventory": inv}, nil
}

// apiResolve approves or rejects a finding: POST a JSON body
// {"reason": "..."} to /api/v1/findings/{id}/approve or .../reject. It
// answers the finding after the change: 200, or 202 when it is still open,
// its approval waiting for a second reviewer.
func (s *Server) apiResolve(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "finding")
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		if !errors.As(err, new(*http.MaxBytesError)) {
			err = errBadRequest{`the body must be JSON like {"reason": "why"}: ` + err.Error()}
		}
		s.failErr(w, r, err)
		return
	}
	ctx, cancel := timeout(r)
	defer cancel()
	// An API client states its intent in the call itself: the second step
	// is for people, who approve with a click.
	if err := s.resolve(ctx, identityOf(r), []int64{id}, r.PathValue("action"), body.Reason, true); err != nil {
		s.failErr(w, r, err)
		return
	}
	d, err := s.findingDetail(ctx, id)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	code := http.StatusOK
	if d.Finding.Status == skimguard.StatusOpen {
		code = http.StatusAccepted
	}
	writeJSON(w, code, d)
}
