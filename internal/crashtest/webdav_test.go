package crashtest

import (
	"net/http"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/miexit/miexit/importers/webdav"
	"github.com/miexit/miexit/internal/davtest"
)

// webdav: a real `rclone serve webdav` behind davtest's fault proxy, so
// every kill, interrupt and fault test of this package runs against it
// too. A listing of its folder is a dir: listing (part files count as the
// temp files a kill may leave).
func init() {
	destinations = append(destinations, destination{"webdav", freshWebDAV})
}

var davWrites = []string{http.MethodPut, "MOVE", "MKCOL"}

func freshWebDAV(t *testing.T, faults ...fault) (string, []string, func(*testing.T, bool) []string) {
	srv := davtest.Rclone(t)
	var mu sync.Mutex
	left := make([]int, len(faults))
	for i, f := range faults {
		left[i] = f.times
	}
	srv.SetFault(func(r *http.Request) davtest.Fault {
		mu.Lock()
		defer mu.Unlock()
		for i, f := range faults {
			if left[i] == 0 || f.write && r.Method != f.on(davWrites...) {
				continue
			}
			left[i]--
			switch f.net {
			case "reset":
				return davtest.Fault{Reset: true}
			case "truncate":
				return davtest.Fault{Truncate: true}
			}
			return davtest.Fault{Status: f.status}
		}
		return davtest.Fault{}
	})
	root := filepath.Join(srv.Dir, "backup")
	vars := []string{"MIEXIT_DAV_USER=" + davtest.User, "MIEXIT_DAV_PASSWORD=" + davtest.Password}
	return "webdav:" + srv.URL + "backup/", vars, func(t *testing.T, final bool) []string { return listDAV(t, root, final) }
}

// listDAV is listDir for the folder rclone serves: a part file (an upload
// a kill cut short) may be there mid-run, never after the re-run, which
// sweeps them.
func listDAV(t *testing.T, root string, final bool) []string {
	t.Helper()
	var out []string
	for _, e := range listDir(t, root, final) {
		if strings.HasPrefix(path.Base(strings.Fields(e)[0]), webdav.PartPrefix) {
			if final {
				t.Errorf("part file left at the destination after the re-run: %s", e)
			}
			continue
		}
		out = append(out, e)
	}
	return out
}
