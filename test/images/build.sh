#!/usr/bin/env bash
# Builds llmmon's local test images from the real upstream binaries (and llmmon's own stand-ins).
# Binaries are compiled from the upstream Go modules (the only registry these machines reach) and
# cached outside the clone, keyed by version, so later runs take seconds.
#
# Images are named llmmon-test/* on purpose: they never carry an upstream image's name, so a test
# run can never make a later `llmmon up` start a test image. Tests select them through the spec's
# image overrides (see test/testdata/images.yaml).
set -euo pipefail

PROM_VERSION=${PROM_VERSION:-3.15.0}
AM_VERSION=${AM_VERSION:-0.31.1}
AMTOOL_VERSION=${AMTOOL_VERSION:-0.31.1}
NODE_VERSION=${NODE_VERSION:-1.12.1}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${LLMMON_TEST_CACHE:-$HOME/.cache/llmmon-test}
bin="$cache/bin"
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[test-images] %s\n' "$*" >&2; }

# prom_module maps a Prometheus 3.x.y release to its Go module version v0.3xx.y.
prom_module() { local v=$1; IFS=. read -r maj min pat <<<"$v"; printf 'v0.%d%02d.%d' "$maj" "$min" "$pat"; }

build_go_install() { # name version pkg@version
  local name=$1 ver=$2 pkg=$3
  local out="$bin/$1-$2"
  if [ -x "$out" ]; then return; fi
  log "building $name $ver from $pkg"
  local gb; gb=$(mktemp -d)
  GOBIN="$gb" go install -tags timetzdata,netgo "$pkg"
  mv "$gb/$(basename "${pkg%@*}")" "$out"
  rm -rf "$gb"
}

