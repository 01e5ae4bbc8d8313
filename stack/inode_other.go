//go:build !unix

package stack

import "os"

// inode is a file's inode number; 0: unknown on this platform.
func inode(os.FileInfo) uint64 { return 0 }

func socketGroup(string) (string, bool) { return "", false }
