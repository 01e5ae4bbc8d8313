// Package runtime describes, in llmmon's own terms, what the engine needs from a container
// runtime. The only implementation that talks to a real engine lives in runtime/docker, which is
// the only package of llmmon that imports the Docker client; runtime/fake is an in-memory one for
// unit tests.
package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// Label keys put on every object llmmon creates. Objects are always found by these labels, never
// by name, so that llmmon never touches a container, network or volume it did not create.
const (
	LabelProject    = "io.llmmon.project"     // the stack name
	LabelComponent  = "io.llmmon.component"   // prometheus, grafana, ...
	LabelConfigHash = "io.llmmon.config-hash" // hash of everything that needs a recreate
	LabelFilesHash  = "io.llmmon.files-hash"  // hash of the mounted config files (reload, not recreate)
	LabelVersion    = "io.llmmon.version"     // llmmon version that created the object
	LabelManaged    = "io.llmmon.managed"     // always "true"
	LabelListen     = "io.llmmon.listen"      // host:port the component listens on
)

// Sentinel errors. Implementations wrap them so callers can use errors.Is.
var (
	// ErrDaemonUnreachable: the runtime's daemon does not answer.
	ErrDaemonUnreachable = errors.New("container runtime unreachable")
	// ErrImageNotFound: the image is neither present locally nor pullable.
	ErrImageNotFound = errors.New("image not found")
	// ErrNotFound: the container, network or volume does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPortInUse: a host port that a container publishes is already taken.
	ErrPortInUse = errors.New("port already in use")
	// ErrNoRemove: RemoveFiles found no rm command in the container's image.
	ErrNoRemove = errors.New("the container has no rm command")
)

// Info describes the daemon.
type Info struct {
	// NvidiaRuntime reports whether the daemon knows an "nvidia" runtime or a CDI/GPU device
	// driver, which dcgm-exporter needs.
	NvidiaRuntime bool
}

// Mount is a bind mount of a host path, or a named volume when Volume is set.
type Mount struct {
	Source   string // host path (bind) or volume name (volume)
	Target   string
	ReadOnly bool
	Volume   bool
}

// ContainerSpec is everything needed to create one container.
type ContainerSpec struct {
	Name        string
	Image       string
	Cmd         []string
	Env         []string
	User        string
	Labels      map[string]string
	Mounts      []Mount
	Network     string // network to join; "host" means host networking
	GPUs        bool   // request all NVIDIA GPUs (device request, capabilities gpu,utility)
	CapAdd      []string
	GroupAdd    []string // supplementary groups (numeric ids) of the process
	PidHost     bool
	Restart     string // restart policy name, e.g. "unless-stopped"
	StopTimeout time.Duration
}

// Container is what the runtime observes of one container.
type Container struct {
	ID           string
	Name         string
	Image        string // image reference as created
	Labels       map[string]string
	State        string // created, running, restarting, exited, ...
	Running      bool
	StartedAt    time.Time
	RestartCount int
	ExitCode     int
}

// FileEntry is one file or directory for CopyFiles.
type FileEntry struct {
	Path string // relative, slash-separated
	Data []byte
	Mode int64 // permission bits
	UID  int
	GID  int
	Dir  bool
	// Link, when set, makes the entry a symbolic link to Link (Data is then unused).
	Link string
}

// Volume is a named volume.
type Volume struct {
	Name   string
	Labels map[string]string
}

// Image is a local image, as ListImages sees it.
type Image struct {
	ID     string
	Tags   []string // repository:tag references, sorted
	Labels map[string]string
}

// PullEvent is one line of pull progress.
type PullEvent struct {
	Image   string
	ID      string // layer id, empty for image-wide messages
	Status  string
	Current int64
	Total   int64
}

