// Package baseline learns what a payment page normally looks like from
// several sample observations (Learn), compares a new observation with that
// baseline into findings (Compare), and folds approved findings into a new
// baseline version (Apply). It is pure: no I/O, no clock, no global state.
//
// # Item keys
//
// Every observed thing becomes a skimguard.Item whose Key stays the same
// from load to load:
//
//   - script with a URL: "<kind> <url> in <frame>", where the URL loses its
//     fragment, its volatile query parameters (cache busters, timestamps,
//     versions, session and click ids, values that look generated, and
//     parameters seen to vary between the baseline's samples) and volatile
//     path pieces (app.3f9a8c7d.js → app.*.js), and <frame> is "top" for
//     the main document or the iframe's origin;
//   - script without a URL: "<kind> #<ordinal> in <document>", or for
//     handlers and javascript: URLs "<kind> <element[attribute]> in
//     <document>". They are matched by content first (an approved script
//     that moved is the same), then by place;
//   - frame: "<parent document> > <origin><path>" (query and fragment,
//     where providers put session ids, dropped);
//   - form: "form#id", "form[name=..]", "formless inputs" or "form #N",
//     "in <document>";
//   - connection and card sink: the origin; header: its lower-case name;
//     redirect: "main document";
//   - card access: the key of the baseline script the observed script
//     matched (its own key when it matched none, or when its own key's
//     item accepts it too), so that what an approved script sees of the
//     card stays its own when it moves.
//
// # Values
//
// Values are what is accepted for an item, in the forms the root package
// defines next to skimguard.Item. A script accepts its exact
// "sha256:<hex>" hashes and its structural "fp:<hex>" fingerprints (see
// Normalize and Fingerprint): two bodies count as the same version when
// their normalised texts are equal, which is what a reviewer can diff to
// see why. Frames accept a skimguard.FrameValue, forms a
// skimguard.FormValue (normalised action), headers their normalised value
// (CSP nonces as 'nonce-*', directives sorted), redirects a
// skimguard.RedirectValue (normalised final URL, origins and paths), card
// access a skimguard.CardAccessValue for each field and way the script
// sees it.
//
// # Fingerprints of findings
//
// Finding.Fingerprint hashes site, page, kind, item key and the observed
// value (a script's structural fingerprint, a header's value...), so the
// same change seen by every hourly scan stays one finding, and a different
// change to the same item is a new one.
package baseline
