//go:build !linux

package main

import (
	"errors"
	"runtime"
	"time"
)

var errNotLinux = errors.New("the benchmark reads /proc: it runs on Linux only")

func cpuTime(int) (time.Duration, error)     { return 0, errNotLinux }
func memory(int) (rss, hwm int64, err error) { return 0, 0, errNotLinux }
func machine() (cpu, kernel string)          { return "unknown", runtime.GOOS }
func loadAverage() string                    { return "unknown" }
