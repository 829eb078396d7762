package lockfile

import (
	"bytes"
	"flag"
	"os"
	"testing"

	skimguard "github.com/skimguard/skimguard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestWriteMatchesGolden pins the lock file's bytes: files committed to
// users' repositories must keep reading and diffing the same.
func TestWriteMatchesGolden(t *testing.T) {
	bs := baselines()
	it := bs[0].Items[0]
	it.Origin = "https://shop.test"
	it.SHA256, it.SRI, it.Source = "bb", "sha384-x", "app()"
	it.Attrs = map[string]string{"kind": "external", "frame": "top", "loaded_by": "parser",
		"integrity": "(none) | sha384-x", "crossorigin": "anonymous", "volatile_query": "cb,v"}
	bs[0].Items[0] = it
	bs[0].Items = append(bs[0].Items,
		skimguard.Item{Type: skimguard.ItemFrame, Key: "top > https://pay.test/f.html", Subject: "https://pay.test/f.html?s=1", Origin: "https://pay.test",
			Values: []string{"origin=https://pay.test|sandbox=allow-scripts|hidden=false"}, Optional: true,
			Attrs: map[string]string{"parent": "top", "doc": "https://pay.test/f.html", "name": "card"}},
		skimguard.Item{Type: skimguard.ItemForm, Key: "form#pay in top", Subject: "https://shop.test/pay",
			Values: []string{"action=https://shop.test/pay|method=POST|fields=cvc,number"}, Attrs: map[string]string{"frame": "top"}},
		skimguard.Item{Type: skimguard.ItemRedirect, Key: "main document", Subject: "https://shop.test/checkout",
			Values: []string{"final=https://shop.test/checkout|chain=http://shop.test/checkout"}},
	)
	var buf bytes.Buffer
	if err := FromBaselines(bs).Write(&buf); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/lock.golden.json"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("lock file differs from %s:\n%s", golden, buf.String())
	}
	f, err := Read(golden, bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := f.Write(&again); err != nil || !bytes.Equal(again.Bytes(), want) {
		t.Fatalf("read and written again, the file changed (%v):\n%s", err, again.String())
	}
}
