package report

import "html/template"

// style is inlined in every page: the pages open from a folder or a USB
// stick with no network.
const style = `<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Color Emoji",sans-serif;margin:0 auto;max-width:50rem;padding:1rem;color:#222;background:#fafafa}
h1{font-size:1.4rem}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fde8e8}
.msg{margin:.5rem 0;padding:.5rem .75rem;border-radius:.75rem;max-width:80%;background:#fff;border:1px solid #ddd;white-space:pre-wrap;overflow-wrap:anywhere}
.msg.sent{margin-left:auto;background:#dcf3dc}
.meta{font-size:.8rem;color:#666;white-space:normal}
.msg img{display:block;max-width:100%;height:auto;margin:.3rem 0}
figure{display:inline-block;margin:.5rem;max-width:180px;vertical-align:top}
figcaption{font-size:.8rem;overflow-wrap:anywhere}
.next{font-size:1.1rem;padding:.75rem;border-radius:.5rem;background:#fff3cd}
.next.ok{background:#d4edda}
</style>`

var indexTmpl = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Messages</title>` + style + `</head><body>
<h1>Messages{{with .Source}} from {{.}}{{end}}</h1>
<table><thead><tr><th>Conversation</th><th>Messages</th><th>Last</th></tr></thead><tbody>
{{range .Rows}}<tr><td><a href="{{.File}}">{{.Title}}</a></td><td class="n">{{.Count}}</td><td>{{.Last}}</td></tr>
{{else}}<tr><td colspan="3">No messages.</td></tr>
{{end}}</tbody></table>
</body></html>
`))

var pageHead = template.Must(template.New("head").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>` + style + `</head><body>
<p><a href="index.html">All conversations</a></p>
<h1>{{.Title}}</h1>
<p class="meta">{{.Count}} messages</p>
`))

var pageMsgTmpl = template.Must(template.New("msg").Parse(`<div class="msg{{if .Sent}} sent{{end}}"><div class="meta">{{.From}} · {{.Date}}</div>
{{- with .Subject}}<strong>{{.}}</strong>
{{end}}{{.Body}}{{range .Images}}<img src="{{.Src}}" alt="{{.Alt}}">{{end}}
{{- range .Files}}<div><a href="{{.Href}}">{{.Name}}</a></div>{{end}}</div>
`))

var pageFoot = template.Must(template.New("foot").Parse(`</body></html>
`))

var reportTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>miexit report</title>` + style + `</head><body>
<h1>miexit report</h1>
<p class="meta">{{with .Source}}From {{.}}{{end}}{{with .Destination}} to {{.}}{{end}}{{with .Generated}} · {{.}}{{end}}</p>
<p class="next{{if .Safe}} ok{{end}}" id="next-step">{{.Next}}</p>
<h2>What was copied</h2>
<table id="summary"><thead><tr><th>Kind</th><th>Found</th><th>Copied</th><th>Already there</th><th>Skipped</th><th>Failed</th></tr></thead><tbody>
{{range .Rows}}<tr{{if .Failed}} class="bad"{{end}}><td>{{.Kind}}</td><td class="n">{{.Found}}</td><td class="n">{{.Copied}}</td><td class="n">{{.Unchanged}}</td><td class="n">{{.Skipped}}{{range .Reasons}}<div class="meta">{{.Count}} × {{.Reason}}</div>{{end}}</td><td class="n">{{.Failed}}</td></tr>
{{end}}</tbody></table>
{{with .Failures}}<h2>Failed items</h2><ul id="failures">{{range .}}<li>{{.Kind}} {{.Item}}: {{.Err}}</li>{{end}}</ul>{{end}}
{{if or .Pictures .Thumbnails}}<h2>Pictures</h2>{{with .Thumbnails}}<p class="meta" id="reduced">{{.}} photo(s) in all are only reduced copies in this source; the first are shown here.</p>{{end}}<div id="pictures">{{range .Pictures}}<figure>{{with .Src}}<img src="{{.}}" alt="">{{end}}<figcaption>{{.Title}}{{with .Note}} — {{.}}{{end}}</figcaption></figure>{{end}}</div>{{end}}
<h2>Verify</h2>
{{with .Verify}}<p>Destination: {{.Destination}} — {{if .OK}}every item found and identical.{{else}}gaps found.{{end}}</p>
<table id="verify"><thead><tr><th>Kind</th><th>Source</th><th>Destination</th><th>Missing</th><th>Different</th><th>Extra</th></tr></thead><tbody>
{{range .Rows}}<tr{{if or .Missing .Different}} class="bad"{{end}}><td>{{.Kind}}</td><td class="n">{{.Source}}</td><td class="n">{{.Destination}}</td><td class="n">{{.Missing}}</td><td class="n">{{.Different}}</td><td class="n">{{.Extra}}</td></tr>
{{end}}</tbody></table>
{{with .Problems}}<table id="problems"><thead><tr><th>Kind</th><th>Item</th><th>Problem</th><th>Detail</th></tr></thead><tbody>
{{range .}}<tr><td>{{.Kind}}</td><td>{{or .Path .Key}}</td><td>{{.Problem}}</td><td>{{.Detail}}</td></tr>
{{end}}</tbody></table>{{end}}
{{else}}<p>Verify has not run.</p>{{end}}
</body></html>
`))
