package web

import (
	"context"
	"errors"
	"strings"

	skimguard "github.com/skimguard/skimguard"
	"github.com/skimguard/skimguard/baseline"
)

// The crawler names what sent a request (Leak.Initiator,
// Connection.Initiators) and what brought a script in (Script.LoadedBy) by
// the URL of the script on top of the browser's stack, or "parser". Code
// without a URL of its own (inline scripts, handlers, eval) runs under its
// document's URL, so there the name is the page's. The scan's observation
// often knows which script that was; this file finds it, follows what
// loaded it, and marks each against the baseline the scan was compared
// with.

// scriptRef is one script of a scan, as a reviewer needs it named.
type scriptRef struct {
	Subject string `json:"subject"`
	// State is how the script stands against the baseline the scan was
	// compared with: approved, new, changed or attributes changed; ""
	// when the scan was not compared.
	State string `json:"state,omitempty"`
	// Finding is the open script.added or script.changed finding about
	// the script, 0 when there is none.
	Finding int64 `json:"finding,omitempty"`
	// LoadedBy names what brought the script in, as culprit names it.
	LoadedBy string `json:"loaded_by,omitempty"`
	// SeesCard is what of the card the scan saw the script listen to or
	// read (skimguard.CardAccessSummary), "" for nothing.
	SeesCard string `json:"sees_card,omitempty"`
	script   *skimguard.Script
}

// Mark is State as a CSS class.
func (r scriptRef) Mark() string { return strings.ReplaceAll(r.State, " ", "-") }

// culprit names the code behind a request or a script.
type culprit struct {
	// Initiator is what the crawler recorded: a script's URL, a
	// document's URL for code without its own, "parser" or "script".
	Initiator string `json:"initiator"`
	// Name is who did it, for people: the script's subject when the
	// observation pins it down, else what is known ("a script in
	// https://shop.example/checkout (inline)").
	Name string `json:"name"`
	// Chain is the script that did it, then what loaded it, and so on,
	// as far as the observation knows; empty when not pinned down.
	Chain []scriptRef `json:"chain,omitempty"`
	// Suspects is code that is not approved and may have done it: the
	// unapproved code without URL of the initiator's document when the
	// script is not pinned down, or the unapproved code the pinned-down
	// script compiled at run time.
	Suspects []scriptRef `json:"suspects,omitempty"`
}

// Root names what brought in the last script of the chain: the HTML
// parser, or a loader the observation does not pin down.
func (c culprit) Root() string {
	if len(c.Chain) == 0 {
		return ""
	}
	return c.Chain[len(c.Chain)-1].LoadedBy
}

// scanScripts answers, for one scan, which script a name stands for and
// how each stands against the baseline the scan was compared with.
type scanScripts struct {
	o *skimguard.Observation
	// states are baseline.Scripts of the observation, nil when the scan
	// was not compared or its baseline version is gone.
	states []baseline.ScriptMatch
	// open are the page's open findings, to link scripts to theirs.
	open []skimguard.Finding
}

