package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/alerts"
	"github.com/skimguard/skimguard/sqlite"
)

// scripted is a Scanner that returns prepared observations, so that the
// monitor's bookkeeping is tested on its own; the browser is tested in
// crawler and e2e.
type scripted struct {
	mu  sync.Mutex
	obs map[string]*skimguard.Observation
	err map[string]error
}

func (s *scripted) Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.err[p.Name]; err != nil {
		return nil, err
	}
	o := *s.obs[p.Name]
	o.Site, o.Page, o.URL, o.FinalURL = p.Site, p.Name, p.URL, p.URL
	o.StartedAt = time.Now()
	return &o, nil
}

func (s *scripted) set(page string, o *skimguard.Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.obs[page] = o
}

func cleanObservation() *skimguard.Observation {
	return &skimguard.Observation{
		Status:  200,
		Headers: map[string]string{"x-frame-options": "DENY"},
		Scripts: []skimguard.Script{{Kind: skimguard.ScriptExternal, URL: "https://shop.test/app.js", Frame: "https://shop.test/checkout",
			Ordinal: 1, SHA256: "aa", Source: "init();", LoadedBy: "parser"}},
		Connections: []skimguard.Connection{{Origin: "https://shop.test", Types: []string{"Script"}, Count: 1}},
	}
}

func planted() *skimguard.Observation {
	o := cleanObservation()
	o.Scripts = append(o.Scripts, skimguard.Script{Kind: skimguard.ScriptExternal, URL: "https://jquery-cdn.pw/x.js",
		Frame: "https://shop.test/checkout", Ordinal: 2, SHA256: "bb", Source: "steal();", LoadedBy: "parser"})
	o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://jquery-cdn.pw", Types: []string{"Script"}, Count: 1})
	return o
}

type receiver struct {
	mu     sync.Mutex
	bodies []alerts.Payload
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if !alerts.Verify([]byte("s3cret"), body, req.Header.Get("X-Skimguard-Signature")) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p alerts.Payload
	json.Unmarshal(body, &p)
	r.mu.Lock()
	r.bodies = append(r.bodies, p)
	r.mu.Unlock()
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func setup(t *testing.T) (*Monitor, *scripted, *receiver, []skimguard.Page) {
	t.Helper()
	return setupAt(t, filepath.Join(t.TempDir(), "sg.db"))
}

// setupAt is setup with the database at path.
func setupAt(t *testing.T, path string) (*Monitor, *scripted, *receiver, []skimguard.Page) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	sc := &scripted{obs: map[string]*skimguard.Observation{"checkout": cleanObservation(), "cart": cleanObservation()}, err: map[string]error{}}
	m := &Monitor{Scanner: sc, Store: store}
	m.SetSinks([]alerts.Sink{&alerts.Webhook{URL: srv.URL, Secret: []byte("s3cret")}})
	pages := []skimguard.Page{
		{Site: "shop", Name: "checkout", URL: "https://shop.test/checkout"},
		{Site: "shop", Name: "cart", URL: "https://shop.test/cart"},
	}
	return m, sc, rcv, pages
}

func TestCheckStoresFindingsAndAlertsOnceWhileOpen(t *testing.T) {
	ctx := context.Background()
	m, sc, rcv, pages := setup(t)
	if _, err := m.Learn(ctx, pages, LearnOptions{Samples: 2, By: "alice", Reason: "onboarding"}); err != nil {
		t.Fatal(err)
	}
	res, err := m.Check(ctx, pages)
	if err != nil || len(res.Findings()) != 0 || rcv.count() != 0 {
		t.Fatalf("unchanged pages: err %v, findings %d, alerts %d", err, len(res.Findings()), rcv.count())
	}

	sc.set("checkout", planted())
	res, err = m.Check(ctx, pages)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages[0].Status != skimguard.CheckFindings || res.Pages[1].Status != skimguard.CheckOK {
		t.Fatalf("page statuses: %+v", res.Pages)
	}
	if rcv.count() != 1 || len(rcv.bodies[0].Findings) != len(res.Findings()) || rcv.bodies[0].Page != "checkout" {
		t.Fatalf("want one signed alert with the %d findings, got %+v", len(res.Findings()), rcv.bodies)
	}

	again, err := m.Check(ctx, pages)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Findings()) != len(res.Findings()) || again.Findings()[0].ID != res.Findings()[0].ID {
		t.Fatalf("a change still open must keep its finding ids: %v then %v", res.Findings(), again.Findings())
	}
	if rcv.count() != 1 {
		t.Fatalf("a finding that stays open must not alert again; alerts: %d", rcv.count())
	}
	open, _ := m.Store.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen})
	if len(open) != len(res.Findings()) {
		t.Fatalf("stored open findings: %d, want %d", len(open), len(res.Findings()))
	}
	ds, err := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{})
	if err != nil || len(ds) != 1 || !ds[0].OK || ds[0].Page != "checkout" || len(ds[0].Findings) != len(res.Findings()) || ds[0].ScanID == 0 {
		t.Fatalf("the delivery must be recorded with its findings and result: %+v, %v", ds, err)
	}
}

