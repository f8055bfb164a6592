//go:build !linux

package bench

import (
	"errors"
	"time"
)

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }

// threadCPU is not measured on this platform.
func threadCPU() (time.Duration, bool) { return 0, false }

// ProcCPU is not measured on this platform.
func ProcCPU(pid int) (time.Duration, error) {
	return 0, errors.New("per-process CPU needs Linux /proc")
}

// ListenerPIDs is not available on this platform.
func ListenerPIDs(port int) ([]int, error) {
	return nil, errors.New("finding a listener's process needs Linux /proc")
}

func pidsCPU(pids []int) time.Duration { return 0 }
