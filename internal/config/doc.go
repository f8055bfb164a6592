// Package config owns logsys's one configuration tree: File holds a
// section per command (the roles', the CA's, the probe's and the bench's own
// config structs), Default returns it filled with the documented defaults,
// Load layers defaults < file < LOGSYS_* environment < flags and decodes the
// whole tree at once, strictly (an unknown key or variable, a wrong type or
// a duration without a unit is an error naming the key and where it was
// set), and Loaded.Validate runs each section's own Validate, reporting full
// key paths. It is the only importer of viper.
//
// config.yaml at the repository root and docs/configuration.md are
// generated from the tree; a test fails when they drift.
//
//go:generate go run ./gen -root ../..
package config
