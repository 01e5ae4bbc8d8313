//go:build unix

package stack

import (
	"os"
	"strconv"
	"syscall"
)

// socketGroup is the numeric group owning a Unix socket on this host (the docker group for
// the Docker Engine's), which a container's process joins to connect to it.
func socketGroup(path string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return strconv.FormatUint(uint64(st.Gid), 10), true
}
