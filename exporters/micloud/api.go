package micloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"sort"
	"strconv"
)

// The shapes of the service's answers, with only the fields miexit uses;
// pointers mark fields whose absence means the service changed.

type album struct {
	AlbumID    flexID  `json:"albumId"`
	Name       string  `json:"name"`
	MediaCount flexInt `json:"mediaCount"`
}

type galleryItem struct {
	ID           flexID  `json:"id"`
	FileName     string  `json:"fileName"`
	Type         string  `json:"type"`
	MimeType     string  `json:"mimeType"`
	SHA1         string  `json:"sha1"`
	Size         flexInt `json:"size"`
	DateTaken    flexInt `json:"dateTaken"`
	DateModified flexInt `json:"dateModified"`
	CreateTime   flexInt `json:"createTime"`
}

type noteEntry struct {
	ID         flexID  `json:"id"`
	FolderID   flexID  `json:"folderId"`
	CreateDate flexInt `json:"createDate"`
	ModifyDate flexInt `json:"modifyDate"`
	Subject    string  `json:"subject"`
	Snippet    string  `json:"snippet"`
	Status     string  `json:"status"`
	Setting    struct {
		Data []struct {
			FileID   string `json:"fileId"`
			Digest   string `json:"digest"`
			MimeType string `json:"mimeType"`
		} `json:"data"`
	} `json:"setting"`
	ExtraInfo string `json:"extraInfo"`
}

type noteFolder struct {
	ID      flexID `json:"id"`
	Subject string `json:"subject"`
}

type recording struct {
	ID         flexID  `json:"id"`
	Name       string  `json:"name"`
	Size       flexInt `json:"size"`
	SHA1       string  `json:"sha1"`
	CreateTime flexInt `json:"create_time"`
}

type contactRecord struct {
	Content    map[string]json.RawMessage `json:"content"`
	UpdateTime flexInt                    `json:"updateTime"`
}

type thread struct {
	Entry struct {
		ThreadID flexID  `json:"threadId"`
		Total    flexInt `json:"total"`
	} `json:"entry"`
}

var errShape = errors.New("field missing")

func need(ok bool, field string) error {
	if !ok {
		return fmt.Errorf("%w: %s", errShape, field)
	}
	return nil
}

// albums lists every album, page by page until isLastPage.
func (c *client) albums(ctx context.Context, pageSize int) iter.Seq2[album, error] {
	return func(yield func(album, error) bool) {
		for page := 0; ; page++ {
			var d struct {
				Albums     *[]album `json:"albums"`
				IsLastPage *bool    `json:"isLastPage"`
			}
			q := url.Values{"pageNum": {strconv.Itoa(page)}, "pageSize": {strconv.Itoa(pageSize)}, "isShared": {"false"}}
			err := c.getJSON(ctx, "gallery album list", "/gallery/user/album/list", q, &d, func() error {
				return errors.Join(need(d.Albums != nil, "data.albums"), need(d.IsLastPage != nil, "data.isLastPage"))
			})
			if err != nil {
				yield(album{}, err)
				return
			}
			for _, a := range *d.Albums {
				if a.AlbumID == "" {
					yield(album{}, fmt.Errorf("gallery album list: an album without albumId: Mi Cloud may have changed"))
					return
				}
				if !yield(a, nil) {
					return
				}
			}
			if *d.IsLastPage || len(*d.Albums) == 0 {
				return
			}
		}
	}
}

// galleries lists one album's items, page by page until isLastPage.
func (c *client) galleries(ctx context.Context, albumID string, pageSize int) iter.Seq2[galleryItem, error] {
	return func(yield func(galleryItem, error) bool) {
		for page := 0; ; page++ {
			var d struct {
				Galleries  *[]galleryItem `json:"galleries"`
				IsLastPage *bool          `json:"isLastPage"`
			}
			q := url.Values{"pageNum": {strconv.Itoa(page)}, "pageSize": {strconv.Itoa(pageSize)}, "albumId": {albumID}}
			err := c.getJSON(ctx, "gallery list of album "+albumID, "/gallery/user/galleries", q, &d, func() error {
				return errors.Join(need(d.Galleries != nil, "data.galleries"), need(d.IsLastPage != nil, "data.isLastPage"))
			})
			if err != nil {
				yield(galleryItem{}, err)
				return
			}
			for _, g := range *d.Galleries {
				if g.ID == "" {
					yield(galleryItem{}, fmt.Errorf("gallery list of album %s: an item without id: Mi Cloud may have changed", albumID))
					return
				}
				if !yield(g, nil) {
					return
				}
			}
			if *d.IsLastPage || len(*d.Galleries) == 0 {
				return
			}
		}
	}
}

