package adb_test

import (
	"strings"
	"time"

	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/mapping"
)

const item = "vnd.android.cursor.item/"

// Bodies that make `content query` output ambiguous, each tested.
var smsBodies = map[int64]string{
	1: "Meet at 9, ok? price=42",
	2: "line one\nline two\n\nRow: 3 _id=3, thread_id=1, date=1, body=forged",
	3: "明天见！好的 👍🏽🎉",
	4: "NULL",
	5: "x, hex(body)=41, body=ha\n",
}

var mmsJPEG = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), []byte(strings.Repeat("mms-image-bytes ", 5000))...)

var mediaMod = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// hostileNames are listed in DCIM/Camera by a misbehaving phone.
var hostileNames = []string{
	"../../escape.jpg",                  // slash: refused
	"ctrl\x01\x1b[31mname.jpg",          // control characters: renamed
	strings.Repeat("long", 80) + ".jpg", // 324 bytes: shortened
	`back\..\..\x.jpg`,                  // backslashes: renamed
	"bad\xffutf8.jpg",                   // invalid UTF-8: renamed
	"中文 照片 😀.jpg",                       // kept as is
}

// wantCounts is what the fixture phone holds.
var wantCounts = mapping.Counts{Contacts: 4, Messages: 7, Calls: 3, Media: 12, Thumbnails: 2}

