package cfgerr

import (
	"errors"
	"io/fs"
	"testing"
)

func TestUnder(t *testing.T) {
	inner := errors.Join(errors.New("env: \"\" must be a non-empty name"), fs.ErrNotExist, nil)
	err := Under("gateway", Under("tls", inner))
	got := Split(err)
	want := []string{`gateway.tls.env: "" must be a non-empty name`, "gateway.tls: file does not exist"}
	if len(got) != len(want) {
		t.Fatalf("got %d errors %q, want %q", len(got), got, want)
	}
	for i := range want {
		if got[i].Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, got[i], want[i])
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("Under lost the wrapped error")
	}
	if k, rest, ok := Key(got[0]); !ok || k != "gateway.tls.env" || rest != `"" must be a non-empty name` {
		t.Errorf("Key = %q %q %v", k, rest, ok)
	}
	if _, _, ok := Key(errors.New("no key here")); ok {
		t.Error("Key found a key in plain text")
	}
	if Under("x", nil) != nil {
		t.Error("Under(nil) is not nil")
	}
}
