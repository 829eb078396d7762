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
