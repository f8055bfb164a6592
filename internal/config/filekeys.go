package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/viper"
)

// unknownKeys reports every key of the file at path that is not in the
// tree (a whole unknown section once), and values given where the tree has
// a section. The file is decoded here with viper's own codec for its
// extension rather than read back through viper, which drops empty maps:
// `gatway: {}` or `gateway: {tlss: {}}` would otherwise pass unnoticed.
// An empty or null section of the tree (`gateway: {}`) is fine.
func unknownKeys(path string, b []byte) (Errors, error) {
	raw, err := decodeRaw(path, b)
	if err != nil {
		return nil, err
	}
	var leaves []rawLeaf
	flatten(raw, "", &leaves)
	slices.SortFunc(leaves, func(a, b rawLeaf) int { return strings.Compare(a.key, b.key) })
	var errs Errors
	o := Origin{Source: SourceFile, Name: path}
	seen := map[string]bool{}
	for _, l := range leaves {
		if _, ok := byKey[l.key]; ok {
			continue
		}
		section, _, _ := strings.Cut(l.key, ".")
		switch {
		case !slices.Contains(sections, section):
			if !seen[section] {
				seen[section] = true
				errs = append(errs, &Error{Key: section, Origin: o, Msg: "unknown section" + suggest(section, sections)})
			}
		case isPrefix(l.key):
			if !l.empty {
				errs = append(errs, &Error{Key: l.key, Origin: o, Msg: "is a section: give its keys, not a value"})
			}
		default:
			errs = append(errs, &Error{Key: l.key, Origin: o, Msg: "unknown key" + suggest(l.key, keysAndSections())})
		}
	}
	return errs, nil
}

// keysAndSections lists every key and every (sub-)section of the tree,
// the candidates of a suggestion.
func keysAndSections() []string {
	var out []string
	for _, k := range Keys() {
		for i, c := range k {
			if c == '.' && !slices.Contains(out, k[:i]) {
				out = append(out, k[:i])
			}
		}
		out = append(out, k)
	}
	return out
}

// rawLeaf is a key of the file whose value is not a non-empty map: a
// scalar or list, or an empty (or null) section.
type rawLeaf struct {
	key   string // lower case, dotted, as viper sees it
	empty bool   // {} or null
}

func flatten(m map[string]any, prefix string, out *[]rawLeaf) {
	for k, v := range m {
		key := prefix + strings.ToLower(k)
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 0 {
				*out = append(*out, rawLeaf{key: key, empty: true})
				continue
			}
			flatten(v, key+".", out)
		case nil:
			*out = append(*out, rawLeaf{key: key, empty: true})
		default:
			*out = append(*out, rawLeaf{key: key})
		}
	}
}

// decodeRaw decodes the file's bytes with the codec of its type (fileType).
func decodeRaw(path string, b []byte) (map[string]any, error) {
	dec, err := viper.NewCodecRegistry().Decoder(fileType(path))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	m := map[string]any{}
	if err := dec.Decode(b, m); err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return m, nil
}

// fileType is the format of a configuration file: its extension when it
// names one (yaml, yml, json, toml), else YAML, so that a file without an
// extension, such as a mounted secret, reads as the YAML it is.
func fileType(path string) string {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if _, err := viper.NewCodecRegistry().Decoder(ext); err == nil {
		return ext
	}
	return "yaml"
}
