//go:build linux

package main

import (
	"fmt"
	"strings"
)

// setYAML sets the dotted key (gateway.producer.workers) to value in a
// block-style YAML document indented by two spaces, such as the
// templates here: an existing key's value is replaced (its comment
// dropped), a missing one is added under its deepest existing parent,
// creating the maps in between. Flow collections and multi-line values
// are not supported; value is written as given.
func setYAML(doc, key, value string) (string, error) {
	path := strings.Split(key, ".")
	for _, p := range path {
		if p == "" || strings.ContainsAny(p, ": ") {
			return "", fmt.Errorf("key %q: want dotted names such as gateway.producer.workers", key)
		}
	}
	lines := strings.Split(doc, "\n")
	depth, at := 0, len(lines) // matched path elements; where to insert
	for i, line := range lines {
		trim := strings.TrimLeft(line, " ")
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		indent := (len(line) - len(trim)) / 2
		if indent < depth { // left the matched parent: insert before this line
			at = i
			break
		}
		if indent > depth {
			continue
		}
		name, _, ok := strings.Cut(trim, ":")
		if !ok || name != path[depth] {
			continue
		}
		if depth == len(path)-1 {
			lines[i] = strings.Repeat("  ", indent) + name + ": " + value
			return strings.Join(lines, "\n"), nil
		}
		depth++
		at = len(lines)
	}
	// Insert the missing part of the path after the matched parent's
	// last line (before trailing blank lines).
	for at > 0 && strings.TrimSpace(lines[at-1]) == "" {
		at--
	}
	var add []string
	for d := depth; d < len(path); d++ {
		l := strings.Repeat("  ", d) + path[d] + ":"
		if d == len(path)-1 {
			l += " " + value
		}
		add = append(add, l)
	}
	out := append(append(append([]string{}, lines[:at]...), add...), lines[at:]...)
	return strings.Join(out, "\n"), nil
}
