// Command gen writes config.yaml and docs/configuration.md from the
// configuration tree (go generate ./internal/config).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"logsys/internal/config"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	for path, data := range map[string][]byte{
		"config.yaml":           config.YAML(),
		"docs/configuration.md": config.Reference(),
	} {
		p := filepath.Join(*root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
