package main

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/skimguard/skimguard/baseline"
	"github.com/skimguard/skimguard/sqlite"
)

// The demo shop varies on every load (nonces, tokens, cache busters, build
// stamps in script texts): learning it again must still change nothing.
func TestBaselineAgainOnTheUnchangedShopChangesNothing(t *testing.T) {
	shop := startShop(t)
	dir := t.TempDir()
	base := []string{"--config", writeConfig(t, dir, shop.CheckoutURL()), "--db", filepath.Join(dir, "sg.db")}
	for _, args := range [][]string{{"--by", "alice", "--reason", "onboarding"}, {"--by", "bob", "--reason", "quarterly review"}} {
		code, out, errOut := cli(t, append(append([]string{"baseline", "--samples", "3"}, args...), base...)...)
		if code != exitOK {
			t.Fatalf("baseline %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	store, err := sqlite.Open(context.Background(), base[3])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	bs, err := store.BaselineVersions(context.Background(), "shop", "checkout")
	if err != nil || len(bs) != 2 {
		t.Fatalf("versions %d, %v; want 2", len(bs), err)
	}
	if added, removed, changed := baseline.Diff(bs[1].Items, bs[0].Items); len(added)+len(removed)+len(changed) != 0 {
		t.Fatalf("version 2 of the unchanged shop: added %v, removed %v, changed %v", added, removed, changed)
	}
	for i := range bs[0].Items {
		if now, was := bs[0].Items[i], bs[1].Items[i]; !reflect.DeepEqual(now, was) {
			t.Errorf("%s %s changed:\nversion 1 %+v\nversion 2 %+v", was.Type, was.Key, was, now)
		}
	}
}
