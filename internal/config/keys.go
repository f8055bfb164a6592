package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// EnvPrefix starts every environment variable of the tree.
const EnvPrefix = "LOGSYS_"

// field is one leaf key of the tree.
type field struct {
	key   string // gateway.tls.pki_dir
	env   string // LOGSYS_GATEWAY_TLS_PKI_DIR
	typ   reflect.Type
	index []int // into File, for reflect.Value.FieldByIndex
}

var durationType = reflect.TypeOf(time.Duration(0))

// tree is every leaf of File in declaration order; byKey and byEnv index it.
var (
	tree     = mustWalk()
	byKey    = index(func(f field) string { return f.key })
	byEnv    = index(func(f field) string { return f.env })
	sections = sectionNames()
)

func mustWalk() []field {
	fs, err := walk(reflect.TypeOf(File{}), "", nil)
	if err != nil {
		panic(err) // the tree is static: TestTree catches this first
	}
	return fs
}

// walk lists the leaves of struct type t. A field is a key when it is
// exported and its mapstructure tag is not "-"; every key must be tagged
// and of a type the decoder handles.
func walk(t reflect.Type, prefix string, idx []int) ([]field, error) {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("mapstructure"), ",")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			return nil, fmt.Errorf("config: %s%s has no mapstructure tag (name the key or tag it \"-\")", prefix, sf.Name)
		}
		key := prefix + tag
		index := append(append([]int{}, idx...), i)
		switch {
		case sf.Type.Kind() == reflect.Struct:
			sub, err := walk(sf.Type, key+".", index)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case supported(sf.Type):
			out = append(out, field{key: key, env: EnvName(key), typ: sf.Type, index: index})
		default:
			return nil, fmt.Errorf("config: key %s has type %s, which the configuration cannot express (tag it \"-\")", key, sf.Type)
		}
	}
	return out, nil
}

func supported(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

func index(by func(field) string) map[string]field {
	m := make(map[string]field, len(tree))
	for _, f := range tree {
		m[by(f)] = f
	}
	return m
}

func sectionNames() []string {
	var out []string
	for _, f := range tree {
		s, _, _ := strings.Cut(f.key, ".")
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// EnvName is the environment variable of a key: LOGSYS_ and the key path
// upper-cased, dots as underscores (gateway.tls.pki_dir is
// LOGSYS_GATEWAY_TLS_PKI_DIR).
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys returns every key of the tree in the order of config.yaml.
func Keys() []string {
	out := make([]string, len(tree))
	for i, f := range tree {
		out[i] = f.key
	}
	return out
}

// isPrefix reports whether p is a section or sub-section of the tree
// (gateway, gateway.tls), as opposed to a leaf or nothing.
func isPrefix(p string) bool {
	for _, f := range tree {
		if strings.HasPrefix(f.key, p+".") {
			return true
		}
	}
	return false
}

// value returns the leaf of f in file.
func (fl field) value(f *File) reflect.Value {
	return reflect.ValueOf(f).Elem().FieldByIndex(fl.index)
}
