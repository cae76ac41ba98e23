package configs

import (
	"fmt"
	"sort"
	"strings"
)

// Problems is every problem found in one configuration file, in file
// order. Beyond MaxProblems, the last says how many more were left out.
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

// MaxProblems is how many problems one file reports. A file of a million
// mistakes is one mistake repeated or not a configuration at all; its
// first problems say so, and the rest would only flood the log.
const MaxProblems = 50

// problemList collects problems in bounded memory: it keeps the first
// MaxProblems by line and counts the others.
type problemList struct {
	file    string
	list    Problems
	dropped int
	// undecoded is the keys whose values could not be decoded: they kept
	// their defaults, and a problem about a default would only mislead.
	undecoded map[string]bool
}

// decodeFailed adds a problem with a value as written.
func (l *problemList) decodeFailed(p Problem) {
	if l.undecoded == nil {
		l.undecoded = map[string]bool{}
	}
	l.undecoded[p.Key] = true
	l.append(p)
}

// add adds a problem with a value's meaning, unless decoding it failed.
func (l *problemList) add(p Problem) {
	if !l.undecoded[p.Key] {
		l.append(p)
	}
}

func (l *problemList) append(p Problem) {
	l.list = append(l.list, p)
	if len(l.list) >= 4*MaxProblems {
		l.trim()
	}
}

// trim sorts the problems into file order and keeps the first MaxProblems.
func (l *problemList) trim() {
	sort.SliceStable(l.list, func(i, j int) bool { return l.list[i].Line < l.list[j].Line })
	if len(l.list) > MaxProblems {
		l.dropped += len(l.list) - MaxProblems
		l.list = l.list[:MaxProblems:MaxProblems]
	}
}

// problems is every problem in file order, or nil; beyond MaxProblems the
// last one says how many more there were.
func (l *problemList) problems() Problems {
	if len(l.list) == 0 {
		return nil
	}
	l.trim()
	if l.dropped > 0 {
		return append(l.list, Problem{File: l.file, Msg: fmt.Sprintf("and %d more problems", l.dropped)})
	}
	return l.list
}
