package skimguard

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the one place that says what a baseline item holds: its
// types, the keys of its Attrs and the grammar of its Values. Baselines in
// users' databases and lock files are stored in these forms, and finding
// fingerprints are made from them, so none of them may change: a new item
// type adds its constant, attributes and value type here.

// ItemType is the type of a baseline item.
type ItemType string

// Baseline item types.
const (
	// ItemScript: Values are ScriptHash and ScriptFingerprint values;
	// Attrs AttrKind, AttrFrame, AttrLoadedBy, AttrIntegrity,
	// AttrCrossOrigin and, for code without a URL, AttrOrdinal and
	// AttrLocation.
	ItemScript ItemType = "script"
	// ItemFrame: Values are FrameValue; Attrs AttrParent, AttrDoc, AttrName.
	ItemFrame ItemType = "frame"
	// ItemForm: Values are FormValue; Attrs AttrFrame.
	ItemForm ItemType = "form"
	// ItemConnection: Values hold the destination origin, which is also the
	// key.
	ItemConnection ItemType = "connection"
	// ItemHeader: Values hold the normalised header value; the key is the
	// lower-case header name.
	ItemHeader ItemType = "header"
	// ItemRedirect is the main document's final URL and redirect chain:
	// Values are RedirectValue.
	ItemRedirect ItemType = "redirect"
	// ItemCardSink is an origin that receives the test card data normally:
	// Values hold the origin, which is also the key.
	ItemCardSink ItemType = "card_sink"
	// ItemCardAccess is a script that can see card fields: its key is the
	// key of the script's item, and Values are CardAccessValue, one for
	// each field and way it sees it.
	ItemCardAccess ItemType = "card_access"
)

