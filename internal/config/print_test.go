package config

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestPrintRedactsAndShowsSources: config print hides tokens and DSN
// passwords and says where each value came from.
func TestPrintRedactsAndShowsSources(t *testing.T) {
	path := writeFile(t, "c.yaml", "consumer:\n  store:\n    dsn: postgres://logsys:s3cret-pw@db:5432/logsys?sslmode=verify-full\n  tls:\n    ca_token: tok-abcdef\n")
	t.Setenv("LOGSYS_ALL_STORE_DSN", "postgres://u@db/x?password=qu3ry-pw&sslmode=require")
	t.Setenv("LOGSYS_CONSUMER_GROUP", "g2")
	fs := pflag.NewFlagSet("print", pflag.ContinueOnError)
	AddFlags(fs, PrintCommand)
	if err := fs.Parse([]string{"--addr", "127.0.0.1:7"}); err != nil {
		t.Fatal(err)
	}
	l := mustLoad(t, Options{File: path, Command: "consumer", Flags: fs})
	var out strings.Builder
	if err := l.Print(&out, "consumer"); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, secret := range []string{"s3cret-pw", "tok-abcdef"} {
		if strings.Contains(text, secret) {
			t.Errorf("printed the secret %q:\n%s", secret, text)
		}
	}
	for _, line := range []string{
		`consumer\.store\.dsn +postgres://logsys:<redacted>@db:5432/logsys\?sslmode=verify-full +file ` + regexp.QuoteMeta(path),
		`consumer\.tls\.ca_token +<redacted> +file `,
		`consumer\.group +g2 +env LOGSYS_CONSUMER_GROUP`,
		`consumer\.addr +127\.0\.0\.1:7 +flag --addr`,
		`consumer\.batch_size +5000 +default`,
		`consumer\.tls\.ca_token_file +"" +default`,
	} {
		if !regexp.MustCompile(`(?m)^` + line).MatchString(text) {
			t.Errorf("no line matching %q in\n%s", line, text)
		}
	}
	if strings.Contains(text, "gateway.") || strings.Contains(text, "all.") {
		t.Errorf("--role consumer shows other sections:\n%s", text)
	}
	out.Reset()
	if err := l.Print(&out, "all"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "qu3ry-pw") || !strings.Contains(out.String(), "password=<redacted>") {
		t.Errorf("DSN password in the query not redacted:\n%s", out.String())
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ key, in, want string }{
		{"gateway.store.dsn", "postgres://u:p@h/db", "postgres://u:<redacted>@h/db"},
		{"gateway.store.dsn", "postgres://u@h/db?sslmode=verify-full", "postgres://u@h/db?sslmode=verify-full"},
		{"all.store_dsn", "host=h password=secret user=u", "host=h password=<redacted> user=u"},
		{"gateway.tls.ca_token", "abc", Redacted},
		{"gateway.tls.ca_token", "", ""},
		{"gateway.tls.ca_token_file", "/run/token", "/run/token"},
		{"gateway.addr", ":8080", ":8080"},
	} {
		if got := redact(tt.key, tt.in); got != tt.want {
			t.Errorf("redact(%s, %q) = %q, want %q", tt.key, tt.in, got, tt.want)
		}
	}
}
