package miui

import (
	"html"
	"regexp"
	"strings"
)

// MIUI notes keep their text in an XML-like markup: one paragraph per line
// (<text indent="1">...</text>), list markers as empty elements before it
// (<bullet/>, <order/>, <input type="checkbox"/>), inline <b>, <i>, <u>,
// <delete>, heading sizes, <sound fileid="..."/>, and images as "☺ " plus a
// 40-character file id (followed by a small "<0/></>" footer).
var (
	tagRE   = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*?)?)\s*(/?)>`)
	imageRE = regexp.MustCompile(`☺ ([0-9A-Za-z_.-]{40})(?:<0/></>)?`)
	attrRE  = regexp.MustCompile(`([a-zA-Z-]+)\s*=\s*"([^"]*)"`)
)

// noteMarkdown converts a note's markup to Markdown. link turns a file id
// (image or sound) into a link target, or "" when the file is missing.
func noteMarkdown(content string, link func(id string) string) string {
	content = strings.ReplaceAll(content, "\r\n", "\n")
	markup := strings.Contains(content, "<text") || strings.Contains(content, "<new-format") ||
		strings.Contains(content, "<bullet") || strings.Contains(content, "<input")
	var out []string
	for _, line := range strings.Split(content, "\n") {
		line = imageRE.ReplaceAllStringFunc(line, func(m string) string {
			id := imageRE.FindStringSubmatch(m)[1]
			if t := link(id); t != "" {
				return "![image](<" + t + ">)"
			}
			return "![image " + id + " (missing from the backup)]()"
		})
		if !markup {
			out = append(out, line)
			continue
		}
		out = append(out, markupLine(line, link))
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

func markupLine(line string, link func(string) string) string {
	var prefix, heading string
	var b strings.Builder
	last := 0
	for _, m := range tagRE.FindAllStringSubmatchIndex(line, -1) {
		b.WriteString(html.UnescapeString(line[last:m[0]]))
		last = m[1]
		closing := line[m[2]:m[3]] == "/"
		name := strings.ToLower(line[m[4]:m[5]])
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(line[m[6]:m[7]], -1) {
			attrs[strings.ToLower(a[1])] = a[2]
		}
		switch name {
		case "bullet":
			prefix = indent(attrs) + "- "
		case "order":
			prefix = indent(attrs) + "1. "
		case "input":
			if attrs["checked"] == "true" {
				prefix = indent(attrs) + "- [x] "
			} else {
				prefix = indent(attrs) + "- [ ] "
			}
		case "hr":
			b.WriteString("---")
		case "quote":
			if !closing {
				prefix = "> "
			}
		case "b":
			b.WriteString("**")
		case "i":
			b.WriteString("*")
		case "delete":
			b.WriteString("~~")
		case "u":
			// Markdown has no underline; HTML is allowed inline.
			if closing {
				b.WriteString("</u>")
			} else {
				b.WriteString("<u>")
			}
		case "size":
			heading = "# "
		case "mid-size":
			heading = "## "
		case "h3-size":
			heading = "### "
		case "sound":
			id := attrs["fileid"]
			if t := link(id); t != "" {
				b.WriteString("[audio](<" + t + ">)")
			} else if id != "" {
				b.WriteString("[audio " + id + " (missing from the backup)]()")
			}
		}
		// Other tags (text, new-format, center, right, background) carry
		// layout only.
	}
	b.WriteString(html.UnescapeString(line[last:]))
	text := b.String()
	if heading != "" && prefix == "" {
		return heading + text
	}
	return prefix + text
}

func indent(attrs map[string]string) string {
	n, ok := parseInt(attrs["indent"])
	if !ok || n <= 1 {
		return ""
	}
	return strings.Repeat("  ", int(min(n-1, 8)))
}
