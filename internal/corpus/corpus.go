// Package corpus finds the shared real-world test data (shared/corpus, laid
// beside the repository, read-only) for tests.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir finds shared/corpus/<sub> by walking up from the test's directory.
// Without it the test skips, except under CI=true, where the corpus must
// be there.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "shared", "corpus", sub)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("shared/corpus/%s not found above %s (CI=true requires it)", sub, wd)
	}
	t.Skipf("shared/corpus/%s not found above %s; skipping corpus test", sub, wd)
	return ""
}
