// Package mapping holds miexit's data model: the records a source yields
// (contacts, messages, calls, notes, media) and the manifest that describes a
// snapshot. Conversions between formats live in its sub-packages.
package mapping

import (
	"errors"
	"time"

	"github.com/emersion/go-vcard"
)

// Kind names one sort of item. Its string form appears in manifest.json, in
// --json output and in verify tables, so it must never change.
type Kind string

const (
	KindContact Kind = "contact"
	KindMessage Kind = "message"
	KindCall    Kind = "call"
	KindNote    Kind = "note"
	KindMedia   Kind = "media"
	// KindFile is every snapshot file that is not itself an item: the vCard
	// file, the JSONL and XML documents, MMS and note attachments.
	KindFile Kind = "file"
)

// Kinds lists every kind in the order reports show them.
var Kinds = []Kind{KindContact, KindMessage, KindCall, KindNote, KindMedia, KindFile}

// ErrBadInput marks errors caused by what a person gave miexit (a malformed
// file, a path that escapes, a wrong flag) rather than by miexit or the
// network. The CLI exits 2 for them.
var ErrBadInput = errors.New("bad input")

// Contact is one person. The vCard card is the model (go-vcard's), so every
// field a source had, X- fields included, travels unchanged.
type Contact struct {
	// Key is stable across runs and sources: the source's id when it has
	// one, else a hash of the normalized card.
	Key  string
	Card vcard.Card
}

// Message is one SMS or MMS.
type Message struct {
	Key      string    `json:"key"`
	Type     string    `json:"type"` // "sms" or "mms"
	Box      int       `json:"box"`  // Android type/msg_box: 1 inbox, 2 sent, 3 draft, 4 outbox, 5 failed, 6 queued
	Address  string    `json:"address"`
	Date     time.Time `json:"date"`
	DateSent time.Time `json:"date_sent,omitzero"`
	Read     bool      `json:"read"`
	Subject  string    `json:"subject,omitempty"`
	Body     string    `json:"body,omitempty"`
	// ServiceCenter, Status, Locked and SubID keep what restore apps read.
	ServiceCenter string `json:"service_center,omitempty"`
	Status        int    `json:"status,omitempty"`
	Locked        bool   `json:"locked,omitempty"`
	SubID         int    `json:"sub_id,omitempty"`
	ThreadID      int64  `json:"thread_id,omitempty"`
	ContactName   string `json:"contact_name,omitempty"`
	// MMS only.
	Parts []Part `json:"parts,omitempty"`
	Addrs []Addr `json:"addrs,omitempty"`
}

// Part is one MMS part. Text parts carry Text; binary parts are stored as a
// file in the snapshot and referenced by File.
type Part struct {
	Seq             int    `json:"seq"`
	ContentType     string `json:"ct"`
	Name            string `json:"name,omitempty"`
	Charset         int    `json:"chset,omitempty"`
	ContentID       string `json:"cid,omitempty"`
	ContentLocation string `json:"cl,omitempty"`
	Text            string `json:"text,omitempty"`
	// File is the attachment's path relative to the snapshot root.
	File   string `json:"file,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Addr is one MMS participant; Type is 137 from, 151 to, 130 cc, 129 bcc.
type Addr struct {
	Address string `json:"address"`
	Type    int    `json:"type"`
	Charset int    `json:"charset,omitempty"`
}

// Call is one call-log row.
type Call struct {
	Key      string    `json:"key"`
	Number   string    `json:"number"`
	Date     time.Time `json:"date"`
	Duration int64     `json:"duration"` // seconds
	Type     int       `json:"type"`     // 1 in, 2 out, 3 missed, 4 voicemail, 5 rejected, 6 blocked
	Name     string    `json:"name,omitempty"`
	SubID    int       `json:"sub_id,omitempty"`
}

// Note is one note, kept as Markdown.
type Note struct {
	Key      string
	Folder   string
	Title    string
	Created  time.Time
	Modified time.Time
	Deleted  bool
	// Body is Markdown. Attachments it links to are written separately
	// with snapshot.Writer.AddFile and linked by relative path.
	Body string
}

// Media describes one photo, video or recording before it is copied.
type Media struct {
	// Path is the original relative path ("DCIM/Camera/IMG_1.jpg"); it
	// becomes media/<Path> in the snapshot and is the media item's key.
	Path    string
	Size    int64 // -1 when unknown before reading
	ModTime time.Time
	// Taken is the date the picture was taken when the source knows it
	// (a cloud listing); otherwise the snapshot writer finds it.
	Taken time.Time
	// SHA1 is checked while copying when the source lists one.
	SHA1 string
	// Thumbnail marks a reduced copy: counted, never taken for an original.
	Thumbnail bool
	// Local is a file on this computer holding the bytes (an archive
	// folder's photo). A snapshot may hard-link it instead of copying it;
	// it never writes to it.
	Local string
}

// Counts is what inventory reports and what a snapshot holds.
type Counts struct {
	Contacts   int `json:"contacts"`
	Messages   int `json:"messages"`
	Calls      int `json:"calls"`
	Notes      int `json:"notes"`
	Media      int `json:"media"`
	Thumbnails int `json:"thumbnails"`
	// NotUnderstood counts files a source holds that miexit cannot read.
	NotUnderstood int `json:"not_understood"`
}

// Add counts n items of kind k.
func (c *Counts) Add(k Kind, n int) {
	switch k {
	case KindContact:
		c.Contacts += n
	case KindMessage:
		c.Messages += n
	case KindCall:
		c.Calls += n
	case KindNote:
		c.Notes += n
	case KindMedia:
		c.Media += n
	}
}

// Of returns the count for kind k.
func (c Counts) Of(k Kind) int {
	switch k {
	case KindContact:
		return c.Contacts
	case KindMessage:
		return c.Messages
	case KindCall:
		return c.Calls
	case KindNote:
		return c.Notes
	case KindMedia:
		return c.Media
	}
	return 0
}