func TestAFailedDeliveryIsRecordedWithItsError(t *testing.T) {
	ctx := context.Background()
	m, sc, _, pages := setup(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "receiver down", http.StatusBadRequest)
	}))
	defer down.Close()
	m.SetSinks(append(m.Sinks(), &alerts.Webhook{URL: down.URL, Retries: 1}))
	m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	if _, err := m.Check(ctx, pages); err != nil {
		t.Fatal(err)
	}
	ds, _ := m.Store.Deliveries(ctx, skimguard.DeliveryFilter{})
	if len(ds) != 2 || !ds[0].OK || ds[1].OK || !strings.Contains(ds[1].Error, "400") {
		t.Fatalf("want one delivered and one failed with its error: %+v", ds)
	}
}

func TestHooksSeeEveryStoredScanAndDeliveryAndAlertsLinkTheScan(t *testing.T) {
	ctx := context.Background()
	m, sc, rcv, pages := setup(t)
	var mu sync.Mutex
	var scans []skimguard.Scan
	var deliveries []skimguard.Delivery
	m.Scanned = func(s skimguard.Scan) { mu.Lock(); scans = append(scans, s); mu.Unlock() }
	m.Delivered = func(d skimguard.Delivery) { mu.Lock(); deliveries = append(deliveries, d); mu.Unlock() }
	m.Link = func(a alerts.Alert) string {
		return fmt.Sprintf("https://ui.test/scans/%d?findings=%d", a.Scan.ID, len(a.Findings))
	}
	m.Learn(ctx, pages, LearnOptions{Samples: 2, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	if _, err := m.Check(ctx, pages); err != nil {
		t.Fatal(err)
	}
	if len(scans) != 6 {
		t.Fatalf("want 4 baseline samples and 2 checks told, got %d", len(scans))
	}
	for _, s := range scans {
		if s.ID == 0 {
			t.Fatalf("a scan was told before it was stored: %+v", s)
		}
	}
	if len(deliveries) != 1 || !deliveries[0].OK || deliveries[0].ID == 0 {
		t.Fatalf("deliveries told: %+v", deliveries)
	}
	if want := fmt.Sprintf("https://ui.test/scans/%d?findings=%d", rcv.bodies[0].ScanID, len(rcv.bodies[0].Findings)); rcv.bodies[0].Link != want {
		t.Fatalf("alert link %q, want %q", rcv.bodies[0].Link, want)
	}
}

func TestApprovingMakesTheChangePartOfTheBaseline(t *testing.T) {
	ctx := context.Background()
	m, sc, _, pages := setup(t)
	m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	res, _ := m.Check(ctx, pages)
	var ids []int64
	for _, f := range res.Findings() {
		ids = append(ids, f.ID)
	}
	if err := m.Resolve(ctx, ids, skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob"}); err == nil {
		t.Fatal("approving without a reason must fail")
	}
	if err := m.Resolve(ctx, ids, skimguard.Resolution{Status: skimguard.StatusApproved, By: "bob", Reason: "new CDN, ticket 7"}); err != nil {
		t.Fatal(err)
	}
	b, err := m.Store.Baseline(ctx, "shop", "checkout")
	if err != nil || b.Version != 2 {
		t.Fatalf("baseline after approval: %+v, %v", b, err)
	}
	res, _ = m.Check(ctx, pages)
	if len(res.Findings()) != 0 {
		t.Fatalf("approved change still reported: %+v", res.Findings())
	}
}

func TestAPageThatCannotBeScannedIsReported(t *testing.T) {
	ctx := context.Background()
	m, sc, rcv, pages := setup(t)
	m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.mu.Lock()
	sc.err["cart"] = errors.New("net::ERR_CONNECTION_REFUSED")
	sc.mu.Unlock()
	res, err := m.Check(ctx, pages)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages[1].Status != skimguard.CheckFailed || len(res.Findings()) != 1 || res.Findings()[0].Kind != skimguard.KindScanFailed {
		t.Fatalf("want the cart failed with one scan.failed finding: %+v %+v", res.Pages, res.Findings())
	}
	if rcv.count() != 0 {
		t.Fatalf("one failed scan is reported, not alerted (see TestAPageFailingInARowAlertsOnceThenOnceWhenItRecovers); alerts: %d", rcv.count())
	}
	scans, _ := m.Store.Scans(ctx, skimguard.ScanFilter{Page: "cart", Limit: 1})
	if len(scans) != 1 || scans[0].Status != skimguard.ScanFailed || scans[0].Error == "" {
		t.Fatalf("the failed scan must be stored with its error: %+v", scans)
	}
}

func TestLearnTakesNoBaselineWhenASampleFails(t *testing.T) {
	ctx := context.Background()
	m, sc, _, pages := setup(t)
	sc.err["cart"] = errors.New("HTTP 503")
	bs, err := m.Learn(ctx, pages, LearnOptions{Samples: 2, By: "alice", Reason: "onboarding"})
	if err == nil || len(bs) != 1 || bs[0].Page != "checkout" {
		t.Fatalf("want the checkout learnt and the cart refused: %v, %v", bs, err)
	}
	if _, err := m.Store.Baseline(ctx, "shop", "cart"); !errors.Is(err, skimguard.ErrNoBaseline) {
		t.Fatalf("cart must have no baseline: %v", err)
	}
}

func TestLearningAnUnchangedPageAgainChangesNothing(t *testing.T) {
	ctx := context.Background()
	m, _, _, pages := setup(t)
	if _, err := m.Learn(ctx, pages[:1], LearnOptions{Samples: 2, By: "alice", Reason: "onboarding"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Learn(ctx, pages[:1], LearnOptions{Samples: 2, By: "bob", Reason: "quarterly review"}); err != nil {
		t.Fatal(err)
	}
	bs, err := m.Store.BaselineVersions(ctx, "shop", "checkout")
	if err != nil || len(bs) != 2 {
		t.Fatalf("versions %d, %v; want 2", len(bs), err)
	}
	if bs[0].ApprovedBy != "bob" || bs[0].Reason != "quarterly review" {
		t.Errorf("version 2 is bob's approval: %s, %q", bs[0].ApprovedBy, bs[0].Reason)
	}
	if !reflect.DeepEqual(bs[0].Items, bs[1].Items) {
		t.Fatalf("version 2's items differ from version 1's:\n%+v\n%+v", bs[0].Items, bs[1].Items)
	}
}

// gated is a Scanner whose scans wait at a gate, so that a test can act
// while a check is under way.
type gated struct {
	Scanner
	entered chan struct{}
	release chan struct{}
}

func (g gated) Scan(ctx context.Context, p skimguard.Page) (*skimguard.Observation, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.Scanner.Scan(ctx, p)
}

func TestACheckUnderWayAlertsTheChannelsItStartedWith(t *testing.T) {
	ctx := context.Background()
	m, sc, before, pages := setup(t)
	m.Learn(ctx, pages[:1], LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	after := &receiver{}
	srv := httptest.NewServer(after)
	defer srv.Close()

	g := gated{Scanner: sc, entered: make(chan struct{}), release: make(chan struct{})}
	m.Scanner = g
	done := make(chan error, 1)
	go func() {
		_, err := m.Check(ctx, pages[:1])
		done <- err
	}()
	<-g.entered
	m.SetSinks([]alerts.Sink{&alerts.Webhook{URL: srv.URL, Secret: []byte("s3cret")}}) // a reload mid-check
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if before.count() != 1 || after.count() != 0 {
		t.Fatalf("the check must alert the channels it started with: old %d, new %d", before.count(), after.count())
	}
	sc.set("checkout", func() *skimguard.Observation {
		o := planted()
		o.Connections = append(o.Connections, skimguard.Connection{Origin: "https://other-cdn.pw", Types: []string{"Image"}, Count: 1})
		return o
	}())
	m.Scanner = sc
	if _, err := m.Check(ctx, pages[:1]); err != nil {
		t.Fatal(err)
	}
	if before.count() != 1 || after.count() != 1 {
		t.Fatalf("the next check must alert the new channels only: old %d, new %d", before.count(), after.count())
	}
}

func TestAJustificationTooLongToKeepIsRefusedAndNothingStored(t *testing.T) {
	ctx := context.Background()
	m, sc, _, pages := setup(t)
	m.Learn(ctx, pages, LearnOptions{Samples: 1, By: "alice", Reason: "onboarding"})
	sc.set("checkout", planted())
	res, _ := m.Check(ctx, pages)
	var ids []int64
	for _, f := range res.Findings() {
		ids = append(ids, f.ID)
	}
	before, _ := m.Store.Audit(ctx)
	err := m.Resolve(ctx, ids, skimguard.Resolution{Status: skimguard.StatusRejected, By: "bob", Reason: strings.Repeat("x", skimguard.MaxReason+1)})
	if !errors.Is(err, skimguard.ErrReasonTooLong) || !strings.Contains(err.Error(), "at most 2000") {
		t.Fatalf("Resolve = %v, want ErrReasonTooLong saying the limit", err)
	}
	open, _ := m.Store.Findings(ctx, skimguard.FindingFilter{IDs: ids, Status: skimguard.StatusOpen})
	after, _ := m.Store.Audit(ctx)
	if len(open) != len(ids) || len(after) != len(before) {
		t.Fatalf("the refused rejection changed something: %d of %d findings open, audit %d → %d entries", len(open), len(ids), len(before), len(after))
	}
}
