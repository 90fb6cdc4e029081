package micloud

import (
	"html"
	"regexp"
	"strconv"
	"strings"
)

// imageRef is how the notes app marks an inline image: "☺ " and the file
// id, sometimes followed by "<0/></>" and a caption.
var (
	imageRef = regexp.MustCompile(`☺ ([0-9A-Za-z._\-]+)(?:<0/></>|<[^>]*/>)*`)
	tagRe    = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9_-]*)([^>]*?)(/?)>`)
	attrRe   = regexp.MustCompile(`([a-zA-Z_]+)="([^"]*)"`)
	soundRe  = regexp.MustCompile(`<sound fileid="([^"]*)"\s*/>`)
)

// noteMarkdown turns the notes app's markup (<text>, <bullet>, <order>,
// <input type="checkbox">, <b>, <i>, <u>, <delete>, sizes, <hr />, images
// as "☺ <fileId>") into Markdown. link maps a file id to the relative link
// of its downloaded copy ("" when there is none).
func noteMarkdown(content string, link func(fileID string) string) string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(content, "\r\n", "\n"), "\n") {
		out = append(out, markdownLine(line, link))
	}
	// Each line of a note is its own line on screen; Markdown would join
	// consecutive plain lines into one paragraph, so they end with a hard
	// break (two spaces) when another line follows.
	for i := 0; i+1 < len(out); i++ {
		if out[i] != "" && out[i+1] != "" && !isBlock(out[i]) && !isBlock(out[i+1]) {
			out[i] += "  "
		}
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

func markdownLine(line string, link func(string) string) string {
	line = imageRef.ReplaceAllStringFunc(line, func(m string) string {
		id := imageRef.FindStringSubmatch(m)[1]
		if l := link(id); l != "" {
			return "![](" + l + ")"
		}
		return "[image " + id + " not downloaded]"
	})
	line = soundRe.ReplaceAllStringFunc(line, func(m string) string {
		id := soundRe.FindStringSubmatch(m)[1]
		if l := link(id); l != "" {
			return "[audio](" + l + ")"
		}
		return "[audio " + id + "]"
	})
	prefix := ""
	var b strings.Builder
	rest := line
	for {
		loc := tagRe.FindStringSubmatchIndex(rest)
		if loc == nil {
			b.WriteString(html.UnescapeString(rest))
			break
		}
		b.WriteString(html.UnescapeString(rest[:loc[0]]))
		closing := rest[loc[2]:loc[3]] == "/"
		name := strings.ToLower(rest[loc[4]:loc[5]])
		attrs := map[string]string{}
		for _, a := range attrRe.FindAllStringSubmatch(rest[loc[6]:loc[7]], -1) {
			attrs[strings.ToLower(a[1])] = a[2]
		}
		indent := ""
		if n, err := strconv.Atoi(attrs["indent"]); err == nil && n > 1 {
			indent = strings.Repeat("  ", min(n-1, 10))
		}
		switch name {
		case "b":
			b.WriteString("**")
		case "i":
			b.WriteString("*")
		case "delete":
			b.WriteString("~~")
		case "bullet":
			prefix = indent + "- "
		case "order":
			n, _ := strconv.Atoi(attrs["inputnumber"])
			prefix = indent + strconv.Itoa(n+1) + ". "
		case "input":
			if attrs["type"] == "checkbox" {
				if attrs["checked"] == "true" {
					prefix = indent + "- [x] "
				} else {
					prefix = indent + "- [ ] "
				}
			}
		case "hr":
			prefix = "---"
		case "size":
			if !closing && prefix == "" {
				prefix = "# "
			}
		case "mid-size":
			if !closing && prefix == "" {
				prefix = "## "
			}
		case "h3-size":
			if !closing && prefix == "" {
				prefix = "### "
			}
		case "quote":
			if !closing && prefix == "" {
				prefix = "> "
			}
		}
		// Everything else (<text>, <u>, <background>, <center>, ...) has no
		// Markdown form: its text stays, the tag goes.
		rest = rest[loc[1]:]
	}
	text := b.String()
	if prefix == "---" {
		return "---"
	}
	return prefix + text
}

var blockRe = regexp.MustCompile(`^\s*(- |\d+\. |#|> |---$)`)

// isBlock reports a Markdown line that stands on its own (list item,
// heading, quote, rule).
func isBlock(line string) bool { return blockRe.MatchString(line) }

// plainTitle is the first non-empty line of a note, for notes without one.
func plainTitle(content string) string {
	for _, line := range strings.Split(content, "\n") {
		line = imageRef.ReplaceAllString(line, "")
		line = strings.TrimSpace(html.UnescapeString(tagRe.ReplaceAllString(line, "")))
		if line != "" {
			r := []rune(line)
			if len(r) > 60 {
				line = string(r[:60])
			}
			return line
		}
	}
	return ""
}
