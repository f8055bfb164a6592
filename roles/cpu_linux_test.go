package roles

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPU returns the CPU time (user+system) of the test process so
// far, every role and the embedded broker in it included; 0 if unknown.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
