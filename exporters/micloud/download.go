package micloud

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/retry"
)

// tempFile is a finished download waiting in the snapshot's folder; Close
// removes it.
type tempFile struct {
	*os.File
}

func (t tempFile) Close() error {
	err := t.File.Close()
	os.Remove(t.File.Name())
	return err
}

// storageDownload is the three-step download shared by gallery items and
// recordings: storage (a data call returning data.url), then GET that URL
// for JSONP cb({"url","meta"}), then POST meta to the inner url for the
// bytes. The bytes go to a temp file next to dst, checked against sha1 and
// size, so a download cut off half-way is retried, never half-kept.
func (c *client) storageDownload(ctx context.Context, name string, storage func(ctx context.Context) (string, error), dst, wantSHA1 string, wantSize int64) (io.ReadCloser, error) {
	raw, err := storage(ctx)
	if err != nil {
		return nil, err
	}
	jp, err := url.Parse(raw)
	if err != nil || jp.Host == "" {
		return nil, fmt.Errorf("%s: the storage step gave %q, not a URL: Mi Cloud may have changed; report it with --debug-http", name, redactText(raw))
	}
	f, err := fsutil.CreateTemp(dst)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	err = c.retry.Do(ctx, name, func(ctx context.Context) error {
		resp, err := c.send(ctx, http.MethodGet, jp, nil, "", c.dataCookies(jp))
		if err != nil {
			return err
		}
		body, err := readBody(resp)
		if err != nil {
			return err
		}
		if err := retry.Classify(resp, snippet(body)); err != nil {
			return fmt.Errorf("%s (download URL): %w", name, err)
		}
		target, meta, err := parseJSONP(body)
		if err != nil {
			return retry.Permanent(fmt.Errorf("%s: the download URL answered %s: %w: Mi Cloud may have changed; report it with --debug-http", name, describe(body), err))
		}
		tu, err := jp.Parse(target)
		if err != nil {
			return retry.Permanent(fmt.Errorf("%s: bad file URL in the download answer: %w", name, err))
		}
		form := url.Values{"meta": {meta}}.Encode()
		resp, err = c.send(ctx, http.MethodPost, tu, strings.NewReader(form), "application/x-www-form-urlencoded", c.dataCookies(tu))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if err := retry.Classify(resp, snippet(b)); err != nil {
				return fmt.Errorf("%s (file): %w", name, err)
			}
			return retry.Permanent(fmt.Errorf("%s (file): unexpected HTTP %d", name, resp.StatusCode))
		}
		return fill(f, resp.Body, wantSHA1, wantSize, name)
	})
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	keep = true
	return tempFile{f}, nil
}

// fill writes r into f from its start, checking size and sha1 when known.
// A mismatch is retried: a cut or damaged transfer.
func fill(f *os.File, r io.Reader, wantSHA1 string, wantSize int64, name string) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return retry.Permanent(err)
	}
	if err := f.Truncate(0); err != nil {
		return retry.Permanent(err)
	}
	h := sha1.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if wantSize >= 0 && n != wantSize {
		return fmt.Errorf("%s: got %d bytes, the listing says %d", name, n, wantSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); wantSHA1 != "" && !strings.EqualFold(got, wantSHA1) {
		return fmt.Errorf("%s: sha1 %s does not match the listed %s", name, got, wantSHA1)
	}
	return nil
}

// parseJSONP reads cb({"url":...,"meta":...}).
func parseJSONP(b []byte) (target, meta string, err error) {
	b = bytes.TrimSpace(b)
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return "", "", errors.New("not JSONP")
	}
	var v struct {
		URL  string `json:"url"`
		Meta string `json:"meta"`
	}
	if err := json.Unmarshal(b[i+1:j], &v); err != nil {
		return "", "", fmt.Errorf("JSONP payload: %w", err)
	}
	if v.URL == "" || v.Meta == "" {
		return "", "", errors.New("JSONP payload without url or meta")
	}
	return v.URL, v.Meta, nil
}

// errMissingFile is an attachment the storage host does not have.
var errMissingFile = errors.New("the file is not on Mi Cloud any more")

// noteFile downloads a note attachment: /file/full answers with a redirect
// to a storage host that wants the cookies too.
func (c *client) noteFile(ctx context.Context, fileID, dst, digest string) (io.ReadCloser, error) {
	name := "note file " + fileID
	f, err := fsutil.CreateTemp(dst)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	err = c.withSession(ctx, name, func(ctx context.Context) error {
		u := c.endpoint("/file/full", url.Values{"type": {"note_img"}, "fileid": {fileID}})
		resp, err := c.send(ctx, http.MethodGet, u, nil, "", c.dataCookies(u))
		if err != nil {
			return err
		}
		for hops := 0; resp.StatusCode >= 300 && resp.StatusCode < 400; hops++ {
			loc := resp.Header.Get("Location")
			resp.Body.Close()
			if loc == "" || hops >= 5 {
				return retry.Permanent(fmt.Errorf("%s: redirect without a usable Location", name))
			}
			next, err := resp.Request.URL.Parse(loc)
			if err != nil {
				return retry.Permanent(fmt.Errorf("%s: bad redirect: %w", name, err))
			}
			resp, err = c.send(ctx, http.MethodGet, next, nil, "", c.dataCookies(next))
			if err != nil {
				return err
			}
		}
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			resp.Body.Close()
			return retry.Permanent(fmt.Errorf("%s: %w", name, errMissingFile))
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := readBody(resp)
			return c.decode(name, resp, body, nil, nil)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxJSON))
			var env envelope
			if json.Unmarshal(body, &env) == nil && env.R == 401 {
				return sessionError(body)
			}
			return retry.Permanent(fmt.Errorf("%s: expected the file, got JSON %s", name, describe(body)))
		}
		return fill(f, resp.Body, digest, -1, name)
	})
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	keep = true
	return tempFile{f}, nil
}
