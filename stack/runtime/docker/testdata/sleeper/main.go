// Command sleeper is the program in the image that the integration tests of package docker
// build FROM scratch. It has no shell, so it also serves as the command the tests exec in it:
//
//	sleeper                    print a few lines on stdout and stderr, then serve HTTP on
//	                           $SLEEPER_ADDR (":8080") until SIGTERM
//	sleeper echo WORDS...      print WORDS and exit 0
//	sleeper cat FILE           print FILE
//	sleeper exit CODE WORDS... print WORDS on stdout, "failing" on stderr, exit CODE
//
// Run as "rm" (an image may copy it to /bin/rm), it is a minimal rm: rm [-f] [--] FILE...
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "rm" {
		rm(args)
		return
	}
	if len(args) == 0 {
		serve()
		return
	}
	switch args[0] {
	case "echo":
		fmt.Println(strings.Join(args[1:], " "))
	case "cat":
		b, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
	case "exit":
		code, _ := strconv.Atoi(args[1])
		fmt.Println(strings.Join(args[2:], " "))
		fmt.Fprintln(os.Stderr, "failing")
		os.Exit(code)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", args[0])
		os.Exit(2)
	}
}

func serve() {
	addr := os.Getenv("SLEEPER_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	fmt.Println("line 1")
	fmt.Println("line 2")
	fmt.Fprintln(os.Stderr, "line 3 on stderr")
	fmt.Println("listening on", addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		os.Exit(0)
	}()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "sleeper ok") })
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func rm(args []string) {
	force, code := false, 0
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		force = force || a == "-f"
	}
	for _, p := range args {
		if err := os.Remove(p); err != nil && !(force && errors.Is(err, fs.ErrNotExist)) {
			fmt.Fprintln(os.Stderr, "rm:", err)
			code = 1
		}
	}
	os.Exit(code)
}