// galleryURL is the first download step of a gallery item.
func (c *client) galleryURL(ctx context.Context, id string) (string, error) {
	var d struct {
		URL string `json:"url"`
	}
	err := c.getJSON(ctx, "gallery storage of "+id, "/gallery/storage", url.Values{"id": {id}}, &d, func() error {
		return need(d.URL != "", "data.url")
	})
	return d.URL, err
}

// notePage is one page of the notes list.
type notePage struct {
	Entries  []noteEntry
	Folders  []noteFolder
	SyncTag  string
	LastPage bool
}

// notes lists every note page, following syncTag until lastPage.
func (c *client) notes(ctx context.Context, limit int) iter.Seq2[notePage, error] {
	return func(yield func(notePage, error) bool) {
		tag := ""
		for {
			var d struct {
				Entries  *[]noteEntry `json:"entries"`
				Folders  []noteFolder `json:"folders"`
				SyncTag  *flexID      `json:"syncTag"`
				LastPage *bool        `json:"lastPage"`
			}
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if tag != "" {
				q.Set("syncTag", tag)
			}
			err := c.getJSON(ctx, "notes list", "/note/full/page/", q, &d, func() error {
				return errors.Join(need(d.Entries != nil, "data.entries"), need(d.LastPage != nil, "data.lastPage"))
			})
			if err != nil {
				yield(notePage{}, err)
				return
			}
			p := notePage{Entries: *d.Entries, Folders: d.Folders, LastPage: *d.LastPage}
			if d.SyncTag != nil {
				p.SyncTag = string(*d.SyncTag)
			}
			if !yield(p, nil) {
				return
			}
			if p.LastPage || len(p.Entries) == 0 {
				return
			}
			if p.SyncTag == "" || p.SyncTag == tag {
				yield(notePage{}, fmt.Errorf("notes list: more pages announced but the syncTag did not move: Mi Cloud may have changed"))
				return
			}
			tag = p.SyncTag
		}
	}
}

// noteContent fetches one note's full markup.
func (c *client) noteContent(ctx context.Context, id string) (string, error) {
	var d struct {
		Entry *struct {
			Content *string `json:"content"`
		} `json:"entry"`
	}
	err := c.getJSON(ctx, "note "+id, "/note/note/"+url.PathEscape(id)+"/", nil, &d, func() error {
		return need(d.Entry != nil && d.Entry.Content != nil, "data.entry.content")
	})
	if err != nil {
		return "", err
	}
	return *d.Entry.Content, nil
}

// recordings lists every recording. The list has no last-page flag and
// the server may hand back fewer rows than asked in the middle of it (a
// cap, a busy shard), so a short page proves nothing: the offset moves on
// by the rows received, and the list ends at a page that adds nothing.
// Rows seen before are dropped; a page of only those means the paging
// broke, and fails rather than loop.
func (c *client) recordings(ctx context.Context, limit int) iter.Seq2[recording, error] {
	return func(yield func(recording, error) bool) {
		seen := map[flexID]bool{}
		for off := 0; ; {
			var d struct {
				List *[]recording `json:"list"`
			}
			q := url.Values{"offset": {strconv.Itoa(off)}, "limit": {strconv.Itoa(limit)}}
			err := c.getJSON(ctx, "recordings list", "/sfs/ns/recorder/dir/0/list", q, &d, func() error {
				return need(d.List != nil, "data.list")
			})
			if err != nil {
				yield(recording{}, err)
				return
			}
			if len(*d.List) == 0 {
				return
			}
			fresh := 0
			for _, r := range *d.List {
				if r.ID == "" || r.Name == "" {
					yield(recording{}, fmt.Errorf("recordings list: a recording without id or name: Mi Cloud may have changed"))
					return
				}
				if seen[r.ID] {
					continue
				}
				seen[r.ID] = true
				fresh++
				if !yield(r, nil) {
					return
				}
			}
			if fresh == 0 {
				yield(recording{}, fmt.Errorf("recordings list: the page at offset %d holds only recordings already listed (%d rows): Mi Cloud's paging may have changed; report it with --debug-http", off, len(*d.List)))
				return
			}
			off += len(*d.List)
		}
	}
}

// recordingURL is the first download step of a recording.
func (c *client) recordingURL(ctx context.Context, id string) (string, error) {
	var d struct {
		URL string `json:"url"`
	}
	path := "/sfs/ns/recorder/file/" + url.PathEscape(id) + "/cb/dl_sfs_cb_" + nowMS() + "_0/storage"
	err := c.getJSON(ctx, "recording storage of "+id, path, nil, &d, func() error {
		return need(d.URL != "", "data.url")
	})
	return d.URL, err
}

// contactPage is one page of contacts, ids sorted for a stable order.
type contactPage struct {
	IDs      []string
	Content  map[string]contactRecord
	Groups   map[string]string
	LastPage bool
}

