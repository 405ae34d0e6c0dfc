package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// cpuTime returns the CPU time, user and system, that process pid has used
// in all its threads, including threads that have exited. It reads the
// process's CPU clock (clock_gettime on the clock clock_getcpuclockid(pid)
// names): the same kernel counter that /proc/<pid>/stat's utime and stime
// are derived from, at nanosecond instead of 10 ms resolution.
func cpuTime(pid int) (time.Duration, error) {
	clock := int32((^pid)<<3 | 2) // CPUCLOCK_SCHED of the whole thread group
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, uintptr(clock), uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return statCPU(pid)
	}
	return time.Duration(ts.Nano()), nil
}

// statCPU returns utime+stime from /proc/<pid>/stat (USER_HZ is 100 on
// Linux, so ticks of 10 ms).
func statCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'. utime and stime are fields 14 and 15 of the line.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// memory returns the resident set (VmRSS) and its peak (VmHWM) of process
// pid, in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return rss, hwm, sc.Err()
}

// machine describes the computer the benchmark runs on.
func machine() (cpu, kernel string) {
	cpu = "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		var model, mhz string
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			switch k = strings.TrimSpace(k); {
			case !ok:
			case k == "model name" && model == "":
				model = strings.TrimSpace(v)
			case k == "cpu MHz" && mhz == "":
				mhz = strings.TrimSpace(v)
			}
		}
		if model != "" {
			cpu = model
		}
		if f, err := strconv.ParseFloat(mhz, 64); err == nil {
			cpu += fmt.Sprintf(" at %.0f MHz", f)
		}
	}
	kernel = "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return cpu, kernel
}

// loadAverage is /proc/loadavg's 1-minute figure: how busy the shared
// machine was when the benchmark started.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
