// The manual pages in deploy/man against what the programs and the default
// configuration really offer, so the pages cannot drift from them.

package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatewayd/gatewayd/configs"
)

// manPage is a man(7) source split into its .SH sections and, below those,
// its .SS subsections, each holding the names its .TP entries give in bold:
//
//	.TP
//	.BI \-addr " HOST:PORT"
//
// gives "-addr".
type manPage struct {
	// entries maps "SECTION" and "SECTION/SUBSECTION" to their entries.
	entries map[string][]string
	// subsections maps a section to its subsections' first words.
	subsections map[string][]string
}

var entryRE = regexp.MustCompile(`^\.BI? +(\S+)`)

func readManPage(t *testing.T, path string) manPage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := manPage{entries: map[string][]string{}, subsections: map[string][]string{}}
	var sh, ss string
	afterTP := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ".SH "):
			sh, ss = strings.Trim(strings.TrimPrefix(line, ".SH "), `"`), ""
		case strings.HasPrefix(line, ".SS "):
			ss = subsectionName(strings.TrimPrefix(line, ".SS "))
			p.subsections[sh] = append(p.subsections[sh], ss)
		case afterTP:
			if m := entryRE.FindStringSubmatch(line); m != nil {
				name := strings.ReplaceAll(m[1], `\-`, "-")
				key := sh
				if ss != "" {
					key += "/" + ss
				}
				p.entries[key] = append(p.entries[key], name)
			}
		}
		afterTP = line == ".TP"
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return p
}