// scanScripts reads the baseline version scan was compared with; open are
// the open findings of the scan's site.
func (s *Server) scanScripts(ctx context.Context, scan *skimguard.Scan, open []skimguard.Finding) (*scanScripts, error) {
	x := &scanScripts{o: scan.Observation}
	for _, f := range open {
		if f.Page == scan.Page {
			x.open = append(x.open, f)
		}
	}
	if scan.BaselineVersion == 0 || scan.Observation == nil {
		return x, nil
	}
	bs, err := s.store.BaselineVersions(ctx, scan.Site, scan.Page)
	if errors.Is(err, skimguard.ErrNoBaseline) {
		return x, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range bs {
		if bs[i].Version == scan.BaselineVersion {
			x.states = baseline.Scripts(&bs[i], scan.Observation)
		}
	}
	return x, nil
}

// ref describes script i.
func (x *scanScripts) ref(i int) scriptRef {
	sc := &x.o.Scripts[i]
	r := scriptRef{Subject: sc.Subject(), script: sc}
	if x.states == nil {
		return r
	}
	m := x.states[i]
	r.State = m.State.String()
	if m.State != baseline.ScriptNew && m.State != baseline.ScriptChanged {
		return r
	}
	// By the text first: several open findings can be about one item (its
	// text changed twice), and only one is about the text this scan saw.
	for _, byText := range []bool{true, false} {
		for _, f := range x.open {
			if f.Kind != skimguard.KindScriptAdded && f.Kind != skimguard.KindScriptChanged {
				continue
			}
			if (byText && f.Evidence.After == skimguard.ScriptHash(sc.SHA256)) || (!byText && f.Item.Key == m.Key) {
				r.Finding = f.ID
				return r
			}
		}
	}
	return r
}

// refs describes every script of the scan, each with its loader named.
func (x *scanScripts) refs() []scriptRef {
	out := make([]scriptRef, len(x.o.Scripts))
	sees := map[int][]skimguard.CardAccessValue{}
	for _, a := range x.o.CardAccess {
		sees[a.Script] = append(sees[a.Script], skimguard.CardAccessValue{Field: string(a.Field), How: a.How})
	}
	for i := range x.o.Scripts {
		out[i] = x.ref(i)
		if lb := x.o.Scripts[i].LoadedBy; lb != "" {
			_, out[i].LoadedBy, _ = x.find(lb, i)
		}
		out[i].SeesCard = skimguard.CardAccessSummary(sees[i])
	}
	return out
}

// approved reports whether script i is known to run approved code.
func (x *scanScripts) approved(i int) bool {
	return x.states != nil && (x.states[i].State == baseline.ScriptApproved || x.states[i].State == baseline.ScriptAttributesChanged)
}

// find returns the script a name stands for, -1 when the observation does
// not pin it down, with a name for people and, then, the code that may be
// meant. skip is a script that cannot be meant (the one being loaded), -1
// for none.
func (x *scanScripts) find(name string, skip int) (int, string, []int) {
	switch name {
	case "":
		return -1, "a script the browser did not name", nil
	case "parser":
		return -1, "the page's HTML", nil
	case "script":
		return -1, "a script without a URL", nil
	}
	for i, sc := range x.o.Scripts {
		if sc.URL == name && i != skip {
			return i, sc.Subject(), nil
		}
	}
	// Code without a URL of its own runs under its document's URL.
	var inDoc, unapproved []int
	for i, sc := range x.o.Scripts {
		if sc.URL == "" && sameDoc(sc.Frame, name) && i != skip {
			inDoc = append(inDoc, i)
			if !x.approved(i) {
				unapproved = append(unapproved, i)
			}
		}
	}
	switch {
	case len(inDoc) == 1:
		return inDoc[0], x.o.Scripts[inDoc[0]].Subject(), nil
	case x.states != nil && len(unapproved) == 1:
		// The only code there that is not approved: approved code did not
		// start sending card data by itself.
		return unapproved[0], x.o.Scripts[unapproved[0]].Subject(), nil
	case len(inDoc) == 0:
		return -1, name, nil
	case len(unapproved) > 0:
		return -1, "a script in " + name + " (inline)", unapproved
	}
	return -1, "a script in " + name + " (inline)", inDoc
}

// chainCulprit names the code behind a request that initiator (the
// script on top of its stack) sent, with the request's call chain: the
// script skimguard.Culprit picks on it, judged against the baseline the
// scan was compared with, so that a skimmer sending through the page's
// own wrapper is named rather than the wrapper.
func (x *scanScripts) chainCulprit(initiator string, chain []skimguard.CallSite) culprit {
	var unapproved func(int) bool
	if x.states != nil {
		unapproved = func(i int) bool { return i >= 0 && i < len(x.o.Scripts) && !x.approved(i) }
	}
	k := skimguard.Culprit(chain, unapproved)
	if k < 0 || chain[k].Script < 0 || chain[k].Script >= len(x.o.Scripts) {
		return x.culprit(initiator)
	}
	i := chain[k].Script
	return x.culpritAt(culprit{Initiator: initiator, Name: x.o.Scripts[i].Subject()}, i, chain[k].URL)
}

// culprit names the code behind initiator.
func (x *scanScripts) culprit(initiator string) culprit {
	i, name, suspects := x.find(initiator, -1)
	c := culprit{Initiator: initiator, Name: name}
	for _, j := range suspects {
		c.Suspects = append(c.Suspects, x.ref(j))
	}
	if i < 0 {
		return c
	}
	return x.culpritAt(c, i, initiator)
}

// culpritAt completes c, which names script i: the chain of what loaded
// it, and the unapproved code an approved script compiled; by is the name
// the browser gives script i's code (its URL, or its document's).
func (x *scanScripts) culpritAt(c culprit, i int, by string) culprit {
	seen := map[int]bool{}
	// Loaders loop only in a hostile or broken observation; the bound
	// keeps the page finite anyway.
	for cur := i; cur >= 0 && !seen[cur] && len(c.Chain) < 16; {
		seen[cur] = true
		next, loader, _ := x.find(x.o.Scripts[cur].LoadedBy, cur)
		r := x.ref(cur)
		r.LoadedBy = loader
		c.Chain = append(c.Chain, r)
		cur = next
	}
	// An approved script that compiles code at run time (a tag manager)
	// can run a skimmer it was given: the code it compiled that is not
	// approved is suspect.
	if x.approved(i) {
		for j, sc := range x.o.Scripts {
			if sc.Kind == skimguard.ScriptDynamic && sc.LoadedBy == by && !x.approved(j) {
				c.Suspects = append(c.Suspects, x.ref(j))
			}
		}
	}
	return c
}

// senders returns the scripts the culprits name, with their texts
// readable: each culprit's script, or its suspects.
func senders(cs []culprit) []skimguard.Script {
	var out []skimguard.Script
	seen := map[*skimguard.Script]bool{}
	for _, c := range cs {
		refs := c.Suspects
		if len(c.Chain) > 0 {
			refs = append(c.Chain[:1:1], c.Suspects...)
		}
		for _, r := range refs {
			if !seen[r.script] {
				seen[r.script] = true
				sc := *r.script
				sc.Source = readable(sc.Source)
				out = append(out, sc)
			}
		}
	}
	return out
}

// sameDoc reports whether two URLs name the same document: fragments
// (which single-page checkouts move around) aside.
func sameDoc(a, b string) bool {
	a, _, _ = strings.Cut(a, "#")
	b, _, _ = strings.Cut(b, "#")
	return a == b
}