// Item is one approved thing in a page's baseline.
type Item struct {
	Type ItemType `json:"type"`
	// Key identifies the item within its page's baseline; the baseline
	// package makes it.
	Key     string `json:"key"`
	Subject string `json:"subject"`
	Origin  string `json:"origin,omitempty"`
	// Values are the accepted forms of the item, in the grammar its
	// ItemType names: for scripts exact hashes and structural fingerprints,
	// for frames, forms and redirects a FrameValue, FormValue or
	// RedirectValue, for headers normalised values. Sorted, no duplicates.
	Values []string `json:"values"`
	// Optional items were not seen in every baseline sample (an A/B variant,
	// a lazily loaded widget): their absence is no finding.
	Optional bool `json:"optional,omitempty"`
	// Attrs holds extra facts, keyed by the Attr constants: a script's
	// integrity and crossorigin, its kind and loader, a frame's parent.
	Attrs map[string]string `json:"attrs,omitempty"`
	// Source, SHA256 and SRI describe the latest approved text of a script.
	Source string `json:"source,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	SRI    string `json:"sri,omitempty"`
	// FirstSeen is when the item first entered the page's baseline;
	// ApprovedBy, Reason and ApprovedAt record its latest approval.
	FirstSeen  time.Time `json:"first_seen"`
	ApprovedBy string    `json:"approved_by"`
	Reason     string    `json:"reason"`
	ApprovedAt time.Time `json:"approved_at"`
}

// ScriptKind returns a script item's AttrKind: a ScriptKind, or "script"
// for a script the crawler gave no kind.
func (it Item) ScriptKind() string {
	return it.Attrs[AttrKind]
}

// Keys of Item.Attrs.
const (
	// AttrKind: scripts, their ScriptKind ("script" when it had none).
	AttrKind = "kind"
	// AttrFrame: scripts with a URL, the origin of their frame ("top" for
	// the main document); scripts without a URL and forms, their document.
	AttrFrame = "frame"
	// AttrOrdinal: scripts without a URL only, their Script.Ordinal. It
	// marks them as matched by content, then by position.
	AttrOrdinal = "ordinal"
	// AttrLocation: scripts without a URL, their Script.Location (a
	// handler's element[attribute], an inline script's line and column).
	AttrLocation = "location"
	// AttrLoadedBy: scripts, their Script.LoadedBy.
	AttrLoadedBy = "loaded_by"
	// AttrIntegrity: scripts, their accepted integrity attributes joined by
	// AttrSep, AttrNone standing for an accepted absence.
	AttrIntegrity = "integrity"
	// AttrCrossOrigin: scripts, their accepted crossorigin attributes, in
	// AttrIntegrity's form.
	AttrCrossOrigin = "crossorigin"
	// AttrParent: frames, the document that holds the frame.
	AttrParent = "parent"
	// AttrDoc: frames, the frame's own document, as forms and scripts in it
	// name it.
	AttrDoc = "doc"
	// AttrName: frames, the frame's name when it has one.
	AttrName = "name"
	// AttrReplaces: the item of a frame.changed finding whose frame moved,
	// the key of the frame it replaces. Never stored in a baseline.
	AttrReplaces = "replaces"
	// AttrVolatile: any item of a baseline learnt from several samples,
	// the query parameters found to vary on the page, comma separated.
	AttrVolatile = "volatile_query"
)

// The form of AttrIntegrity and AttrCrossOrigin: accepted values joined by
// AttrSep, AttrNone standing for an accepted absence.
const (
	AttrSep  = " | "
	AttrNone = "(none)"
)

// The forms of a script item's Values.
const (
	// ScriptHashPrefix starts a script's exact value: "sha256:" and the hex
	// SHA-256 of its text.
	ScriptHashPrefix = "sha256:"
	// ScriptFingerprintPrefix starts a script's structural fingerprint:
	// "fp:" and the hex SHA-256 of its normalised text (see
	// baseline.Fingerprint).
	ScriptFingerprintPrefix = "fp:"
)

// ScriptHash returns the exact value of a script whose text has the hex
// SHA-256 sum.
func ScriptHash(sum string) string {
	return ScriptHashPrefix + sum
}

// IsScriptHash reports whether v is an exact script value.
func IsScriptHash(v string) bool {
	return strings.HasPrefix(v, ScriptHashPrefix)
}

// IsScriptFingerprint reports whether v is a structural fingerprint.
func IsScriptFingerprint(v string) bool {
	return strings.HasPrefix(v, ScriptFingerprintPrefix)
}

// FrameValue is a frame's comparable state, stored as
// "origin=<Origin>|sandbox=<Sandbox>|hidden=<Hidden>".
type FrameValue struct {
	Origin string
	// Sandbox is the sandbox attribute's tokens, lower case, sorted and
	// joined by a space.
	Sandbox string
	Hidden  bool
}

// Format returns v in its stored form.
func (v FrameValue) Format() string {
	return "origin=" + v.Origin + "|sandbox=" + v.Sandbox + "|hidden=" + strconv.FormatBool(v.Hidden)
}

// ParseFrameValue parses a stored FrameValue. Missing parts are zero: a
// hand-edited lock file may lack them.
func ParseFrameValue(s string) FrameValue {
	return FrameValue{Origin: valuePart(s, "origin"), Sandbox: valuePart(s, "sandbox"), Hidden: valuePart(s, "hidden") == "true"}
}

// FormValue is a form's comparable state, stored as
// "action=<Action>|method=<Method>|fields=<Fields joined by commas>".
type FormValue struct {
	// Action is the normalised action URL, "" for none; Method is upper
	// case.
	Action string
	Method string
	// Fields are the CardFields the form asks for, sorted, no duplicates.
	Fields []string
}

// Format returns v in its stored form.
func (v FormValue) Format() string {
	return "action=" + v.Action + "|method=" + v.Method + "|fields=" + strings.Join(v.Fields, ",")
}

// ParseFormValue parses a stored FormValue. Missing parts are zero.
func ParseFormValue(s string) FormValue {
	v := FormValue{Action: valuePart(s, "action"), Method: valuePart(s, "method")}
	if f := valuePart(s, "fields"); f != "" {
		v.Fields = strings.Split(f, ",")
	}
	return v
}

// RedirectValue is where the main document ended and how it got there,
// stored as "final=<Final>|chain=<Chain joined by " > ">".
type RedirectValue struct {
	// Final is the normalised final URL.
	Final string
	// Chain is the origin and path of each URL before it, in order.
	Chain []string
}

// Format returns v in its stored form.
func (v RedirectValue) Format() string {
	return "final=" + v.Final + "|chain=" + strings.Join(v.Chain, " > ")
}

// ParseRedirectValue parses a stored RedirectValue. Missing parts are
// zero.
func ParseRedirectValue(s string) RedirectValue {
	v := RedirectValue{Final: valuePart(s, "final")}
	if c := valuePart(s, "chain"); c != "" {
		v.Chain = strings.Split(c, " > ")
	}
	return v
}

// CardAccessValue is one way a script sees one card field (see
// CardAccess), stored as "field=<Field>|how=<How>".
type CardAccessValue struct {
	Field string `json:"field"`
	How   string `json:"how"`
}

// Format returns v in its stored form.
func (v CardAccessValue) Format() string {
	return "field=" + v.Field + "|how=" + v.How
}

// ParseCardAccessValue parses a stored CardAccessValue. Missing parts are
// zero.
func ParseCardAccessValue(s string) CardAccessValue {
	return CardAccessValue{Field: valuePart(s, "field"), How: valuePart(s, "how")}
}

// CardAccessSummary says for people which card fields vs give access to
// and how: "number, cvc (listens to change, reads value)". Fields come in
// the order a card form asks for them, listeners before reads.
func CardAccessSummary(vs []CardAccessValue) string {
	var fields, hows []string
	for _, v := range vs {
		if !slices.Contains(fields, v.Field) {
			fields = append(fields, v.Field)
		}
		how := v.How
		if ev, ok := strings.CutPrefix(how, AccessListens); ok {
			how = "listens to " + ev
		}
		if !slices.Contains(hows, how) {
			hows = append(hows, how)
		}
	}
	if len(fields) == 0 {
		return ""
	}
	// Unknown fields and ways go last, alphabetically.
	rank := func(list []string, s string) int {
		if i := slices.Index(list, s); i >= 0 {
			return i
		}
		return len(list)
	}
	cardOrder := []string{string(FieldNumber), string(FieldExpiry), string(FieldCVC), string(FieldName)}
	slices.SortFunc(fields, func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(cardOrder, a), rank(cardOrder, b)), cmp.Compare(a, b))
	})
	ways := func(h string) int {
		if strings.HasPrefix(h, "listens to ") {
			return 0
		}
		return 1 + rank([]string{AccessReadsValue, AccessReadsFormData}, h)
	}
	slices.SortFunc(hows, func(a, b string) int { return cmp.Or(cmp.Compare(ways(a), ways(b)), cmp.Compare(a, b)) })
	return strings.Join(fields, ", ") + " (" + strings.Join(hows, ", ") + ")"
}

// valuePart returns the first part called name of a stored "a=1|b=2"
// value, "" when there is none.
func valuePart(v, name string) string {
	for p := range strings.SplitSeq(v, "|") {
		if k, val, ok := strings.Cut(p, "="); ok && k == name {
			return val
		}
	}
	return ""
}