// Runtime is the container runtime as llmmon sees it. Every method takes a context first and
// returns errors wrapping the sentinels above where they apply.
type Runtime interface {
	// Ping checks that the daemon answers and returns its version facts.
	Ping(ctx context.Context) (Info, error)

	// ListContainers returns every container (running or not) carrying LabelProject=project.
	ListContainers(ctx context.Context, project string) ([]Container, error)
	// InspectContainer returns one container by id or name, whoever created it; ErrNotFound
	// when there is none. Used to find a container in the way of a name llmmon will create.
	InspectContainer(ctx context.Context, id string) (Container, error)
	// CreateContainer creates (does not start) a container and returns its id.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// StartContainer starts a created or stopped container.
	StartContainer(ctx context.Context, id string) error
	// RestartContainer stops (with a grace period) and starts a container, or starts a stopped
	// one. Only the remediation agent uses it, on a container the spec names.
	RestartContainer(ctx context.Context, id string) error
	// RemoveContainer stops (with a grace period) and removes a container; a missing container
	// is not an error.
	RemoveContainer(ctx context.Context, id string) error
	// Logs returns the last n lines of a container's combined stdout and stderr.
	Logs(ctx context.Context, id string, n int) (string, error)

	// RemoveNetworks removes every network carrying LabelProject=project.
	RemoveNetworks(ctx context.Context, project string) error

	// EnsureVolume creates the named volume when missing. An existing volume of that name without
	// llmmon's project label is an error (it is never adopted).
	EnsureVolume(ctx context.Context, name string, labels map[string]string) error
	// InspectVolume returns the named volume, whoever created it; ErrNotFound when there is none.
	InspectVolume(ctx context.Context, name string) (Volume, error)
	// ListVolumes returns the volumes carrying LabelProject=project.
	ListVolumes(ctx context.Context, project string) ([]Volume, error)
	// RemoveVolume removes a volume; it refuses one without llmmon's labels.
	RemoveVolume(ctx context.Context, name string) error

	// ImagePresent reports whether the image is available locally.
	ImagePresent(ctx context.Context, ref string) (bool, error)
	// PullImage pulls an image, reporting progress to fn (which may be nil).
	PullImage(ctx context.Context, ref string, fn func(PullEvent)) error

	// ReadLink returns the target of a symbolic link in a container (created, running or
	// stopped), resolved to an absolute path inside the container; ErrNotFound when path does not
	// exist or is not a link. It only stats the path, which is far cheaper than reading a file.
	ReadLink(ctx context.Context, id, path string) (string, error)

	// CopyFiles writes files and directories into a container (created or running) below dir,
	// with the owner and mode each entry names. A directory entry whose path is "." (or a path
	// that is a volume's mount point) sets the ownership of that directory itself, which is how
	// llmmon gives a fresh data volume the uid its image runs as.
	CopyFiles(ctx context.Context, id, dir string, files []FileEntry) error
	// RemoveFiles deletes files (absolute paths) in a running container; a file that is not
	// there is not an error. The Docker Engine API has no call that deletes a file, so it runs
	// `rm -f -- PATH...` in the container as root: the image must have an rm on its PATH (every
	// image with a shell has one). An image without one gives an error wrapping ErrNoRemove.
	RemoveFiles(ctx context.Context, id string, paths []string) error

	// BuildImage builds an image tagged tag from an in-memory build context (path -> content,
	// which must include "Dockerfile"; files are written mode 0755). Used for images llmmon makes
	// from its own static binary (the relay, the volume-ownership helper), so no registry is needed.
	BuildImage(ctx context.Context, tag string, files map[string][]byte, labels map[string]string) error

	// RemoveImage removes an image llmmon built (a relay image an upgrade replaced). An image
	// still used by a container is kept, and that is not an error.
	RemoveImage(ctx context.Context, ref string) error
	// ListImages returns the local images of repository repo (the reference without its tag,
	// e.g. "llmmon-relay") that carry every label in labels, sorted by their first tag.
	ListImages(ctx context.Context, repo string, labels map[string]string) ([]Image, error)

	io.Closer
}
