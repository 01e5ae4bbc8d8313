// Package benchkit holds what llmmon's benchmark programs share: free ports, commands, cleanup
// on exit (also on failure) and medians.
package benchkit

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// FreePort returns a TCP port free on 127.0.0.1.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var exits []func()

// AtExit registers f to run at Exit, last registered first.
func AtExit(f func()) { exits = append(exits, f) }

// Exit runs the registered cleanups.
func Exit() {
	for i := len(exits) - 1; i >= 0; i-- {
		exits[i]()
	}
	exits = nil
}

// Must stops the benchmark on an error, after running the cleanups.
func Must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		Exit()
		os.Exit(1)
	}
}

// Run runs a command in dir with extra environment, returning its output in the error.
func Run(name string, args []string, env []string, dir string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// Median returns the median of the non-negative durations (a negative one means "did not
// happen"), or -1 when there is none.
func Median(ds []time.Duration) time.Duration {
	var ok []time.Duration
	for _, d := range ds {
		if d >= 0 {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return -1
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i] < ok[j] })
	return ok[len(ok)/2]
}

// APIUser is the user llmmon's Prometheus and Alertmanager accept (with the stack's password).
const APIUser = "llmmon"

// Get is c.Get (http.DefaultClient when nil) logged in as APIUser with the password in
// passwordFile: DATA_DIR/secrets/llmmon-password of a stack llmmon runs, or
// prometheus/secrets/llmmon/password of a bundle `llmmon render` wrote. The file is read at
// every call, so it may appear while polling.
func Get(c *http.Client, url, passwordFile string) (*http.Response, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(APIUser, strings.TrimSpace(string(b)))
	}
	return c.Do(req)
}

// WithOutput adds a command's output to its error, for Must.
func WithOutput(err error, out []byte) error {
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// Show writes a measured duration to a tenth of a second, or none (a negative one: nothing came).
func Show(d time.Duration, none string) string {
	if d < 0 {
		return none
	}
	return d.Round(100 * time.Millisecond).String()
}

// ShowAll writes durations with Show, separated by spaces.
func ShowAll(ds []time.Duration, none string) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = Show(d, none)
	}
	return strings.Join(s, " ")
}
