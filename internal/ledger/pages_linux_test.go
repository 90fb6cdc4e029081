package ledger

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// mappedRSS returns how much of the mapping of path is resident in this
// process, from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && len(fields) == 3 && fields[0] == "Rss:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			total += kb << 10
		}
	}
	return total
}

func testRecord(i int) (string, Record) {
	key := fmt.Sprintf("media/DCIM/Camera%03d/IMG_%07d.jpg", i/500, i)
	return key, Record{SHA256: strings.Repeat(fmt.Sprintf("%02x", i%256), 32), Size: int64(4096 + i), ModTime: time.Unix(int64(1e9+i), 0).UTC()}
}

// Reading every record of a large ledger leaves only the pages read since
// the last drop resident, not the whole file, and every record read is
// the one written.
func TestReadingEveryRecordKeepsFewPagesResident(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 40000
	for i := range n {
		key, rec := testRecord(i)
		if err := l.Put("dir:/backup", key, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		key, want := testRecord(i)
		got, ok, err := l.Get("dir:/backup", key)
		if err != nil || !ok || got.SHA256 != want.SHA256 || got.Size != want.Size || !got.ModTime.Equal(want.ModTime) {
			t.Fatalf("Get(%s) = %+v, %v, %v; want %+v", key, got, ok, err, want)
		}
	}
	rss := mappedRSS(t, path)
	t.Logf("ledger file %d bytes, %d of them resident after reading all %d records", st.Size(), rss, n)
	if rss > st.Size()/3 {
		t.Errorf("after reading every record %d bytes of the %d-byte ledger stay resident, want at most a third", rss, st.Size())
	}
}

// Pages are dropped while other goroutines read and write, the file
// growing (which makes bbolt map it again): every record read is still
// the one written.
func TestDroppingPagesWhileTheLedgerGrows(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 30000
	var wg sync.WaitGroup
	written := make(chan int, n)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(written)
		for i := range n {
			key, rec := testRecord(i)
			if err := l.Put("dir:/backup", key, rec); err != nil {
				t.Error(err)
				return
			}
			if i%1000 == 999 {
				if err := l.Flush(); err != nil {
					t.Error(err)
					return
				}
				for j := i - 999; j <= i; j++ {
					written <- j
				}
			}
		}
	}()
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range written {
				for _, j := range []int{i, i / 2, i / 3} {
					key, want := testRecord(j)
					got, ok, err := l.Get("dir:/backup", key)
					if err != nil || !ok || got.SHA256 != want.SHA256 || got.Size != want.Size {
						t.Errorf("Get(%s) = %+v, %v, %v; want %+v", key, got, ok, err, want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if got := l.gets.Load(); got < 2*dropEvery {
		t.Fatalf("%d Gets, fewer than two drops' worth", got)
	}
}
