package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// maxTokenBytes bounds a token so that the longest hello, with a 64-byte
// ID, still fits the protocol's 256-byte line.
const maxTokenBytes = 128

func (c *Config) boards(b *builder) BoardSettings {
	s := BoardSettings{
		RequireHello: c.Boards.RequireHello,
		HelloTimeout: b.duration("boards.hello_timeout", c.Boards.HelloTimeout),
		TokensFile:   c.Boards.TokensFile,
		RequireToken: c.Boards.RequireToken,
	}
	if s.RequireToken && s.TokensFile == "" {
		b.add("boards.require_token", "needs boards.tokens_file: without it every board would be refused")
	}
	if s.TokensFile == "" {
		return s
	}
	data, err := readFile(s.TokensFile, maxTokensFileBytes)
	if err != nil {
		b.add("boards.tokens_file", "%v", err)
		return s
	}
	tokens, err := ParseTokens(s.TokensFile, data)
	var ps Problems
	switch {
	case errors.As(err, &ps):
		// Each problem names the tokens file and its line, after the
		// key that named the file.
		for _, p := range ps {
			b.add("boards.tokens_file", "%s", p)
		}
	case err != nil:
		b.add("boards.tokens_file", "%v", err)
	}
	s.Tokens = tokens
	return s
}

// ParseTokens parses a tokens file: a YAML mapping of board ID to token,
//
//	esp32-kitchen: 9f86d081884c7d65
//	esp32-garage: "2c26b46b68ffc68f"
//
// An ID is 1 to 64 characters of A-Z a-z 0-9 . _ -, as in a hello; a
// token is 1 to 128 printable ASCII characters without spaces. Problems
// name file and line, as Problems, and never quote a token.
func ParseTokens(file string, data []byte) (map[string]string, error) {
	ps := &problemList{file: file}
	tokens := map[string]string{}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return tokens, nil
		}
		ps.decodeFailed(syntaxProblem(file, err))
		return nil, ps.problems()
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null":
		return tokens, nil // comments only
	case root.Kind != yaml.MappingNode:
		ps.decodeFailed(Problem{File: file, Line: root.Line, Msg: fmt.Sprintf("want a mapping of board ID: token, got %s", describe(root))})
		return nil, ps.problems()
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if k.Kind != yaml.ScalarNode {
			ps.decodeFailed(Problem{File: file, Line: k.Line, Msg: fmt.Sprintf("want a board ID, got %s", describe(k))})
			continue
		}
		id := k.Value
		if err := checkBoardID(id); err != nil {
			ps.decodeFailed(Problem{File: file, Line: k.Line, Msg: err.Error()})
			continue
		}
		if line, dup := lines[id]; dup {
			ps.decodeFailed(Problem{File: file, Line: k.Line, Key: id, Msg: fmt.Sprintf("listed twice (first at line %d)", line)})
			continue
		}
		lines[id] = k.Line
		if err := checkToken(v); err != nil {
			ps.decodeFailed(Problem{File: file, Line: v.Line, Key: id, Msg: err.Error()})
			continue
		}
		tokens[id] = v.Value
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		ps.decodeFailed(syntaxProblem(file, err))
	default:
		ps.decodeFailed(Problem{File: file, Line: more.Line, Msg: "a second YAML document (after ---): the tokens file is one mapping"})
	}
	if ps := ps.problems(); ps != nil {
		return nil, ps
	}
	return tokens, nil
}

// checkBoardID is the hello protocol's rule for an ID.
func checkBoardID(id string) error {
	if len(id) < 1 || len(id) > 64 {
		return fmt.Errorf("board ID %q: must be 1 to 64 characters, got %d", id, len(id))
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("board ID %q: only A-Z a-z 0-9 . _ - are allowed", id)
		}
	}
	return nil
}

// checkToken checks a token's node without quoting its value, which is a
// secret.
func checkToken(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return fmt.Errorf("want a token, got %s", describeShape(n))
	}
	if n.Tag != "!!str" && n.Tag != "!!int" {
		return errors.New("want a token string (quote it)")
	}
	if n.Value == "" {
		return errors.New("empty token")
	}
	if len(n.Value) > maxTokenBytes {
		return fmt.Errorf("token is %d bytes; at most %d fit in a hello", len(n.Value), maxTokenBytes)
	}
	for i := 0; i < len(n.Value); i++ {
		if c := n.Value[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("token has a byte %#02x at %d; only printable ASCII without spaces is allowed", c, i)
		}
	}
	return nil
}

// describeShape is describe without the value.
func describeShape(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "nothing"
	}
	return "a value"
}
