// Command sleeper is the program in the image that the integration tests of package docker
// build FROM scratch. It has no shell, so it also serves as the command run by Exec and RunOnce:
//
//	sleeper                    print a few lines on stdout and stderr, then serve HTTP on
//	                           $SLEEPER_ADDR (":8080") until SIGTERM
//	sleeper echo WORDS...      print WORDS and exit 0
//	sleeper cat FILE           print FILE
//	sleeper exit CODE WORDS... print WORDS on stdout, "failing" on stderr, exit CODE
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	args := os.Args[1:]
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
