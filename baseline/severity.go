package baseline

import skimguard "github.com/skimguard/skimguard"

// facts are what a finding's severity depends on besides its kind. Each
// comparison sets those that apply to its kind; the rest stay false.
type facts struct {
	// newOrigin: script.added from an origin no approved item uses, or,
	// for code without a URL, whose text names one; script.changed whose
	// new text names one.
	newOrigin bool
	// originChanged: frame.changed to another origin, form.changed whose
	// action posts to another origin, page.redirected to another origin.
	originChanged bool
	// becameHidden: frame.changed from shown to hidden.
	becameHidden bool
	// cardInputs: form.added asking for card data.
	cardInputs bool
	// cardInputsInTop: form.added or form.changed asking for card data in
	// the top document, where the baseline takes none.
	cardInputsInTop bool
	// afterTyping: connection.added with a request after the test card was
	// typed.
	afterTyping bool
	// integrityOnlyAdded: script.attributes_changed where the only change
	// is a new integrity attribute.
	integrityOnlyAdded bool
	// weakerCSP: header.changed to a policy that allows more than every
	// approved one.
	weakerCSP bool
	// reportOnly: the header is Content-Security-Policy-Report-Only.
	reportOnly bool
	// heldCardFields: frame.removed whose document held the baseline's card
	// inputs.
	heldCardFields bool
}

// severity decides how severe a finding of kind is, given the facts:
//
//   - data.exfiltration: critical. Card data reaching an origin that never
//     received it is the theft itself, whatever code caused it.
//   - script.added: high; critical when the script comes from (or, without
//     a URL, names) an origin new to the page. New code on a payment page is
//     how every skimmer starts, and a never-seen origin (jquery-cdn.pw) is
//     the Magecart signature.
//   - script.changed: high; critical when the new text names an origin new
//     to the page. Appending to an approved file (British Airways) keeps the
//     URL; the body is what runs.
//   - script.attributes_changed: medium when integrity is dropped or
//     changed or crossorigin changes (it disarms Subresource Integrity, the
//     browser's own tamper check, but the code that ran is still approved);
//     low when integrity is added (stricter, still an inventory change).
//   - frame.added: high (a new frame can collect or carry card data);
//     frame.changed: critical when its origin changes (a lookalike of the
//     provider's iframe), high when it becomes hidden (the real iframe
//     hidden under a fake form), else medium.
//   - form.added: critical for card inputs in the top document where the
//     baseline had none there (a fake card form next to the provider's
//     iframe); high for other card forms; medium without card inputs.
//     form.changed: critical when the action's origin changes (form
//     jacking) or the top document gains card inputs; else medium.
//   - card.access_added: high. A script that starts listening to card
//     fields or reading them can take card data without sending anything
//     a monitor recognises (encrypted, or only on a real submit); it is
//     not critical by itself, since nothing is shown to have left.
//   - connection.added: medium (pages gain analytics endpoints often), high
//     when the request went out after the card was typed.
//   - header.removed: high (CSP, HSTS, X-Frame-Options... are what stop
//     injected code from running or data from leaving), medium for
//     Content-Security-Policy-Report-Only (it never blocked anything).
//     header.changed: high when Content-Security-Policy allows more than
//     before (not Report-Only, for the same reason), else medium.
//     header.added: low (stricter, still a change to approve).
//   - page.redirected: high; critical when the final origin changes (a fake
//     "payment failed, retry" page elsewhere).
//   - *.removed: low, and script.removed too: code that no longer runs
//     cannot take card data. It is still reported, since 11.6.1 asks for
//     deletions and a missing anti-fraud script matters. A removed iframe
//     that held the baseline's card fields is medium: card entry has moved
//     somewhere.
//   - kinds Compare does not make (scan.failed is the monitor's): high, so
//     that a kind this switch misses is not ranked low by mistake.
func severity(kind skimguard.Kind, f facts) skimguard.Severity {
	switch kind {
	case skimguard.KindDataExfiltration:
		return skimguard.SeverityCritical
	case skimguard.KindScriptAdded, skimguard.KindScriptChanged:
		if f.newOrigin {
			return skimguard.SeverityCritical
		}
		return skimguard.SeverityHigh
	case skimguard.KindScriptAttributesChanged:
		if f.integrityOnlyAdded {
			return skimguard.SeverityLow
		}
		return skimguard.SeverityMedium
	case skimguard.KindFrameAdded:
		return skimguard.SeverityHigh
	case skimguard.KindFrameChanged:
		switch {
		case f.originChanged:
			return skimguard.SeverityCritical
		case f.becameHidden:
			return skimguard.SeverityHigh
		}
		return skimguard.SeverityMedium
	case skimguard.KindFrameRemoved:
		if f.heldCardFields {
			return skimguard.SeverityMedium
		}
		return skimguard.SeverityLow
	case skimguard.KindFormAdded:
		switch {
		case f.cardInputsInTop:
			return skimguard.SeverityCritical
		case f.cardInputs:
			return skimguard.SeverityHigh
		}
		return skimguard.SeverityMedium
	case skimguard.KindFormChanged:
		if f.originChanged || f.cardInputsInTop {
			return skimguard.SeverityCritical
		}
		return skimguard.SeverityMedium
	case skimguard.KindCardAccessAdded:
		return skimguard.SeverityHigh
	case skimguard.KindConnectionAdded:
		if f.afterTyping {
			return skimguard.SeverityHigh
		}
		return skimguard.SeverityMedium
	case skimguard.KindHeaderRemoved:
		if f.reportOnly {
			return skimguard.SeverityMedium
		}
		return skimguard.SeverityHigh
	case skimguard.KindHeaderChanged:
		if f.weakerCSP && !f.reportOnly {
			return skimguard.SeverityHigh
		}
		return skimguard.SeverityMedium
	case skimguard.KindHeaderAdded, skimguard.KindScriptRemoved, skimguard.KindFormRemoved:
		return skimguard.SeverityLow
	case skimguard.KindPageRedirected:
		if f.originChanged {
			return skimguard.SeverityCritical
		}
		return skimguard.SeverityHigh
	}
	return skimguard.SeverityHigh
}
