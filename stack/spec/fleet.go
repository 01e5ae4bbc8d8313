package spec

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role is the stack's role in a fleet: standalone without a fleet section.
func (s *Spec) Role() string {
	if s.Fleet == nil || s.Fleet.Role == "" {
		return RoleStandalone
	}
	return s.Fleet.Role
}

// HostName is the host label of this stack's series in a fleet ("" outside a fleet).
func (s *Spec) HostName() string {
	if s.Fleet == nil {
		return ""
	}
	return s.Fleet.HostName
}

func defaultFleet(s *Spec) {
	f := s.Fleet
	if f == nil {
		return
	}
	if f.Role == "" {
		f.Role = RoleStandalone
	}
	if f.HostName == "" {
		if h, err := os.Hostname(); err == nil {
			f.HostName = h
		}
	}
}

var remoteNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,39}$`)

func (v *validator) fleet(s *Spec) {
	if f := s.Fleet; f != nil {
		roles := []string{RoleStandalone, RoleAgent, RoleCentral}
		if !slices.Contains(roles, f.Role) {
			hint := "use standalone, agent (this GPU host sends to a central stack) or central (the stack the agents send to)"
			if sug := suggest(f.Role, roles); sug != "" {
				hint = fmt.Sprintf("did you mean %q? ", sug) + hint
			}
			v.add("fleet.role", fmt.Sprintf("unknown role %q", f.Role), hint)
		}
		if f.HostName == "" || len(f.HostName) > 128 {
			v.add("fleet.host_name", "the host name is empty or longer than 128 characters", "set fleet.host_name to a short name for this machine, e.g. gpu-01")
		}
		if f.Role == RoleAgent {
			if u, err := url.Parse(f.Central); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add("fleet.central", fmt.Sprintf("an agent needs the central stack's address, got %q", f.Central), "write the central Prometheus as http://central-host:9090 (the central stack needs bind: 0.0.0.0 or an address the agents reach)")
			}
			if f.CentralPassword == "" && f.CentralPasswordFile == "" {
				v.addKey("fleet", "an agent needs the central Prometheus' password", "copy the central stack's data_dir/secrets/llmmon-password here and set central_password_file to it")
			}
			if f.CentralPassword != "" && f.CentralPasswordFile != "" {
				v.add("fleet.central_password_file", "set central_password or central_password_file, not both", "remove one of the two lines")
			}
			v.secretFile("fleet.central_password_file", f.CentralPasswordFile)
			// What an agent cannot do: it has no rules, Alertmanager or Grafana.
			if len(s.Notify.Receivers) > 0 {
				v.addKey("notify", "an agent sends its alerts' data to the central stack, which notifies", "move notify to the central stack's spec")
			}
			if s.Report != nil {
				v.addKey("report", "an agent has no report: the central stack has every host's data", "move report to the central stack's spec")
			}
			if len(s.Remediated()) > 0 {
				v.addKey("targets", "auto-recovery needs this host's Alertmanager, which an agent does not run", "remove remediation from the agent's targets, or run this host as a standalone stack")
			}
		} else if f.Central != "" {
			v.add("fleet.central", "only an agent sends to a central stack", "set fleet.role: agent, or remove central")
		}
	}
	if lt := s.LongTerm; lt != nil {
		if lt.VictoriaMetrics && s.Role() == RoleAgent {
			v.addKey("long_term", "an agent keeps no data: the long-term store belongs to the central stack", "move long_term to the central stack's spec")
		}
		if lt.Retention.D() < 24*time.Hour {
			v.add("long_term.retention", fmt.Sprintf("retention %s is too short for a long-term store", lt.Retention), "use days or more, e.g. 365d")
		}
	}
	names := map[string]bool{"victoriametrics": s.LongTerm != nil && s.LongTerm.VictoriaMetrics}
	for i, rw := range s.RemoteWrite {
		p := fmt.Sprintf("remote_write[%d]", i)
		if !remoteNameRe.MatchString(rw.Name) || names[rw.Name] {
			v.add(p+".name", fmt.Sprintf("missing, invalid or duplicate name %q", rw.Name), "give each store a short name of its own, e.g. victoria")
		}
		names[rw.Name] = true
		if u, err := url.Parse(rw.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(p+".url", fmt.Sprintf("%q is not an http(s) address", rw.URL), "write the store's remote-write endpoint, e.g. http://vm:8428/api/v1/write or https://mimir/api/v1/push")
		} else if u.User != nil {
			v.add(p+".url", "the URL holds a user or password, which would be written into prometheus.yml", "put them in username and password (or bearer_token), which are kept in 0600 files")
		}
		if rw.Password != "" && rw.PasswordFile != "" {
			v.add(p+".password_file", "set password or password_file, not both", "remove one of the two lines")
		}
		if (rw.Password != "" || rw.PasswordFile != "") && rw.Username == "" {
			v.add(p+".username", "a password without a user name", "add username:")
		}
		if rw.BearerToken != "" && rw.BearerTokenFile != "" {
			v.add(p+".bearer_token_file", "set bearer_token or bearer_token_file, not both", "remove one of the two lines")
		}
		if rw.Username != "" && (rw.BearerToken != "" || rw.BearerTokenFile != "") {
			v.add(p+".bearer_token", "basic auth and a bearer token together", "a store takes one of them: remove username/password or the token")
		}
		v.secretFile(p+".password_file", rw.PasswordFile)
		v.secretFile(p+".bearer_token_file", rw.BearerTokenFile)
		v.secretFile(p+".ca_file", rw.CAFile)
		if q := rw.Queue; q != nil && (q.Capacity < 0 || q.MaxShards < 0 || q.MaxSamplesPerSend < 0 || q.BatchSendDeadline < 0) {
			v.add(p+".queue", "queue settings must be positive", "leave a setting out for Prometheus' default")
		}
	}
}

// OverrideFleet applies `up --role/--central/--central-password-file` over the spec's fleet
// section and validates the result again (problems point into src).
func (s *Spec) OverrideFleet(o Fleet, src *Source) error {
	if s.Fleet == nil {
		s.Fleet = &Fleet{}
	}
	f := s.Fleet
	if o.Role != "" {
		f.Role = o.Role
	}
	if o.Central != "" {
		f.Central = o.Central
	}
	if o.CentralPasswordFile != "" {
		f.CentralPassword, f.CentralPasswordFile = "", o.CentralPasswordFile
		b, err := os.ReadFile(o.CentralPasswordFile)
		if err != nil {
			return fmt.Errorf("%w: cannot read --central-password-file: %v", ErrInvalid, err)
		}
		f.CentralPassword = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	defaultFleet(s)
	return s.Validate(src)
}
