// Package kafkaprops owns the Java properties that make a Kafka client or
// broker use a leaf of a `logsys pki` directory over mutual TLS (`logsys
// pki snippets`), and the two files those properties name that `logsys
// pki init` does not create (keystore.pem, store.properties).
package kafkaprops

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"logsys/pki"
	"logsys/spiffeid"
)

// Format is the store format a Java Kafka client or broker loads.
type Format string

// Store formats for Properties.
const (
	PEM    Format = "pem"
	JKS    Format = "jks"
	PKCS12 Format = "p12"
)

// Role says whether properties are for a client or a broker.
type Role string

// Roles for Properties.
const (
	Client Role = "client"
	Broker Role = "broker"
)

// Options selects the leaf DIR/<Env>/<Name> and what to print.
type Options struct {
	Dir, Env, Name string
	Format         Format // default PKCS12
	Role           Role   // default Client
	// Bootstrap is bootstrap.servers for a client and the advertised
	// SSL listener for a broker; default localhost:9093.
	Bootstrap string
	// Password is printed literally in a client's properties when set
	// (the caller reads it from store.pass). Empty prints a placeholder.
	// Brokers never get the literal: they read StorePropertiesFile
	// through Kafka's FileConfigProvider.
	Password string
}

var hostPort = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$`)

// resolve fills defaults and validates.
func (o Options) resolve() (Options, error) {
	if o.Format == "" {
		o.Format = PKCS12
	}
	if o.Role == "" {
		o.Role = Client
	}
	if o.Bootstrap == "" {
		o.Bootstrap = "localhost:9093"
	}
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if err := spiffeid.ValidateEnv(o.Env); err != nil {
		errs = append(errs, err)
	}
	if err := spiffeid.ValidateName(o.Name); err != nil {
		errs = append(errs, err)
	}
	switch o.Format {
	case PEM, JKS, PKCS12:
	default:
		errs = append(errs, fmt.Errorf("format %q must be pem, jks or p12", o.Format))
	}
	switch o.Role {
	case Client, Broker:
	default:
		errs = append(errs, fmt.Errorf("role %q must be client or broker", o.Role))
	}
	for _, b := range strings.Split(o.Bootstrap, ",") {
		if !hostPort.MatchString(b) {
			errs = append(errs, fmt.Errorf("bootstrap %q must be host:port[,host:port...]", o.Bootstrap))
			break
		}
	}
	if o.Role == Broker && strings.Contains(o.Bootstrap, ",") {
		errs = append(errs, errors.New("a broker advertises one host:port"))
	}
	if strings.ContainsAny(o.Password, "\r\n") {
		errs = append(errs, errors.New("password must be one line"))
	}
	return o, errors.Join(errs...)
}

// Properties returns Java properties that make a Kafka client or
// broker use the leaf DIR/<env>/<name> over mutual TLS: keystore and
// truststore in the chosen format, TLS 1.3, host name verification, and for
// a broker required client authentication and principal mapping rules that
// admit only certificates of env (subject CN=<name>,OU=<env>,O=logsys),
// mapped to the bare name. It only computes paths; files it names that
// `logsys pki init` does not create come from WriteFiles. Trust anchors
// are the environment's intermediate(s) only: ca.pem for PEM, the
// truststores (which never hold the root) otherwise.
func Properties(o Options) (string, error) {
	o, err := o.resolve()
	if err != nil {
		return "", fmt.Errorf("kafka properties: %w", err)
	}
	l := pki.Layout{Dir: o.Dir}
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, escapeProperty(v)) }
	comment := func(s string) { fmt.Fprintf(&b, "# %s\n", s) }

	comment(fmt.Sprintf("logsys: Kafka %s %s/%s, %s stores, from %s", o.Role, o.Env, o.Name, o.Format, l.LeafDir(o.Env, o.Name)))
	if o.Role == Broker {
		_, port, _ := net.SplitHostPort(o.Bootstrap)
		comment("Merge into server.properties; KRaft controller settings are not covered here.")
		line("listeners", "SSL://:"+port)
		line("advertised.listeners", "SSL://"+o.Bootstrap)
		line("inter.broker.listener.name", "SSL")
		line("ssl.client.auth", "required")
		comment("Java reports the subject as CN=<name>,OU=<env>,O=logsys. Only " + o.Env + " identities map (to <name>);")
		comment("with no DEFAULT rule any other subject fails authentication, even one chaining to the same root.")
		line("ssl.principal.mapping.rules", fmt.Sprintf("RULE:^CN=([a-z0-9][a-z0-9_.-]*),OU=%s,O=logsys$/$1/", regexp.QuoteMeta(o.Env)))
		line("super.users", "User:"+o.Name)
	} else {
		line("bootstrap.servers", o.Bootstrap)
		line("security.protocol", "SSL")
	}
	line("ssl.protocol", "TLSv1.3")
	line("ssl.enabled.protocols", "TLSv1.3")
	line("ssl.endpoint.identification.algorithm", "https")

	pass := o.Password
	switch {
	case o.Format == PEM:
	case o.Role == Broker:
		line("config.providers", "file")
		line("config.providers.file.class", "org.apache.kafka.common.config.provider.FileConfigProvider")
		comment("store.properties holds password=<store.pass>, mode 0600 (logsys pki snippets --write).")
		pass = "${file:" + l.StorePropertiesFile(o.Env, o.Name) + ":password}"
	case pass == "":
		comment("Replace <store.pass> with the contents of " + l.PassFile(o.Env, o.Name) + ", or print it with --include-password.")
		comment("Keep the resulting file readable only by the client (chmod 600).")
		pass = "<store.pass>"
	default:
		comment("Contains the store password: keep this file readable only by the client (chmod 600).")
	}

	switch o.Format {
	case PEM:
		comment("keystore.pem is key.pem then cert.pem (logsys pki snippets --write); re-run after a rotation.")
		comment("PEM stores take no password; the key is unencrypted PKCS#8, so keep keystore.pem 0600.")
		line("ssl.keystore.type", "PEM")
		line("ssl.keystore.location", l.KeystorePEM(o.Env, o.Name))
		comment("Only this environment's intermediate is a trust anchor, never the shared root.")
		comment("During an intermediate rollover (ca-prev.pem present) append ca-prev.pem to a copy of ca.pem.")
		line("ssl.truststore.type", "PEM")
		line("ssl.truststore.location", l.CACert(o.Env))
	case JKS, PKCS12:
		typ, ks, ts := "PKCS12", l.KeystoreP12(o.Env, o.Name), l.TruststoreP12(o.Env, o.Name)
		if o.Format == JKS {
			typ, ks, ts = "JKS", l.KeystoreJKS(o.Env, o.Name), l.TruststoreJKS(o.Env, o.Name)
		}
		line("ssl.keystore.type", typ)
		line("ssl.keystore.location", ks)
		line("ssl.keystore.password", pass)
		line("ssl.key.password", pass)
		line("ssl.truststore.type", typ)
		line("ssl.truststore.location", ts)
		line("ssl.truststore.password", pass)
	}
	return b.String(), nil
}

// escapeProperty escapes a value for a Java properties file. Config
// provider references keep their ${...} syntax.
func escapeProperty(v string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)
	return r.Replace(v)
}
