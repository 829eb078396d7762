// Package lockfile writes approved baselines as a stable, reviewable JSON
// file (skimguard.lock.json) and reads them back, so that baselines can live
// in a repository beside the code they describe and a CI job can check a
// deployment against them without a database.
//
// The file is sorted and holds one item per line, so that a change to a
// page shows as a small diff in a pull request. Script texts are not kept:
// hashes and structural fingerprints are what a check compares.
package lockfile

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	skimguard "github.com/skimguard/skimguard"
)

// Version is the lock file format this package writes and reads.
const Version = 1

// File is a lock file: the approved baselines of some pages.
type File struct {
	Version int    `json:"version"`
	Pages   []Page `json:"pages"`
}

// Page is one page's approved baseline.
type Page struct {
	Site            string    `json:"site"`
	Page            string    `json:"page"`
	URL             string    `json:"url"`
	BaselineVersion int       `json:"baseline_version"`
	Samples         int       `json:"samples"`
	ApprovedBy      string    `json:"approved_by"`
	Reason          string    `json:"reason"`
	CreatedAt       time.Time `json:"created_at"`
	// Items is written by Write one per line, after the page's other fields;
	// their Source is left out (it is omitted from JSON when empty).
	Items []skimguard.Item `json:"items,omitempty"`
}

// FromBaselines makes a lock file of baselines, sorted by site, page, item
// type and key.
func FromBaselines(bs []skimguard.Baseline) *File {
	f := &File{Version: Version, Pages: []Page{}}
	for _, b := range bs {
		p := Page{Site: b.Site, Page: b.Page, URL: b.URL, BaselineVersion: b.Version, Samples: b.Samples,
			ApprovedBy: b.ApprovedBy, Reason: b.Reason, CreatedAt: b.CreatedAt.UTC(), Items: []skimguard.Item{}}
		for _, it := range b.Items {
			it.Values = slices.Compact(slices.Sorted(slices.Values(it.Values)))
			it.Source = ""
			it.FirstSeen, it.ApprovedAt = it.FirstSeen.UTC(), it.ApprovedAt.UTC()
			p.Items = append(p.Items, it)
		}
		slices.SortFunc(p.Items, func(a, b skimguard.Item) int { return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Key, b.Key)) })
		f.Pages = append(f.Pages, p)
	}
	slices.SortFunc(f.Pages, func(a, b Page) int { return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Page, b.Page)) })
	return f
}

// Baselines returns the file's pages as baselines.
func (f *File) Baselines() []skimguard.Baseline {
	var bs []skimguard.Baseline
	for _, p := range f.Pages {
		b := skimguard.Baseline{Site: p.Site, Page: p.Page, URL: p.URL, Version: p.BaselineVersion, Samples: p.Samples,
			ApprovedBy: p.ApprovedBy, Reason: p.Reason, CreatedAt: p.CreatedAt}
		for _, it := range p.Items {
			it.Values = slices.Clone(it.Values)
			b.Items = append(b.Items, it)
		}
		bs = append(bs, b)
	}
	return bs
}

// Write writes f: the file's frame indented, each item on one line.
func (f *File) Write(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"version\": %d,\n  \"pages\": [", f.Version)
	for i, p := range f.Pages {
		head := p
		head.Items = nil
		hb, err := marshal(head)
		if err != nil {
			return fmt.Errorf("lock file: %w", err)
		}
		// The page's fields (Items omitted when nil), then its items one
		// per line.
		hb = bytes.TrimSuffix(hb, []byte("}"))
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s\n    %s,\n     \"items\": [", sep, hb)
		for j, it := range p.Items {
			ib, err := marshal(it)
			if err != nil {
				return fmt.Errorf("lock file: %w", err)
			}
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("\n      ")
			b.Write(ib)
		}
		b.WriteString("\n    ]}")
	}
	b.WriteString("\n  ]\n}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// marshal is json.Marshal without HTML escaping: keys such as
// "top > https://..." stay readable in a review.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Read reads a lock file; name is used in errors.
func Read(name string, r io.Reader) (*File, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("lock file %s: not valid JSON at byte %d: %v; regenerate it with `skimguard baseline export`", name, syn.Offset, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("lock file %s: not valid JSON: it ends too soon (truncated?); regenerate it with `skimguard baseline export`", name)
		}
		return nil, fmt.Errorf("lock file %s: %w; regenerate it with `skimguard baseline export`", name, err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("lock file %s: format version %d, this skimguard reads version %d", name, f.Version, Version)
	}
	seen := map[[2]string]bool{}
	for i, p := range f.Pages {
		if p.Site == "" || p.Page == "" {
			return nil, fmt.Errorf("lock file %s: page %d has no site or page name", name, i+1)
		}
		if seen[[2]string{p.Site, p.Page}] {
			return nil, fmt.Errorf("lock file %s: %s/%s appears twice", name, p.Site, p.Page)
		}
		seen[[2]string{p.Site, p.Page}] = true
	}
	return &f, nil
}
