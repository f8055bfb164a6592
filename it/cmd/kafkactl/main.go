// Command kafkactl administers the it/kafka.sh test cluster as its super
// user (the kafka identity of the PKI): `setup` creates the pipeline's
// topics and ACLs once the cluster answers, `wait` waits until every
// replica is in sync again (after a node restart).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"logsys/it"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kafkactl:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kafkactl", flag.ContinueOnError)
	brokers := fs.String("brokers", "127.0.0.1:19093", "comma-separated client listeners")
	pki := fs.String("pki", "", "logsys pki directory")
	env := fs.String("env", "dev", "PKI environment")
	timeout := fs.Duration("timeout", 2*time.Minute, "overall deadline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pki == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: kafkactl -pki DIR [-brokers LIST] [-env dev] setup|wait [-rf N]")
	}
	c := it.Cluster{Brokers: strings.Split(*brokers, ","), PKI: *pki, Env: *env}
	cl, err := c.NewClient(it.Broker)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	sub := fs.Args()
	sfs := flag.NewFlagSet(sub[0], flag.ContinueOnError)
	rf := sfs.Int("rf", 1, "replication factor: brokers and in-sync replicas to wait for")
	if err := sfs.Parse(sub[1:]); err != nil {
		return err
	}
	switch sub[0] {
	case "setup":
		return it.Setup(ctx, adm, int16(*rf))
	case "wait":
		return it.WaitHealthy(ctx, adm, int16(*rf))
	default:
		return fmt.Errorf("unknown command %q", sub[0])
	}
}