// subsectionName is the name of a .SS heading: its words up to the first
// font change, so ".SS pki init \fR[\fIFLAGS\fR]" names "pki init" and
// ".SS send \fR[\fIFLAGS\fR]" names "send".
func subsectionName(heading string) string {
	var words []string
	for _, w := range strings.Fields(strings.Trim(heading, `"`)) {
		if strings.HasPrefix(w, `\f`) {
			break
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// sameSet reports, as got/want lines, the names only one side has.
func sameSet(t *testing.T, what string, documented, real []string) {
	t.Helper()
	for _, n := range real {
		if !slices.Contains(documented, n) {
			t.Errorf("%s: %s exists but is not documented: add it to the page", what, n)
		}
	}
	for _, n := range documented {
		if !slices.Contains(real, n) {
			t.Errorf("%s: %s is documented but does not exist: remove it from the page", what, n)
		}
	}
}

var flagRE = regexp.MustCompile(`(?m)^  (-\S+)`)

// helpOf runs a program's help and returns what it printed. gatewayd -h
// exits 0 and gatewayctl help COMMAND too; the output is what matters.
func helpOf(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).CombinedOutput()
	return string(out)
}

// flagsOf runs a program's help and returns the flags it lists.
func flagsOf(t *testing.T, bin string, args ...string) []string {
	t.Helper()
	out := helpOf(bin, args...)
	var flags []string
	for _, m := range flagRE.FindAllStringSubmatch(out, -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 {
		t.Fatalf("%s %s listed no flags:\n%s", bin, strings.Join(args, " "), out)
	}
	return flags
}

// commandsIn returns the commands a help text lists below heading
// ("commands:" or "subcommands:"), and the text before it.
func commandsIn(help, heading string) (before string, commands []string) {
	before, list, ok := strings.Cut(help, "\n"+heading+"\n")
	if !ok {
		return help, nil
	}
	for _, m := range ctlCommandRE.FindAllStringSubmatch(list, -1) {
		commands = append(commands, m[1])
	}
	return before, commands
}

// TestManGatewayd checks gatewayd(8)'s OPTIONS against `gatewayd -h`.
func TestManGatewayd(t *testing.T) {
	page := readManPage(t, "man/gatewayd.8")
	sameSet(t, "gatewayd(8) OPTIONS", page.entries["OPTIONS"], flagsOf(t, hostDaemon(t), "-h"))
}

var (
	ctlCommandRE = regexp.MustCompile(`(?m)^  ([a-z]+) +\S`)
	ctlGlobalRE  = regexp.MustCompile(`\[(-[a-z]+)\]`)
)

// TestManGatewayctl checks gatewayctl(1): one COMMANDS subsection for each
// command `gatewayctl help` lists, holding exactly the flags
// `gatewayctl help COMMAND` lists, and the global flags of its usage line.
// A command made of subcommands (pki), whose help lists them instead of
// flags, has one subsection for each ("pki init") holding the flags of
// `gatewayctl help COMMAND SUB`, and none of its own.
func TestManGatewayctl(t *testing.T) {
	bin := hostCtl(t)
	page := readManPage(t, "man/gatewayctl.1")
	usage, commands := commandsIn(helpOf(bin, "help"), "commands:")
	if len(commands) < 2 {
		t.Fatalf("gatewayctl help listed commands %q:\n%s", commands, usage)
	}
	var pageCommands []string // the first word of each subsection
	for _, ss := range page.subsections["COMMANDS"] {
		pageCommands = append(pageCommands, strings.Fields(ss)[0])
	}
	sameSet(t, "gatewayctl(1) COMMANDS", pageCommands, commands)

	var global []string
	for _, m := range ctlGlobalRE.FindAllStringSubmatch(usage, -1) {
		global = append(global, m[1])
	}
	sameSet(t, "gatewayctl(1) OPTIONS", page.entries["OPTIONS"], global)

	var sections []string // every subsection the help implies
	for _, c := range commands {
		if c == "help" {
			sections = append(sections, c)
			continue // no flags of its own
		}
		if _, subs := commandsIn(helpOf(bin, "help", c), "subcommands:"); len(subs) > 0 {
			for _, sub := range subs {
				name := c + " " + sub
				sections = append(sections, name)
				sameSet(t, "gatewayctl(1) "+name, page.entries["COMMANDS/"+name], flagsOf(t, bin, "help", c, sub))
			}
			continue
		}
		sections = append(sections, c)
		sameSet(t, "gatewayctl(1) "+c, page.entries["COMMANDS/"+c], flagsOf(t, bin, "help", c))
	}
	sameSet(t, "gatewayctl(1) COMMANDS subsections", page.subsections["COMMANDS"], sections)
}

// TestManConfig checks gatewayd.yaml(5)'s KEYS against every key of the
// built-in default configuration (configs/gatewayd.yaml), which lists them
// all with their defaults.
func TestManConfig(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(configs.DefaultYAML, &doc); err != nil {
		t.Fatal(err)
	}
	keys := yamlKeys(doc.Content[0], "")
	if len(keys) < 10 {
		t.Fatalf("found only %d keys in the default configuration: %q", len(keys), keys)
	}
	page := readManPage(t, "man/gatewayd.yaml.5")
	var documented []string
	for section, entries := range page.entries {
		if strings.HasPrefix(section, "KEYS") {
			documented = append(documented, entries...)
		}
	}
	sort.Strings(documented)
	sameSet(t, "gatewayd.yaml(5) KEYS", documented, keys)
}

// yamlKeys lists every key below a mapping as a dotted path; the keys of a
// list's mappings appear as list[].key. A section (a key whose value is a
// mapping) is a heading on the page, not an entry.
func yamlKeys(n *yaml.Node, prefix string) []string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := prefix+n.Content[i].Value, n.Content[i+1]
		if v.Kind == yaml.MappingNode {
			keys = append(keys, yamlKeys(v, k+".")...)
			continue
		}
		keys = append(keys, k)
		if v.Kind == yaml.SequenceNode {
			for _, item := range v.Content {
				if item.Kind == yaml.MappingNode {
					for _, sub := range yamlKeys(item, k+"[].") {
						if !slices.Contains(keys, sub) {
							keys = append(keys, sub)
						}
					}
				}
			}
		}
	}
	return keys
}

// TestManPagesRender runs each page through man(1) with warnings on, as
// lintian does: a roff mistake is reported, not silently mis-rendered.
func TestManPagesRender(t *testing.T) {
	needTool(t, "man")
	for _, p := range []string{"man/gatewayd.8", "man/gatewayd.yaml.5", "man/gatewayctl.1"} {
		cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", p)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8", "MAN_KEEP_FORMATTING=0")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || len(out) == 0 {
			t.Errorf("man --warnings -l %s: %v, %d bytes, warnings:\n%s", p, err, len(out), stderr.String())
		}
	}
}
