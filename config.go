package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// newViper reads config.yaml (or --config) and LOGSYS_* environment
// variables on top of defaults taken from the roles' default configs, so
// every key is settable by file, env and flag.
func newViper(cmd *cobra.Command, defaults map[string]any) (*viper.Viper, error) {
	v := viper.New()
	for section, d := range defaults {
		setDefaults(v, section, reflect.ValueOf(d))
	}
	v.SetEnvPrefix("LOGSYS")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	path, _ := cmd.Flags().GetString("config")
	switch {
	case path != "":
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
	default:
		if _, err := os.Stat("config.yaml"); err == nil {
			v.SetConfigFile("config.yaml")
			if err := v.ReadInConfig(); err != nil {
				return nil, fmt.Errorf("read config config.yaml: %w", err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read config config.yaml: %w", err)
		}
	}
	return v, nil
}

// setDefaults registers every leaf field of a config struct as a viper key
// (named by its mapstructure tag) with its default value.
func setDefaults(v *viper.Viper, prefix string, rv reflect.Value) {
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		key := prefix + "." + tag
		fv := rv.Field(i)
		if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			setDefaults(v, key, fv)
			continue
		}
		if fv.Kind() == reflect.Interface || fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Func {
			continue
		}
		v.SetDefault(key, fv.Interface())
	}
}

// bindFlag ties a command flag to a viper key when the flag was given.
func bindFlag(v *viper.Viper, cmd *cobra.Command, flag, key string) error {
	f := cmd.Flags().Lookup(flag)
	if f == nil {
		return fmt.Errorf("no flag --%s", flag)
	}
	if err := v.BindPFlag(key, f); err != nil {
		return fmt.Errorf("bind --%s: %w", flag, err)
	}
	return nil
}

// unmarshal decodes one section into out.
func unmarshal(v *viper.Viper, section string, out any) error {
	if err := v.UnmarshalKey(section, out); err != nil {
		return fmt.Errorf("config section %s: %w", section, err)
	}
	return nil
}
