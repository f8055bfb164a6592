package pki

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// KafkaFormat is the store format a Java Kafka client or broker loads.
type KafkaFormat string

// Store formats for KafkaProperties.
const (
	KafkaPEM    KafkaFormat = "pem"
	KafkaJKS    KafkaFormat = "jks"
	KafkaPKCS12 KafkaFormat = "p12"
)

// KafkaRole says whether properties are for a client or a broker.
type KafkaRole string

// Roles for KafkaProperties.
const (
	KafkaClient KafkaRole = "client"
	KafkaBroker KafkaRole = "broker"
)

// KafkaOptions selects the leaf DIR/<Env>/<Name> and what to print.
type KafkaOptions struct {
	Dir, Env, Name string
	Format         KafkaFormat // default KafkaPKCS12
	Role           KafkaRole   // default KafkaClient
	// Bootstrap is bootstrap.servers for a client and the advertised
	// SSL listener for a broker; default localhost:9093.
	Bootstrap string
	// Password is printed literally in a client's properties when set
	// (the caller reads it from store.pass). Empty prints a placeholder.
	// Brokers never get the literal: they read StorePropertiesFile
	// through Kafka's FileConfigProvider.
	Password string
}

// KeystorePEM is the PEM keystore for Kafka (ssl.keystore.type=PEM): the
// leaf's PKCS#8 key followed by its chain. WriteKafkaFiles creates it.
func (l Layout) KeystorePEM(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "keystore.pem")
}

// StorePropertiesFile holds "password=<store.pass>" for Kafka's
// FileConfigProvider. WriteKafkaFiles creates it.
func (l Layout) StorePropertiesFile(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "store.properties")
}