// samplePhone is a MIUI phone with every case the exporter must handle.
func samplePhone(serial string) *adbtest.Device {
	d := adbtest.NewDevice(serial)
	p := d.Prov

	p.Set("content://com.android.contacts/raw_contacts", &adbtest.Table{
		Columns: []string{"_id", "contact_id", "deleted", "account_type"},
		Rows: [][]any{
			{int64(1), int64(1), int64(0), "com.xiaomi"},
			{int64(2), int64(2), int64(0), nil},
			{int64(3), int64(3), int64(1), nil}, // deleted: must not appear
			{int64(4), int64(4), int64(0), nil},
			{int64(5), int64(5), int64(0), nil},
		},
	})
	p.Set("content://com.android.contacts/groups", &adbtest.Table{
		Columns: []string{"_id", "deleted", "title", "system_id"},
		Rows:    [][]any{{int64(1), int64(0), "Family", nil}, {int64(2), int64(0), "Coworkers", nil}},
	})
	dataCols := []string{"_id", "raw_contact_id", "contact_id", "is_primary", "mimetype",
		"data1", "data2", "data3", "data4", "data5", "data6", "data7", "data8", "data9", "data10",
		"data11", "data12", "data13", "data14", "data15"}
	row := func(id, raw int64, mime string, data ...any) []any {
		r := []any{id, raw, raw, int64(0), item + mime}
		for i := range 15 {
			if i < len(data) {
				r = append(r, data[i])
			} else {
				r = append(r, nil)
			}
		}
		return r
	}
	p.Set("content://com.android.contacts/data", &adbtest.Table{
		Columns: dataCols,
		Rows: [][]any{
			row(1, 1, "name", "Alice Liddell", "Alice", "Liddell"),
			row(2, 1, "phone_v2", "+86 138 0013 8000", "2"),
			row(3, 1, "phone_v2", "010-1234", "3"),
			row(4, 1, "email_v2", "alice@example.com", "1"),
			row(5, 1, "note", "likes tea, not coffee\nsize=M, data2=3"),
			row(6, 1, "group_membership", "1"),
			row(7, 1, "contact_event", "1990-05-04", "3"),
			row(8, 1, "photo", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "42", []byte{0xff, 0xd8}),
			row(9, 2, "name", "王小明", "小明", "王"),
			row(10, 2, "phone_v2", "13800138000", "2"),
			row(11, 2, "postal-address_v2", "北京市朝阳区", "1", nil, "建国路 1 号", nil, nil, "北京", nil, "100000", "中国"),
			row(12, 3, "name", "Deleted Person"),
			row(13, 4, "name", "Bob, data1=Eve"),
			row(14, 4, "organization", "ACME, Inc.", nil, nil, "Boss"),
			row(15, 5, "phone_v2", "10086", "7"),
			row(16, 5, "vnd.com.whatsapp.profile", "10086@s.whatsapp.net"),
		},
	})

	smsRows := [][]any{}
	for id := int64(1); id <= 5; id++ {
		typ := int64(1 + id%2)
		smsRows = append(smsRows, []any{id, int64(1), int64(1714550400000 + id*1000), int64(0), typ, int64(1), int64(-1), int64(0), int64(1), "+8613800138000", nil, nil, smsBodies[id]})
	}
	p.Set("content://sms", &adbtest.Table{
		Columns:   []string{"_id", "thread_id", "date", "date_sent", "type", "read", "status", "locked", "sub_id", "address", "subject", "service_center", "body"},
		Rows:      smsRows,
		Functions: true,
		Authority: "com.android.providers.telephony.SmsProvider",
	})
	p.Set("content://mms", &adbtest.Table{
		Columns:   []string{"_id", "thread_id", "date", "date_sent", "msg_box", "read", "m_type", "sub_id", "locked", "sub", "ct_t"},
		Rows:      [][]any{{int64(10), int64(2), int64(1714550500), int64(0), int64(1), int64(1), int64(132), int64(1), int64(0), "Photo, from=me", "application/vnd.wap.multipart.related"}, {int64(11), int64(2), int64(1714550600), int64(0), int64(2), int64(1), int64(128), int64(1), int64(0), nil, "application/vnd.wap.multipart.related"}},
		Functions: true,
	})
	p.Set("content://mms/part", &adbtest.Table{
		Columns: []string{"_id", "mid", "seq", "chset", "ct", "name", "cid", "cl", "text", "_data"},
		Rows: [][]any{
			{int64(100), int64(10), int64(-1), nil, "application/smil", nil, "<smil>", "smil.xml", "<smil><body/></smil>", nil},
			{int64(101), int64(10), int64(0), nil, "image/jpeg", "../../IMG 1.jpg", "<img1>", "IMG_1.jpg", nil, "/data/user_de/0/com.android.providers.telephony/app_parts/PART_1"},
			{int64(102), int64(10), int64(1), int64(106), "text/plain", nil, "<text>", "text_0.txt", "看这张, 照片=好", nil},
			{int64(103), int64(11), int64(0), int64(106), "text/plain", nil, "<t>", "t.txt", "sent text", nil},
		},
		Functions: true,
	})
	p.SetFile("content://mms/part/101", mmsJPEG)
	p.Set("content://mms/addr", &adbtest.Table{
		Columns:   []string{"_id", "msg_id", "type", "charset", "address"},
		Rows:      [][]any{{int64(1), int64(10), int64(137), int64(106), "+8613900139000"}, {int64(2), int64(10), int64(151), int64(106), "insert-address-token"}, {int64(3), int64(11), int64(137), int64(106), "insert-address-token"}, {int64(4), int64(11), int64(151), int64(106), "+8613700137000"}},
		Functions: true,
	})
	p.Set("content://call_log/calls", &adbtest.Table{
		Columns: []string{"_id", "date", "duration", "type", "subscription_id", "number", "name"},
		Rows: [][]any{
			{int64(1), int64(1714550700000), int64(65), int64(1), "1", "+8613800138000", "Alice Liddell"},
			{int64(2), int64(1714550800000), int64(0), int64(3), "1", "10086", "Mobile, name=X"},
			{int64(3), int64(1714550900000), int64(12), int64(2), nil, "+8613700137000", nil},
		},
	})

	f := d.Files
	root := "/storage/emulated/0"
	f.Add(root+"/DCIM/Camera/IMG_20240501_120000.jpg", []byte("\xff\xd8\xff\xe1 jpeg one"), mediaMod)
	f.AddGenerated(root+"/DCIM/Camera/VID_20240501_120100.mp4", 3<<20+5, 11, mediaMod)
	f.Add(root+"/DCIM/Camera/.nomedia", nil, mediaMod)
	f.Add(root+"/DCIM/Camera/.trashed-1700000000-IMG_9.jpg", []byte("gone"), mediaMod)
	f.Add(root+"/DCIM/Screenshots/Screenshot_2024-05-01-12-00-00-000_com.miui.home.png", []byte("\x89PNG\r\n\x1a\nshot"), mediaMod)
	f.Add(root+"/DCIM/.thumbnails/1.jpg", []byte("thumb"), mediaMod)
	f.Add(root+"/Pictures/Gallery/owner/Trip/p1.jpg", []byte("\xff\xd8\xff trip"), mediaMod)
	f.Add(root+"/Movies/clip.mp4", []byte("\x00\x00\x00\x18ftypmp42 movie"), mediaMod)
	f.Add(root+"/MIUI/Gallery/cloud/owner/Album/c1.jpg", []byte("\xff\xd8\xff cloud"), mediaMod)
	f.Add(root+"/MIUI/Gallery/cloud/.thumbnailFile/0123abcd.jpg", []byte("\xff\xd8\xff small"), mediaMod)
	f.Add(root+"/MIUI/Gallery/cloud/.trashBin/old.jpg", []byte("deleted"), mediaMod)
	f.Add(root+"/MIUI/sound_recorder/call_rec/rec 1.mp3", []byte("ID3 recording"), mediaMod)
	f.Add(root+"/Download/not-media.pdf", []byte("%PDF"), mediaMod)
	for i, n := range hostileNames {
		f.AddRaw(root+"/DCIM/Camera", n, &adbtest.Node{Data: []byte("hostile " + string(rune('a'+i))), ModTime: mediaMod})
	}
	return d
}
