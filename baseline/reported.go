package baseline

import (
	"fmt"
	"strings"

	skimguard "github.com/skimguard/skimguard"
)

// What shoppers' browsers report is judged here by the rules of Compare,
// so that a finding they raise is the finding a check would raise and is
// approved or rejected the same way. A report carries less than an
// observation: a script's URL and hash, no text; a blocked destination's
// origin.

// JudgeReportedScript says what b makes of a script that a shopper's
// browser reported running in the page (the policy's 'report-sha256'):
// loaded from scriptURL, sum the hex SHA-256 of its text. The script is
// found as Compare keys it (volatile URL parts dropped), in the top
// document, where the page's policy applies:
//   - skimguard.VerdictApproved: sum is one of its approved texts;
//   - skimguard.VerdictVolatile: it is not, but volatile(i) says that
//     item i varies per load (see LearntByStructure): the baseline knows it
//     by structure, and a hash cannot tell a new version from a new load;
//   - skimguard.VerdictFinding: script.changed when b has a script at that
//     URL, else script.added. The finding's Item is what approval adds to
//     the baseline: the script's item with sum as another approved value
//     (its approved text and attributes kept), or a new item.
func JudgeReportedScript(b *skimguard.Baseline, scriptURL, sum string, volatile func(item int) bool) (skimguard.ReportVerdict, *skimguard.Finding) {
	sum = lowerASCII(strings.TrimPrefix(sum, skimguard.ScriptHashPrefix))
	value := skimguard.ScriptHash(sum)
	n := newURLNorm(baselineVolatile(b.Items), b.URL)
	key := string(skimguard.ScriptExternal) + " " + n.norm(scriptURL) + " in top"
	base := -1
	for i := range b.Items {
		it := &b.Items[i]
		if it.Type != skimguard.ItemScript || (it.Key != key && !strings.HasPrefix(it.Key, key+" (")) {
			continue
		}
		if hasValue(it.Values, value) {
			return skimguard.VerdictApproved, nil
		}
		if base < 0 {
			base = i
		}
		if volatile != nil && volatile(i) {
			return skimguard.VerdictVolatile, nil
		}
	}
	c := &comparer{b: b, ix: newIndex(b.Items), site: b.Site, page: b.Page}
	if base >= 0 {
		it := cloneItem(b.Items[base])
		// Only the reported hash is new; text, hash and SRI stay those of
		// the approved version, which no report can replace.
		it.Values = []string{value}
		it.Source, it.SHA256, it.SRI = "", "", ""
		versions := 0
		for _, v := range b.Items[base].Values {
			if skimguard.IsScriptHash(v) {
				versions++
			}
		}
		ev := skimguard.Evidence{After: value, URL: scriptURL}
		if sha := b.Items[base].SHA256; sha != "" {
			ev.Before = skimguard.ScriptHash(sha)
		}
		c.add(skimguard.KindScriptChanged, facts{}, scriptURL,
			fmt.Sprintf("body of %s changed: shoppers' browsers ran it with hash %s, which is not among its %d approved version(s)",
				scriptURL, shortHash(value), versions),
			ev, it, value)
		return skimguard.VerdictFinding, &c.out[0]
	}
	origin := urlOrigin(scriptURL)
	it := skimguard.Item{Type: skimguard.ItemScript, Key: key, Subject: scriptURL, Origin: origin, Values: []string{value},
		Attrs: map[string]string{skimguard.AttrKind: string(skimguard.ScriptExternal), skimguard.AttrFrame: "top"}}
	var f facts
	detail := fmt.Sprintf("script %s is not in the approved baseline: shoppers' browsers ran it (hash %s)", scriptURL, shortHash(value))
	if c.newHost(origin) {
		f.newOrigin = true
		detail += fmt.Sprintf("; its origin %s is new to this page (no approved script, frame, form, connection or card sink uses it)", origin)
	} else {
		detail += fmt.Sprintf("; its origin %s is already used by the page", origin)
	}
	c.add(skimguard.KindScriptAdded, f, scriptURL, detail, skimguard.Evidence{After: value, URL: scriptURL}, it, value)
	return skimguard.VerdictFinding, &c.out[0]
}

// JudgeReportedDestination says what b makes of a destination a
// shopper's browser was kept from sending to (or, under a Report-Only
// policy, warned about) under directive: blocked is the destination's
// origin, or a keyword ("inline", "eval") for code without a URL.
//   - skimguard.VerdictInformation: a keyword: blocked code is no
//     destination, and the report carries no hash to judge it by;
//   - skimguard.VerdictApproved: the page contacts that origin in the
//     approved baseline (the policy is older than the baseline);
//   - skimguard.VerdictFinding: connection.added, the finding a check
//     raises for a destination the page never contacted, and the same one
//     (same fingerprint) when a check sees it too.
func JudgeReportedDestination(b *skimguard.Baseline, blocked, directive string) (skimguard.ReportVerdict, *skimguard.Finding) {
	origin := strings.ToLower(blocked)
	if hostOf(origin) == "" {
		return skimguard.VerdictInformation, nil
	}
	c := &comparer{b: b, ix: newIndex(b.Items), site: b.Site, page: b.Page}
	if _, ok := c.ix.lookup(skimguard.ItemConnection, origin); ok {
		return skimguard.VerdictApproved, nil
	}
	it := skimguard.Item{Type: skimguard.ItemConnection, Key: origin, Subject: origin, Origin: origin, Values: []string{origin}}
	c.add(skimguard.KindConnectionAdded, facts{}, origin,
		fmt.Sprintf("shoppers' browsers reported the page sending to %s (%s), which it never contacted in the approved baseline", origin, directive),
		skimguard.Evidence{After: origin}, it, origin)
	return skimguard.VerdictFinding, &c.out[0]
}
