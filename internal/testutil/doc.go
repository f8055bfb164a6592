// Package testutil holds helpers shared by the tests of several packages:
// an in-memory listener whose connections a testing/synctest bubble can
// wait on (real sockets are never "durably blocked", so fake time would
// not advance while a goroutine reads one).
package testutil