var hostPort = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$`)

// resolve fills defaults and validates.
func (o KafkaOptions) resolve() (KafkaOptions, error) {
	if o.Format == "" {
		o.Format = KafkaPKCS12
	}
	if o.Role == "" {
		o.Role = KafkaClient
	}
	if o.Bootstrap == "" {
		o.Bootstrap = "localhost:9093"
	}
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if err := validLabel("env", o.Env); err != nil {
		errs = append(errs, err)
	}
	if err := validLabel("name", o.Name); err != nil {
		errs = append(errs, err)
	}
	switch o.Format {
	case KafkaPEM, KafkaJKS, KafkaPKCS12:
	default:
		errs = append(errs, fmt.Errorf("format %q must be pem, jks or p12", o.Format))
	}
	switch o.Role {
	case KafkaClient, KafkaBroker:
	default:
		errs = append(errs, fmt.Errorf("role %q must be client or broker", o.Role))
	}
	for _, b := range strings.Split(o.Bootstrap, ",") {
		if !hostPort.MatchString(b) {
			errs = append(errs, fmt.Errorf("bootstrap %q must be host:port[,host:port...]", o.Bootstrap))
			break
		}
	}
	if o.Role == KafkaBroker && strings.Contains(o.Bootstrap, ",") {
		errs = append(errs, errors.New("a broker advertises one host:port"))
	}
	if strings.ContainsAny(o.Password, "\r\n") {
		errs = append(errs, errors.New("password must be one line"))
	}
	return o, errors.Join(errs...)
}

// KafkaProperties returns Java properties that make a Kafka client or
// broker use the leaf DIR/<env>/<name> over mutual TLS: keystore and
// truststore in the chosen format, TLS 1.3, host name verification, and for
// a broker required client authentication and principal mapping rules that
// admit only certificates of env (subject CN=<name>,OU=<env>,O=logsys),
// mapped to the bare name. It only computes paths; files it names that
// `logsys pki init` does not create come from WriteKafkaFiles.
func KafkaProperties(o KafkaOptions) (string, error) {
	o, err := o.resolve()
	if err != nil {
		return "", fmt.Errorf("kafka properties: %w", err)
	}
	l := Layout{Dir: o.Dir}
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, escapeProperty(v)) }
	comment := func(s string) { fmt.Fprintf(&b, "# %s\n", s) }

	comment(fmt.Sprintf("logsys: Kafka %s %s/%s, %s stores, from %s", o.Role, o.Env, o.Name, o.Format, l.LeafDir(o.Env, o.Name)))
	if o.Role == KafkaBroker {
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
	case o.Format == KafkaPEM:
	case o.Role == KafkaBroker:
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
	case KafkaPEM:
		comment("keystore.pem is key.pem then cert.pem (logsys pki snippets --write); re-run after a rotation.")
		comment("PEM stores take no password; the key is unencrypted PKCS#8, so keep keystore.pem 0600.")
		line("ssl.keystore.type", "PEM")
		line("ssl.keystore.location", l.KeystorePEM(o.Env, o.Name))
		comment("Only this environment's intermediate is a trust anchor, never the shared root.")
		comment("During an intermediate rollover (ca-prev.pem present) append ca-prev.pem to a copy of ca.pem.")
		line("ssl.truststore.type", "PEM")
		line("ssl.truststore.location", l.CACert(o.Env))
	case KafkaJKS, KafkaPKCS12:
		typ, ks, ts := "PKCS12", l.KeystoreP12(o.Env, o.Name), l.TruststoreP12(o.Env, o.Name)
		if o.Format == KafkaJKS {
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

// WriteKafkaFiles writes the files KafkaProperties names that `logsys pki
// init` does not create: the PEM keystore (key then chain) for KafkaPEM,
// and store.properties for a broker with a JKS or PKCS#12 store. Files are
// written atomically with mode 0600. It returns the paths written.
func WriteKafkaFiles(o KafkaOptions) ([]string, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("kafka files: %w", err)
	}
	l := Layout{Dir: o.Dir}
	switch {
	case o.Format == KafkaPEM:
		certs, err := ReadCertificates(l.CertFile(o.Env, o.Name))
		if err != nil {
			return nil, err
		}
		key, err := ReadPrivateKey(l.KeyFile(o.Env, o.Name))
		if err != nil {
			return nil, err
		}
		if !keyMatches(certs[0], key) {
			return nil, fileErrf(l.KeyFile(o.Env, o.Name), ErrKeyMismatch, "does not match %s", l.CertFile(o.Env, o.Name))
		}
		keyPEM, err := encodeKey(key)
		if err != nil {
			return nil, err
		}
		path := l.KeystorePEM(o.Env, o.Name)
		if err := writeFileAtomic(path, append(keyPEM, encodeCerts(certs...)...), keyPerm); err != nil {
			return nil, err
		}
		return []string{path}, nil
	case o.Role == KafkaBroker:
		pass, err := readPassword(l.PassFile(o.Env, o.Name))
		if err != nil {
			return nil, err
		}
		path := l.StorePropertiesFile(o.Env, o.Name)
		if err := writeFileAtomic(path, []byte("password="+escapeProperty(pass)+"\n"), keyPerm); err != nil {
			return nil, err
		}
		return []string{path}, nil
	}
	return nil, nil
}

// ReadStorePassword returns the password of the leaf's keystores and
// truststores (store.pass).
func ReadStorePassword(dir, env, name string) (string, error) {
	return readPassword(Layout{Dir: dir}.PassFile(env, name))
}

// missingFiles returns the files the properties of o name that do not exist.
func (o KafkaOptions) missingFiles() []string {
	l := Layout{Dir: o.Dir}
	var paths []string
	switch o.Format {
	case KafkaPEM:
		paths = []string{l.KeystorePEM(o.Env, o.Name), l.CACert(o.Env)}
	case KafkaJKS:
		paths = []string{l.KeystoreJKS(o.Env, o.Name), l.TruststoreJKS(o.Env, o.Name)}
	default:
		paths = []string{l.KeystoreP12(o.Env, o.Name), l.TruststoreP12(o.Env, o.Name)}
	}
	if o.Role == KafkaBroker && o.Format != KafkaPEM {
		paths = append(paths, l.StorePropertiesFile(o.Env, o.Name))
	}
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			out = append(out, p)
		}
	}
	return out
}

// MissingKafkaFiles returns the files KafkaProperties(o) names that do not
// exist yet (run WriteKafkaFiles, or `logsys pki init`, to create them).
func MissingKafkaFiles(o KafkaOptions) ([]string, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("kafka files: %w", err)
	}
	return o.missingFiles(), nil
}