build_prometheus() {
  local ver=$PROM_VERSION
  local out="$bin/prometheus-$ver" outp="$bin/promtool-$ver"
  if [ -x "$out" ] && [ -x "$outp" ]; then return; fi
  local mod; mod=$(prom_module "$ver")
  log "building prometheus $ver (module $mod); this takes several minutes once, then it is cached"
  local dir; dir=$(go mod download -json "github.com/prometheus/prometheus@$mod" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  local work="$cache/src/prometheus-$ver"
  rm -rf "$work"; mkdir -p "$(dirname "$work")"
  cp -r "$dir" "$work"; chmod -R u+w "$work"
  (cd "$work" && GOWORK=off go build -tags netgo,timetzdata -o "$out.tmp" ./cmd/prometheus && GOWORK=off go build -tags netgo -o "$outp.tmp" ./cmd/promtool)
  mv "$out.tmp" "$out"; mv "$outp.tmp" "$outp"
  rm -rf "$work"
}

build_binaries() {
  build_go_install node_exporter "$NODE_VERSION" "github.com/prometheus/node_exporter@v$NODE_VERSION"
  build_go_install alertmanager "$AM_VERSION" "github.com/prometheus/alertmanager/cmd/alertmanager@v$AM_VERSION"
  build_go_install amtool "$AMTOOL_VERSION" "github.com/prometheus/alertmanager/cmd/amtool@v$AMTOOL_VERSION"
  build_prometheus
  ln -sf "$bin/promtool-$PROM_VERSION" "$bin/promtool"
  ln -sf "$bin/amtool-$AMTOOL_VERSION" "$bin/amtool"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# build_image TAG DOCKERFILE_TEXT FILE...: a FROM scratch image, built from a temp context.
build_image() {
  local tag=$1 df=$2; shift 2
  # The image is rebuilt when its Dockerfile or any input file changes.
  local sum; sum=$( { printf '%s' "$df"; for f in "$@"; do sha256sum <"$(readlink -f "${f%%=*}")"; done; } | sha256sum | cut -c1-16)
  df="$df
LABEL io.llmmon.test-image.inputs=$sum"
  if [ "$(docker image inspect -f '{{index .Config.Labels "io.llmmon.test-image.inputs"}}' "$tag" 2>/dev/null)" = "$sum" ]; then return; fi
  log "building image $tag"
  local ctx; ctx=$(mktemp -d)
  for f in "$@"; do cp -L "${f%%=*}" "$ctx/${f##*=}"; done
  mkdir -p "$ctx/empty"
  printf '%s\n' "$df" >"$ctx/Dockerfile"
  docker build -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

build_images() {
  local certs=/etc/ssl/certs/ca-certificates.crt
  [ -f "$certs" ] || { log "no $certs; install ca-certificates"; exit 1; }
  build_image "llmmon-test/prometheus:$PROM_VERSION" "FROM scratch
COPY prometheus /bin/prometheus
COPY promtool /bin/promtool
COPY ca.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65534:65534 empty/ /prometheus/
USER 65534:65534
EXPOSE 9090
WORKDIR /prometheus
ENTRYPOINT [\"/bin/prometheus\"]
CMD [\"--config.file=/etc/prometheus/prometheus.yml\", \"--storage.tsdb.path=/prometheus\"]" \
    "$bin/prometheus-$PROM_VERSION=prometheus" "$bin/promtool-$PROM_VERSION=promtool" "$certs=ca.crt"
  build_image "llmmon-test/alertmanager:$AM_VERSION" "FROM scratch
COPY alertmanager /bin/alertmanager
COPY ca.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65534:65534 empty/ /alertmanager/
USER 65534:65534
EXPOSE 9093
WORKDIR /alertmanager
ENTRYPOINT [\"/bin/alertmanager\"]
CMD [\"--config.file=/etc/alertmanager/alertmanager.yml\", \"--storage.path=/alertmanager\"]" \
    "$bin/alertmanager-$AM_VERSION=alertmanager" "$certs=ca.crt"
  build_image "llmmon-test/node-exporter:$NODE_VERSION" "FROM scratch
COPY node_exporter /bin/node_exporter
USER 65534:65534
EXPOSE 9100
ENTRYPOINT [\"/bin/node_exporter\"]" \
    "$bin/node_exporter-$NODE_VERSION=node_exporter"
  # VictoriaMetrics (long_term.victoriametrics) from Debian's package, with the libraries it links.
  if [ -x /usr/bin/victoria-metrics ]; then
    build_image "llmmon-test/victoria-metrics:1.79.5" "FROM scratch
COPY victoria-metrics /bin/victoria-metrics
COPY ld.so /lib64/ld-linux-x86-64.so.2
COPY libc.so.6 libzstd.so.1 /lib/x86_64-linux-gnu/
COPY empty/ /storage/
EXPOSE 8428
ENTRYPOINT [\"/bin/victoria-metrics\"]" \
      "/usr/bin/victoria-metrics=victoria-metrics" "/lib64/ld-linux-x86-64.so.2=ld.so" \
      "$(ldd /usr/bin/victoria-metrics | awk '/libc.so.6/{print $3}')=libc.so.6" "$(ldd /usr/bin/victoria-metrics | awk '/libzstd.so.1/{print $3}')=libzstd.so.1"
  fi
  # llmmon's own stand-ins and simulators, built from this repository.
  local gb; gb=$(mktemp -d)
  (cd "$root" && go build -trimpath -o "$gb/grafana-standin" ./test/grafana-standin && go build -trimpath -o "$gb/modelsim" ./test/modelsim && go build -trimpath -o "$gb/robots" ./test/robots/cmd/robots)
  build_image "llmmon-test/grafana-standin:dev" "FROM scratch
COPY grafana-standin /bin/grafana-standin
COPY grafana-standin /bin/rm
COPY --chown=472:0 empty/ /var/lib/grafana/
USER 472:0
EXPOSE 3000
ENTRYPOINT [\"/bin/grafana-standin\"]" "$gb/grafana-standin=grafana-standin"
  build_image "llmmon-test/modelsim:dev" "FROM scratch
COPY modelsim /bin/modelsim
EXPOSE 8000
ENTRYPOINT [\"/bin/modelsim\"]" "$gb/modelsim=modelsim"
  # Stand-ins for DingTalk's and WeCom's robot APIs (test/robots), for the offline demo.
  build_image "llmmon-test/robots:dev" "FROM scratch
COPY robots /bin/robots
USER 65534:65534
ENTRYPOINT [\"/bin/robots\"]" "$gb/robots=robots"
  rm -rf "$gb"
}

case "${1:-all}" in
  binaries) build_binaries ;;
  images) build_images ;;
  all) build_binaries; build_images ;;
  *) echo "usage: $0 [binaries|images|all]" >&2; exit 2 ;;
esac