// contacts pages through /contacts/initdata with syncTag and syncIgnoreTag.
func (c *client) contacts(ctx context.Context, limit int) iter.Seq2[contactPage, error] {
	return func(yield func(contactPage, error) bool) {
		tag, ignore := "0", "0"
		for {
			var d struct {
				Content *map[string]contactRecord `json:"content"`
				Group   []struct {
					Content struct {
						ID    flexID `json:"id"`
						Title string `json:"title"`
					} `json:"content"`
				} `json:"group"`
				SyncTag       *flexID `json:"syncTag"`
				SyncIgnoreTag *flexID `json:"syncIgnoreTag"`
				LastPage      *bool   `json:"lastPage"`
			}
			q := url.Values{"syncTag": {tag}, "syncIgnoreTag": {ignore}, "limit": {strconv.Itoa(limit)}}
			err := c.getJSON(ctx, "contacts list", "/contacts/initdata", q, &d, func() error {
				return errors.Join(need(d.Content != nil, "data.content"), need(d.LastPage != nil, "data.lastPage"))
			})
			if err != nil {
				yield(contactPage{}, err)
				return
			}
			p := contactPage{Content: *d.Content, Groups: map[string]string{}, LastPage: *d.LastPage}
			for id := range p.Content {
				p.IDs = append(p.IDs, id)
			}
			sortIDs(p.IDs)
			for _, g := range d.Group {
				p.Groups[string(g.Content.ID)] = g.Content.Title
			}
			if !yield(p, nil) {
				return
			}
			if p.LastPage || len(p.IDs) == 0 {
				return
			}
			if d.SyncTag == nil || string(*d.SyncTag) == tag {
				yield(contactPage{}, fmt.Errorf("contacts list: more pages announced but syncTag did not move: Mi Cloud may have changed"))
				return
			}
			tag = string(*d.SyncTag)
			if d.SyncIgnoreTag != nil {
				ignore = string(*d.SyncIgnoreTag)
			}
		}
	}
}

// smsTotals sums the message totals of every SMS thread. The thread list
// only holds each thread's last message, so totals are all it can give.
// Like the recordings list it has no last-page flag: it is paged until a
// page adds no thread not seen before (empty: the end; only repeats: an
// error), whatever the page's length.
func (c *client) smsTotals(ctx context.Context, limit int) (threads, messages int, err error) {
	tag, ttag := "0", "0"
	seen := map[flexID]bool{}
	for {
		var d struct {
			Entries   *[]thread `json:"entries"`
			Watermark *struct {
				SyncTag       flexID `json:"syncTag"`
				SyncThreadTag flexID `json:"syncThreadTag"`
			} `json:"watermark"`
		}
		q := url.Values{"limit": {strconv.Itoa(limit)}, "syncTag": {tag}, "syncThreadTag": {ttag}, "readMode": {"older"}}
		err := c.getJSON(ctx, "SMS thread list", "/sms/full/thread", q, &d, func() error {
			return need(d.Entries != nil, "data.entries")
		})
		if err != nil {
			return 0, 0, err
		}
		if len(*d.Entries) == 0 {
			return threads, messages, nil
		}
		fresh := 0
		for _, t := range *d.Entries {
			if t.Entry.ThreadID == "" {
				return 0, 0, fmt.Errorf("SMS thread list: a thread without threadId: Mi Cloud may have changed")
			}
			if seen[t.Entry.ThreadID] {
				continue
			}
			seen[t.Entry.ThreadID] = true
			fresh++
			threads++
			messages += int(t.Entry.Total)
		}
		if fresh == 0 {
			return 0, 0, fmt.Errorf("SMS thread list: the page after syncThreadTag %s holds only threads already listed (%d rows): Mi Cloud's paging may have changed; report it with --debug-http", ttag, len(*d.Entries))
		}
		if d.Watermark == nil {
			// Nothing to ask for the next page with: the service's way
			// of saying this was the last.
			return threads, messages, nil
		}
		if string(d.Watermark.SyncThreadTag) == ttag && string(d.Watermark.SyncTag) == tag {
			return 0, 0, fmt.Errorf("SMS thread list: a page of new threads but the watermark did not move: Mi Cloud may have changed")
		}
		tag, ttag = string(d.Watermark.SyncTag), string(d.Watermark.SyncThreadTag)
	}
}

// sortIDs orders ids numerically when they are numbers, else as text, so
// contacts come out in the same order every run.
func sortIDs(ids []string) {
	sort.Slice(ids, func(i, j int) bool {
		a, ea := strconv.ParseInt(ids[i], 10, 64)
		b, eb := strconv.ParseInt(ids[j], 10, 64)
		switch {
		case ea == nil && eb == nil:
			return a < b
		case ea == nil || eb == nil:
			return ea == nil // numbers first
		}
		return ids[i] < ids[j]
	})
}
