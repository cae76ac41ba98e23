package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds a configuration file. The default is under 5 KiB; a
// much larger file is a mistake (a log, a disk image), and reading it
// whole would let one bad reload grow the running daemon without bound.
// yaml.v3 holds the whole node tree, about 100 bytes of memory for each
// byte of a file of keys at its peak: 128 KiB grows a reloading daemon by
// about 9 MB (64 KiB: 7 MB, 256 KiB: 15 MB), against 800 MB unbounded.
const MaxFileBytes = 128 << 10

// Load reads the file at path and builds its configuration over the
// built-in defaults. path must be a regular file of at most MaxFileBytes.
func Load(path string) (*Config, error) {
	data, err := readFile(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Default returns the built-in configuration.
func Default() *Config {
	c, err := Parse(DefaultName, nil)
	if err != nil {
		panic(err) // configs/gatewayd.yaml is tested; it cannot be bad at run time
	}
	return c
}

// Parse builds the configuration in data, read from file, over the
// built-in defaults: a key left out keeps its default, and an empty file
// means the defaults. Files the configuration names (tokens_file,
// password_file, the certificates) are read too. Every problem found is
// returned at once as Problems, in file order, at most MaxProblems of them.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{}
	defaults := &problemList{file: DefaultName}
	decodeInto(DefaultName, DefaultYAML, c, nil, defaults)
	if ps := defaults.problems(); ps != nil {
		return nil, ps
	}
	ps := &problemList{file: file}
	lines := map[string]int{}
	decodeInto(file, data, c, lines, ps)
	c.File = file
	c.settings = c.build(&builder{file: file, lines: lines, ps: ps})
	if ps := ps.problems(); ps != nil {
		return nil, ps
	}
	return c, nil
}

// decodeInto decodes data onto c strictly, recording the line of every
// key it sees in lines.
func decodeInto(file string, data []byte, c *Config, lines map[string]int, ps *problemList) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) { // an empty file: defaults
			ps.decodeFailed(syntaxProblem(file, err))
		}
		return
	}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		return // only comments
	}
	d := &decoder{file: file, lines: lines, ps: ps}
	d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	// A second document would be silently ignored: say so instead.
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		ps.decodeFailed(syntaxProblem(file, err))
	default:
		ps.decodeFailed(Problem{File: file, Line: more.Line, Msg: "a second YAML document (after ---): the configuration is one document"})
	}
}

// syntaxProblem turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// Problem with the line pulled out.
func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	// yaml.v3 numbers the lines of its parser's errors from 0 (and leaves
	// out line 0), unlike its scanner's, which it numbers from 1.
	if parserErrors[msg] {
		line++
	}
	return Problem{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// parserErrors are the messages of yaml.v3's parser (parserc.go), as
// opposed to its scanner.
var parserErrors = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// decoder walks a YAML node tree against the Config struct itself, so that
// unknown keys and wrong types are reported with their key, which yaml.v3's
// own KnownFields errors do not name, and all of them at once.
type decoder struct {
	file  string
	lines map[string]int
	ps    *problemList
}

// maxListItems bounds every list in the file: far more than any real
// allow list or LED list, and little enough that a file of aliases cannot
// make the decoder's work explode.
const maxListItems = 4096

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func (d *decoder) add(line int, key, format string, args ...any) {
	d.ps.decodeFailed(Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.lines != nil && key != "" {
		d.lines[key] = n.Line
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.add(n.Line, key, "%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, key)
	case reflect.Slice:
		d.decodeSlice(n, v, key)
	default:
		d.decodeScalar(n, v, key)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return // "limits:" with nothing under it keeps the defaults
		}
		d.add(n.Line, key, "want a mapping of keys, got %s", describe(n))
		return
	}
	fields := fieldsByTag(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		path := join(key, k.Value)
		idx, ok := fields[k.Value]
		// These two leave the value as it was: no problem is about to
		// follow from a default, and a file of thousands of unknown keys
		// must not cost a map entry each.
		if !ok {
			d.ps.append(Problem{File: d.file, Line: k.Line, Key: path, Msg: "unknown key" + suggestion(k.Value, fields)})
			continue
		}
		if seen[k.Value] {
			d.ps.append(Problem{File: d.file, Line: k.Line, Key: path, Msg: "key given twice"})
			continue
		}
		seen[k.Value] = true
		if d.lines != nil {
			d.lines[path] = k.Line
		}
		d.decode(val, v.Field(idx), path)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, key string) {
	if n.Tag == "!!null" {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.add(n.Line, key, "want a list, got %s", describe(n))
		return
	}
	if len(n.Content) > maxListItems {
		d.add(n.Line, key, "a list of %d items; at most %d are taken", len(n.Content), maxListItems)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", key, i))
	}
	v.Set(s)
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, key, "want %s, got %s", kindName(v.Kind()), describe(n))
		return
	}
	if n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" {
			d.add(n.Line, key, "want a string, got %s (quote it)", describe(n))
			return
		}
	case reflect.Int:
		if n.Tag != "!!int" {
			d.add(n.Line, key, "want a whole number, got %s", describe(n))
			return
		}
	case reflect.Bool:
		if n.Tag != "!!bool" {
			d.add(n.Line, key, "want true or false, got %s", describe(n))
			return
		}
	}
	// The tag checks above leave one failure: a number too big for an int.
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.add(n.Line, key, "%s is out of range", describe(n))
	}
}

func fieldsByTag(t reflect.Type) map[string]int {
	fields := map[string]int{}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	return fields
}

// suggestion names the key the user probably meant, if one is close.
func suggestion(got string, fields map[string]int) string {
	best, bestDist := "", 3
	for name := range fields {
		if dist := editDistance(got, name); dist < bestDist || (dist == bestDist && name < best) {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	}
	return k.String()
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
