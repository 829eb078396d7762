package skimguard

// CheckStatus is how checking one page against its baseline ended.
type CheckStatus string

// Check statuses.
const (
	// CheckOK: the page matched its baseline.
	CheckOK CheckStatus = "ok"
	// CheckFindings: the page differed from its baseline.
	CheckFindings CheckStatus = "findings"
	// CheckFailed: the page could not be checked (no baseline, or the scan
	// failed).
	CheckFailed CheckStatus = "failed"
)

// PageResult is the outcome of checking one page against its approved
// baseline.
type PageResult struct {
	Page   Page
	Status CheckStatus
	// FinalURL is where the page ended after redirects; empty when it was
	// not loaded.
	FinalURL string
	// Error says why the page could not be checked; empty unless Status is
	// CheckFailed.
	Error string
	// Findings are what differs from the baseline or, for a page that could
	// not be checked, the one scan.failed finding that says so.
	Findings []Finding
	// StoreError says why the scan could not be stored (the store stayed
	// locked or full); empty when it was. Status and Findings are what the
	// check observed all the same, but the findings have no IDs: this
	// result and the alerts are their only record.
	StoreError string
}

// CheckResult is what one check of a set of pages found, page by page in
// the order the pages were given.
type CheckResult struct {
	Pages []PageResult
}

// Findings returns every page's findings, page by page.
func (r CheckResult) Findings() []Finding {
	var fs []Finding
	for _, p := range r.Pages {
		fs = append(fs, p.Findings...)
	}
	return fs
}

// Failed returns how many pages could not be checked.
func (r CheckResult) Failed() int {
	n := 0
	for _, p := range r.Pages {
		if p.Status == CheckFailed {
			n++
		}
	}
	return n
}

// NotStored returns how many pages' scans could not be stored.
func (r CheckResult) NotStored() int {
	n := 0
	for _, p := range r.Pages {
		if p.StoreError != "" {
			n++
		}
	}
	return n
}
