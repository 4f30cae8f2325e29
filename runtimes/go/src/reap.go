package main

import (
	"os"
	"strconv"
	"syscall"
)

// reapStrays kills every other process in the container (what a function started and left
// behind) and, as PID 1, collects their exits.
func reapStrays() {
	keep := map[int]bool{os.Getpid(): true, os.Getppid(): true, 1: true}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	var killed []int
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil || keep[pid] {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	for _, pid := range killed {
		// SIGKILL cannot be ignored: this returns at once (ECHILD when another process is its parent).
		var status syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &status, 0, nil)
	}
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return
		}
	}
}
