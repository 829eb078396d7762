package lockfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

func baselines() []skimguard.Baseline {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	item := func(t skimguard.ItemType, key string, values ...string) skimguard.Item {
		return skimguard.Item{Type: t, Key: key, Subject: key, Values: values, FirstSeen: at, ApprovedBy: "alice", Reason: "onboarding", ApprovedAt: at}
	}
	return []skimguard.Baseline{
		{Site: "shop", Page: "checkout", URL: "https://shop.test/checkout", Version: 3, Samples: 3, ApprovedBy: "alice", Reason: "onboarding", CreatedAt: at,
			Items: []skimguard.Item{
				item(skimguard.ItemScript, "external https://shop.test/app.js in top", "sha256:bb", "fp:aa"),
				item(skimguard.ItemConnection, "https://cdn.test", "https://cdn.test"),
				item(skimguard.ItemHeader, "content-security-policy", "default-src 'self'"),
			}},
		{Site: "blog", Page: "donate", URL: "https://blog.test/donate", Version: 1, Samples: 3, ApprovedBy: "bob", Reason: "r", CreatedAt: at,
			Items: []skimguard.Item{item(skimguard.ItemScript, "inline #1 in top", "sha256:cc")}},
	}
}

func TestWriteIsSortedStableAndOneItemPerLine(t *testing.T) {
	var a, b bytes.Buffer
	if err := FromBaselines(baselines()).Write(&a); err != nil {
		t.Fatal(err)
	}
	reversed := baselines()
	reversed[0], reversed[1] = reversed[1], reversed[0]
	reversed[1].Items[0], reversed[1].Items[2] = reversed[1].Items[2], reversed[1].Items[0]
	FromBaselines(reversed).Write(&b)
	if a.String() != b.String() {
		t.Fatalf("the same baselines in another order wrote different files:\n%s\n%s", a.String(), b.String())
	}
	if !json.Valid(a.Bytes()) {
		t.Fatalf("not JSON:\n%s", a.String())
	}
	out := a.String()
	if strings.Index(out, `"site":"blog"`) > strings.Index(out, `"site":"shop"`) {
		t.Error("pages are not sorted by site")
	}
	shop := out[strings.Index(out, `"site":"shop"`):]
	if strings.Index(shop, `"type":"connection"`) > strings.Index(shop, `"type":"script"`) {
		t.Error("items are not sorted by type")
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"type":`) && (strings.Count(line, `"type":`) != 1 || !strings.HasSuffix(strings.TrimSuffix(line, ","), "}")) {
			t.Errorf("an item is not alone on its line: %q", line)
		}
	}
}

func TestReadGivesBackWhatWasWritten(t *testing.T) {
	var buf bytes.Buffer
	FromBaselines(baselines()).Write(&buf)
	f, err := Read("skimguard.lock.json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	want := FromBaselines(baselines()).Baselines()
	if got := f.Baselines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestReadSaysWhatIsWrong(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"not JSON", "{", "not valid JSON"},
		{"unknown field", `{"version":1,"pages":[],"extra":1}`, "unknown field"},
		{"newer format", `{"version":2,"pages":[]}`, "format version 2"},
		{"page without a name", `{"version":1,"pages":[{"site":"s"}]}`, "no site or page name"},
		{"page twice", `{"version":1,"pages":[{"site":"s","page":"p"},{"site":"s","page":"p"}]}`, "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read("x.lock.json", strings.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.lock.json") {
				t.Fatalf("Read: %v, want an error naming the file and saying %q", err, tc.want)
			}
		})
	}
}

func TestStoreServesTheFileAndRefusesChanges(t *testing.T) {
	ctx := context.Background()
	s := NewStore(FromBaselines(baselines()))
	b, err := s.Baseline(ctx, "shop", "checkout")
	if err != nil || b.Version != 3 || len(b.Items) != 3 {
		t.Fatalf("Baseline: %+v, %v", b, err)
	}
	if _, err := s.Baseline(ctx, "shop", "cart"); !errors.Is(err, skimguard.ErrNoBaseline) {
		t.Fatalf("a page not in the file: %v", err)
	}
	scan := &skimguard.Scan{Site: "shop", Page: "checkout", Findings: []skimguard.Finding{{Kind: skimguard.KindScriptAdded}}}
	if err := s.SaveScan(ctx, scan); err != nil || scan.ID == 0 || scan.Findings[0].ID == 0 {
		t.Fatalf("SaveScan: %v %+v", err, scan)
	}
	if fs, _ := s.Findings(ctx, skimguard.FindingFilter{Status: skimguard.StatusOpen}); len(fs) != 1 {
		t.Fatalf("findings kept in memory: %+v", fs)
	}
	if err := s.SaveBaseline(ctx, b); err == nil {
		t.Fatal("a lock file store must not take new baselines")
	}
}

func TestStoreScanVersionsAndUsers(t *testing.T) {
	t.Run("Scan returns a scan of this process with its findings", func(t *testing.T) {
		s := NewStore(FromBaselines(baselines()))
		at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		s1 := &skimguard.Scan{Site: "shop", Page: "checkout", StartedAt: at, Status: skimguard.ScanFindings,
			Observation: &skimguard.Observation{Site: "shop", Page: "checkout"},
			Findings:    []skimguard.Finding{{Kind: skimguard.KindScriptAdded, Subject: "a"}, {Kind: skimguard.KindScriptAdded, Subject: "b"}}}
		s2 := &skimguard.Scan{Site: "blog", Page: "donate", StartedAt: at, Status: skimguard.ScanFindings,
			Findings: []skimguard.Finding{{Kind: skimguard.KindScriptAdded, Subject: "c"}}}
		for _, sc := range []*skimguard.Scan{s1, s2} {
			if err := s.SaveScan(t.Context(), sc); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Scan(t.Context(), s1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != s1.ID || got.Site != "shop" || !got.StartedAt.Equal(at) || got.Observation != nil {
			t.Errorf("Scan = %+v, want the scan without its observation", got)
		}
		if !reflect.DeepEqual(got.Findings, s1.Findings) {
			t.Errorf("findings = %+v, want %+v", got.Findings, s1.Findings)
		}
		if _, err := s.Scan(t.Context(), s2.ID+100); !errors.Is(err, skimguard.ErrNotFound) {
			t.Errorf("Scan of an unknown id = %v, want ErrNotFound", err)
		}
	})

	t.Run("BaselineVersions is the file's one version", func(t *testing.T) {
		s := NewStore(FromBaselines(baselines()))
		vs, err := s.BaselineVersions(t.Context(), "shop", "checkout")
		if err != nil || len(vs) != 1 || vs[0].Version != 3 || len(vs[0].Items) != 3 {
			t.Errorf("BaselineVersions = %+v, %v; want version 3 with its items", vs, err)
		}
		if _, err := s.BaselineVersions(t.Context(), "shop", "cart"); !errors.Is(err, skimguard.ErrNoBaseline) {
			t.Errorf("BaselineVersions of a page not in the file = %v, want ErrNoBaseline", err)
		}
	})

	t.Run("deliveries are kept and selected by finding and sink", func(t *testing.T) {
		s := NewStore(FromBaselines(baselines()))
		for _, d := range []skimguard.Delivery{
			{Sink: "webhook a", Site: "shop", Page: "checkout", Findings: []int64{1, 2}, OK: true},
			{Sink: "webhook b", Site: "shop", Page: "checkout", Findings: []int64{2}},
			{Sink: "webhook a", Site: "shop", Page: "checkout", Findings: []int64{3}},
		} {
			if err := s.SaveDelivery(t.Context(), &d); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Deliveries(t.Context(), skimguard.DeliveryFilter{Findings: []int64{2, 3}, Sinks: []string{"webhook a"}})
		if err != nil || len(got) != 2 || got[0].Findings[0] != 1 || got[1].Findings[0] != 3 {
			t.Errorf("Deliveries of findings 2 or 3 to webhook a = %+v, %v", got, err)
		}
	})

	t.Run("there are no users and none can be added or removed", func(t *testing.T) {
		s := NewStore(FromBaselines(baselines()))
		if err := s.SaveUser(t.Context(), &skimguard.User{Name: "alice", PasswordHash: []byte("h")}, "admin"); !errors.Is(err, errReadOnly) {
			t.Errorf("SaveUser = %v, want the read-only refusal", err)
		}
		if err := s.DeleteUser(t.Context(), "alice", "admin"); !errors.Is(err, errReadOnly) {
			t.Errorf("DeleteUser = %v, want the read-only refusal", err)
		}
		if err := s.SetUserRole(t.Context(), "alice", skimguard.RoleAdmin, "admin"); !errors.Is(err, errReadOnly) {
			t.Errorf("SetUserRole = %v, want the read-only refusal", err)
		}
		if err := s.AppendAudit(t.Context(), skimguard.AuditEntry{Action: "signin.failed"}); !errors.Is(err, errReadOnly) {
			t.Errorf("AppendAudit = %v, want the read-only refusal", err)
		}
		if _, err := s.User(t.Context(), "alice"); !errors.Is(err, skimguard.ErrNotFound) {
			t.Errorf("User = %v, want ErrNotFound", err)
		}
		if us, err := s.Users(t.Context()); err != nil || len(us) != 0 {
			t.Errorf("Users = %+v, %v; want none", us, err)
		}
	})
}
