// Package sharedfiles finds, for tests, the files that the build machines keep
// beside the repository in ../shared: real skimmer samples
// (skimmer-corpus/) and the official SARIF schema (sarif/). A user's clone
// has no ../shared, so every function here skips the calling test with a
// one-line reason when the files are absent, and the suite still passes.
//
// SKIMGUARD_SHARED, when set, names the directory to use instead of
// ../shared; set to a path that does not exist (or to nothing) it hides the
// files, as .ci/run does to prove that a fresh clone's suite passes.
package sharedfiles

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// EnvVar names the environment variable that overrides the directory.
const EnvVar = "SKIMGUARD_SHARED"

// Dir returns the shared directory, or "" with the reason when there is
// none.
func Dir() (string, string) {
	if d, ok := os.LookupEnv(EnvVar); ok {
		if d == "" {
			return "", EnvVar + " is empty"
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return "", EnvVar + "=" + d + " is not a directory"
		}
		return d, ""
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err.Error()
	}
	d := filepath.Join(filepath.Dir(root), "shared")
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		return "", "no " + d + " beside the repository (it exists on the build machines only)"
	}
	return d, ""
}

// moduleRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// CorpusDir returns the directory of real skimmer samples, or "" and why
// there is none, for tests that build cases from several samples and skip
// only those cases.
func CorpusDir() (dir, why string) {
	d, why := Dir()
	if d == "" {
		return "", why
	}
	dir = filepath.Join(d, "skimmer-corpus")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", "no " + dir
	}
	return dir, ""
}

// path returns the shared file or directory rel, skipping t when absent.
func path(t testing.TB, rel string) string {
	t.Helper()
	d, why := Dir()
	if d == "" {
		t.Skipf("skipped: %s not available: %s", rel, why)
	}
	p := filepath.Join(d, rel)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("skipped: %s not available: no %s", rel, p)
	}
	return p
}

// CorpusSample returns the text of one real skimmer sample from
// skimmer-corpus/, skipping t when the corpus is absent. A sample that is
// missing from a corpus that exists fails t: the test names a file that
// should be there.
func CorpusSample(t testing.TB, name string) string {
	t.Helper()
	dir := path(t, "skimmer-corpus")
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read corpus sample: %v", err)
	}
	return string(b)
}

// CorpusSamples returns every sample of skimmer-corpus/ (*.txt) by file
// name, skipping t when the corpus is absent.
func CorpusSamples(t testing.TB) map[string]string {
	t.Helper()
	dir := path(t, "skimmer-corpus")
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples (*.txt) in %s: %v", dir, err)
	}
	sort.Strings(files)
	out := make(map[string]string, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read corpus sample: %v", err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// SARIFSchema returns the path of the official SARIF 2.1.0 JSON schema,
// skipping t when it is absent.
func SARIFSchema(t testing.TB) string {
	t.Helper()
	return path(t, filepath.Join("sarif", "sarif-schema-2.1.0.json"))
}
