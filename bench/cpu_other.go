//go:build !linux

package bench

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }

// threadCPU is not measured on this platform.
func threadCPU() (time.Duration, bool) { return 0, false }
