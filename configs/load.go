package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problems is every problem found in one configuration file, in file order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Problem is one mistake, located by file, line and key.
type Problem struct {
	File string
	Line int    // 0 when the key was not written (a default is at fault)
	Key  string // dotted path such as "limits.idle_timeout" or "gpio.leds[1].pin"
	Msg  string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Key == "" {
		return fmt.Sprintf("%s: %s", loc, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
}

// Load reads and validates the file at path over the built-in defaults.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
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

// Parse validates data, read from file, over the built-in defaults: a key
// left out keeps its default, and an empty file means the defaults. Every
// problem found is returned at once as Problems.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{}
	if errs := decodeInto(DefaultName, DefaultYAML, c, nil); len(errs) > 0 {
		return nil, errs
	}
	lines := map[string]int{}
	errs := decodeInto(file, data, c, lines)
	c.File = file
	// A key whose value could not be decoded kept its default; a second
	// problem about that default would only mislead.
	bad := map[string]bool{}
	for _, p := range errs {
		bad[p.Key] = true
	}
	for _, p := range c.validate(file, lines) {
		if !bad[p.Key] {
			errs = append(errs, p)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// decodeInto decodes data onto c strictly, recording the line of every
// key it sees in lines.
func decodeInto(file string, data []byte, c *Config, lines map[string]int) Problems {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: defaults
		}
		return Problems{syntaxProblem(file, err)}
	}
	d := &decoder{file: file, lines: lines}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		return nil // only comments
	}
	d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	// A second document would be silently ignored: say so instead.
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.problems = append(d.problems, syntaxProblem(file, err))
	default:
		d.problems = append(d.problems, Problem{File: file, Line: more.Line, Msg: "a second YAML document (after ---): the configuration is one document"})
	}
	return d.problems
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
	file     string
	lines    map[string]int
	problems Problems
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func (d *decoder) add(line int, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
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
		if !ok {
			d.add(k.Line, path, "unknown key%s", suggestion(k.Value, fields))
			continue
		}
		if seen[k.Value] {
			d.add(k.Line, path, "key given twice")
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
