package baseline

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// Compare returns the findings of o against b (ID 0, Status open), most
// severe first. An unchanged page gives none. A nil baseline or
// observation gives none: whether a page has a baseline is the caller's
// question.
//
// Each item type's comparison sits in its own file (compare_script.go,
// compare_frame.go...); severity.go decides every finding's severity.
func Compare(b *skimguard.Baseline, o *skimguard.Observation) []skimguard.Finding {
	if b == nil || o == nil {
		return nil
	}
	n := newURLNorm(baselineVolatile(b.Items), o.FinalURL, o.URL)
	c := &comparer{b: b, o: o, ix: newIndex(b.Items), site: o.Site, page: o.Page}
	if c.site == "" {
		c.site = b.Site
	}
	if c.page == "" {
		c.page = b.Page
	}
	snap := takeSnapshot(o, n)
	c.scripts = snap.scripts
	c.res = matchAll(c.ix, snap)
	for _, r := range c.res {
		c.report(r)
	}
	sortFindings(c.out)
	return c.out
}

// baselineVolatile collects the query parameters learnt to vary on the
// page, recorded on the baseline's items.
func baselineVolatile(items []skimguard.Item) map[string]bool {
	var m map[string]bool
	for i := range items {
		v := items[i].Attrs[skimguard.AttrVolatile]
		if v == "" {
			continue
		}
		if m == nil {
			m = map[string]bool{}
		}
		for _, p := range strings.Split(v, ",") {
			m[p] = true
		}
	}
	return m
}

type comparer struct {
	b          *skimguard.Baseline
	o          *skimguard.Observation
	ix         *index
	site, page string
	known      map[string]bool // hosts the approved page already uses
	// res are the results being reported; scriptOut is how each observed
	// script matched, made from them when a finding needs it.
	res       []result
	scripts   []*entry // the observed scripts, as o.Scripts
	scriptOut map[*entry]outcome
	out       []skimguard.Finding
}

// scriptOutcome is how observed script e matched the baseline.
func (c *comparer) scriptOutcome(e *entry) outcome {
	if c.scriptOut == nil {
		c.scriptOut = map[*entry]outcome{}
		for _, r := range c.res {
			if r.obs != nil && r.obs.script != nil {
				c.scriptOut[r.obs] = r.out
			}
		}
	}
	return c.scriptOut[e]
}

// unapproved reports whether o.Scripts[i] is not approved: new, or its
// text changed.
func (c *comparer) unapproved(i int) bool {
	if i < 0 || i >= len(c.scripts) {
		return false
	}
	out := c.scriptOutcome(c.scripts[i])
	return out == added || out == changed
}

// sender names the code behind a request for people, from its call chain
// (skimguard.Culprit: an unapproved script below the page's own wrapper
// is named, not the wrapper), else initiator; with the chain as text,
// "" when it names one script or none.
func (c *comparer) sender(chain []skimguard.CallSite, initiator string) (string, string) {
	name := func(cs skimguard.CallSite) string {
		if cs.Script >= 0 && cs.Script < len(c.o.Scripts) {
			if sc := &c.o.Scripts[cs.Script]; sc.URL == "" {
				return string(sc.Kind) + " #" + strconv.Itoa(sc.Ordinal) + " at " + cs.URL + ":" + strconv.Itoa(cs.Line)
			}
		}
		return cs.URL + ":" + strconv.Itoa(cs.Line)
	}
	i := skimguard.Culprit(chain, c.unapproved)
	if i < 0 {
		return initiator, ""
	}
	culprit := chain[i]
	who := culprit.URL
	if culprit.Script >= 0 && culprit.Script < len(c.o.Scripts) && c.o.Scripts[culprit.Script].URL == "" {
		who = c.o.Scripts[culprit.Script].Subject()
	}
	if len(chain) < 2 {
		return who, ""
	}
	names := make([]string, len(chain))
	for j, cs := range chain {
		names[j] = name(cs)
	}
	return who, strings.Join(names, " < ")
}

// report turns one matching result into findings, by item type.
func (c *comparer) report(r result) {
	var t skimguard.ItemType
	if r.obs != nil {
		t = r.obs.item.Type
	} else {
		t = c.ix.items[r.base].Type
	}
	switch t {
	case skimguard.ItemScript:
		c.script(r)
	case skimguard.ItemFrame:
		c.frame(r)
	case skimguard.ItemForm:
		c.form(r)
	case skimguard.ItemConnection:
		c.connection(r)
	case skimguard.ItemHeader:
		c.header(r)
	case skimguard.ItemRedirect:
		c.redirect(r)
	case skimguard.ItemCardSink:
		c.sink(r)
	case skimguard.ItemCardAccess:
		c.cardAccess(r)
	}
}

// add records a finding; its severity comes from severity(kind, f). value
// is the observed state that, with the item's key, tells this change
// apart from another change to the same item.
func (c *comparer) add(kind skimguard.Kind, f facts, subject, detail string, ev skimguard.Evidence, it skimguard.Item, value string) {
	sum := sha256.Sum256([]byte(c.site + "\x00" + c.page + "\x00" + string(kind) + "\x00" + it.Key + "\x00" + value))
	c.out = append(c.out, skimguard.Finding{
		Kind: kind, Severity: severity(kind, f), Site: c.site, Page: c.page,
		Subject: subject, Detail: detail, Evidence: ev, Item: it,
		Fingerprint: hex.EncodeToString(sum[:16]),
		Status:      skimguard.StatusOpen,
	})
}

// newHost reports whether origin's host is used by nothing in the approved
// baseline (no script, frame, form action, connection, card sink or the
// page itself). Non-network origins (data:, blob:, about:) are never new.
func (c *comparer) newHost(origin string) bool {
	h := hostOf(origin)
	if h == "" {
		return false
	}
	if c.known == nil {
		c.known = map[string]bool{hostOf(skimguard.Origin(c.b.URL)): true}
		for i := range c.ix.items {
			it := &c.ix.items[i]
			c.known[hostOf(it.Origin)] = true
			if it.Type == skimguard.ItemConnection || it.Type == skimguard.ItemCardSink {
				c.known[hostOf(it.Key)] = true
			}
		}
	}
	return !c.known[h]
}

func hostOf(origin string) string {
	i := strings.Index(origin, "//")
	if i < 0 {
		return ""
	}
	return strings.ToLower(origin[i+2:])
}

func (c *comparer) newHosts(origins []string) (fresh []string) {
	for _, o := range origins {
		if c.newHost(o) {
			fresh = append(fresh, o)
		}
	}
	return fresh
}

// cardDoc reports whether the baseline had card inputs in document doc.
func (c *comparer) cardDoc(doc string) bool {
	for i := range c.ix.items {
		it := &c.ix.items[i]
		if it.Type != skimguard.ItemForm || it.Attrs[skimguard.AttrFrame] != doc {
			continue
		}
		for _, v := range it.Values {
			if len(skimguard.ParseFormValue(v).Fields) > 0 {
				return true
			}
		}
	}
	return false
}

func urlIfAny(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return ""
}

// sortFindings orders findings most severe first, then by the report
// order of kinds, subject and fingerprint, so output is deterministic.
func sortFindings(fs []skimguard.Finding) {
	slices.SortStableFunc(fs, func(a, b skimguard.Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(a.Kind.Order(), b.Kind.Order()),
			cmp.Compare(a.Subject, b.Subject),
			cmp.Compare(a.Fingerprint, b.Fingerprint),
		)
	})
}
