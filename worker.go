package skimguard

import "strings"

// WorkerKind names the kind of worker a script ran in, as the start of
// Script.Frame: "worker https://shop/w.js" for a dedicated worker.
type WorkerKind string

// Worker kinds.
const (
	WorkerDedicated WorkerKind = "worker"
	WorkerShared    WorkerKind = "shared worker"
	WorkerService   WorkerKind = "service worker"
)

// WorkerFrame is the Script.Frame of a script that ran in a worker of kind
// started from scriptURL. A worker has no document: its frame is named by
// its kind and its script's URL, which a person reads as such and which
// stays the same across loads.
func WorkerFrame(kind WorkerKind, scriptURL string) string {
	return string(kind) + " " + scriptURL
}

// ParseWorkerFrame splits a Script.Frame made by WorkerFrame; ok is false
// for the frame of a document.
func ParseWorkerFrame(frame string) (kind WorkerKind, scriptURL string, ok bool) {
	// Longest first: "shared worker " and "service worker " end in "worker ".
	for _, k := range []WorkerKind{WorkerShared, WorkerService, WorkerDedicated} {
		if rest, found := strings.CutPrefix(frame, string(k)+" "); found {
			return k, rest, true
		}
	}
	return "", "", false
}
