// debian/copyright against the Go modules compiled into the binaries, so a
// new dependency cannot ship without its licence.

package deploy

import (
	"debug/buildinfo"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dep5 is a machine-readable debian/copyright: its paragraphs, each a map
// of field to value (continuation lines joined with newlines).
func dep5(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var paras []map[string]string
	for _, block := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
		p := map[string]string{}
		var last string
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
				if last == "" {
					t.Fatalf("%s: continuation line %q before any field", path, line)
				}
				p[last] += "\n" + line
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("%s: line %q is not FIELD: VALUE", path, line)
			}
			last = k
			p[k] = strings.TrimSpace(v)
		}
		paras = append(paras, p)
	}
	return paras
}

var licenceSepRE = regexp.MustCompile(` (and|or) `)

// TestCopyrightCoversModules checks debian/copyright: DEP-5 with the header
// first, a Files paragraph (vendor/MODULE/*) for exactly the modules that
// `go version -m` finds in gatewayd and gatewayctl, each with a copyright,
// and a licence text for every licence named.
func TestCopyrightCoversModules(t *testing.T) {
	paras := dep5(t, "debian/copyright")
	if !strings.HasPrefix(paras[0]["Format"], "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0") {
		t.Fatalf("first paragraph has Format %q, want the DEP-5 1.0 URL", paras[0]["Format"])
	}
	var documented []string
	licences := map[string]bool{} // named licence -> has its text
	for _, p := range paras[1:] {
		if files, ok := p["Files"]; ok {
			if p["Copyright"] == "" {
				t.Errorf("Files %s: no Copyright", files)
			}
			name, text, _ := strings.Cut(p["License"], "\n")
			if name == "" {
				t.Errorf("Files %s: no License", files)
			}
			// "A and B" (both apply) or "A or B" (a choice): each
			// needs its text.
			for _, l := range licenceSepRE.Split(name, -1) {
				licences[l] = licences[l] || text != ""
			}
			if m, ok := strings.CutPrefix(files, "vendor/"); ok {
				documented = append(documented, strings.TrimSuffix(m, "/*"))
			}
			continue
		}
		name, text, _ := strings.Cut(p["License"], "\n")
		if name == "" || text == "" {
			t.Errorf("stand-alone paragraph %q: want License: NAME and its text", p)
		}
		licences[name] = true
	}
	for l, hasText := range licences {
		if !hasText {
			t.Errorf("licence %s is named but its text is nowhere in the file", l)
		}
	}

	var linked []string
	for _, bin := range []string{hostDaemon(t), hostCtl(t)} {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range info.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			if !slices.Contains(linked, d.Path) {
				linked = append(linked, d.Path)
			}
		}
	}
	sameSet(t, "debian/copyright Files: vendor/MODULE/*", documented, linked)
}
