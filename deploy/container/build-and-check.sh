#!/usr/bin/env bash
# Builds the repository's Dockerfile without a Docker engine (buildah) and checks the image by
# running it (podman), on a Debian bookworm machine as root. tests/deploy/test_container_image.py
# runs it; by hand:
#   bash deploy/container/build-and-check.sh
#
# Where Docker Hub cannot be reached, the base image the Dockerfile names
# (python:3.11-slim-bookworm) is stood in for by a minimal bookworm made from Debian's packages
# (bookworm's python3 is 3.11, python-is-python3 gives `python`), named the same in a storage of
# our own, so the Dockerfile is built as it is. A machine that can pull the official image may set
# IVR_IMAGE_BASE=pull. The stand-in trusts the certificate authorities this machine added under
# /usr/local/share/ca-certificates, and pip is told to use them, so pip reaches PyPI from inside
# the build where TLS is inspected on the way out; the official image does not need that.
#
# Prints one `check NAME: ok` line per check (or `check NAME: FAILED ...`), then the times; exits
# non-zero if any check failed.
#
# Environment:
#   IVR_IMAGE_CACHE           storage of images and layers, kept between runs (/var/cache/ivr-image)
#   IVR_IMAGE_BASE            standin (default) or pull
#   IVR_IMAGE_REBUILD_BASE=1  makes the stand-in base again (new Debian updates)
#   IVR_IMAGE_TAG             the tag built (localhost/ivr-1424:check)
set -uo pipefail
cd "$(dirname "$0")/../.."

[ "$(id -u)" = 0 ] || { echo "needs root (buildah and podman without a daemon, as root)" >&2; exit 2; }
for tool in buildah podman mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (tests/run.sh installs it)" >&2; exit 2; }
done

cache=${IVR_IMAGE_CACHE:-/var/cache/ivr-image}
tag=${IVR_IMAGE_TAG:-localhost/ivr-1424:check}
base_name=python:3.11-slim-bookworm
mkdir -p "$cache"
# A storage of our own: nothing else on the machine sees the stand-in under the official name.
storage=(--root "$cache/storage" --runroot "$cache/run" --storage-driver "${IVR_IMAGE_STORAGE_DRIVER:-overlay}")
buildah=(buildah "${storage[@]}")
# runc: crun refuses this machine's hybrid cgroup layout (v1 controllers beside a v2 tree).
podman=(podman "${storage[@]}")
if command -v runc >/dev/null; then podman+=(--runtime runc); fi
# podman asks for open-file and process limits above the hard ones a container host may set,
# which fails without CAP_SYS_RESOURCE; ask for modest ones.
limit() { local hard; hard=$(ulimit -H "$1"); [ "$hard" = unlimited ] || [ "$hard" -gt 4096 ] && echo 4096 || echo "$hard"; }
run=(run --ulimit "nofile=$(limit -n):$(limit -n)" --ulimit "nproc=$(limit -u):$(limit -u)" --network none)

failures=0
ok() { echo "check $1: ok"; }
failed() { echo "check $1: FAILED $2"; failures=$((failures + 1)); }
last() { printf "%s" "$1" | tail -c "$2"; }  # the end of a long output
seconds() { echo $(($(date +%s) - $1)); }

# -- the base image
started=$(date +%s)
if [ "${IVR_IMAGE_BASE:-standin}" = pull ]; then
  pull=always
else
  pull=never
  if [ -n "${IVR_IMAGE_REBUILD_BASE:-}" ] || ! "${buildah[@]}" inspect --type image "$base_name" >/dev/null 2>&1; then
    sources=/etc/apt/sources.list.d/debian.sources
    [ -f "$sources" ] || sources=/etc/apt/sources.list
    tarball="$cache/base-bookworm.tar"
    # The machine's own apt sources, so the stand-in comes from the mirror this machine uses.
    mmdebstrap --quiet --variant=minbase --format=tar \
      --include=python3,python3-venv,python-is-python3,ca-certificates \
      --customize-hook='for crt in /usr/local/share/ca-certificates/*.crt; do
          [ -e "$crt" ] && cp "$crt" "$1/usr/local/share/ca-certificates/"; done
        chroot "$1" update-ca-certificates >/dev/null 2>&1' \
      --customize-hook='printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" > "$1/etc/pip.conf"' \
      bookworm "$tarball" "$sources" || { echo "mmdebstrap failed" >&2; exit 1; }
    container=$("${buildah[@]}" from scratch) \
      && "${buildah[@]}" add "$container" "$tarball" / >/dev/null \
      && "${buildah[@]}" config --env LANG=C.UTF-8 --cmd python3 "$container" \
      && "${buildah[@]}" commit --quiet --rm "$container" "localhost/$base_name" >/dev/null \
      || { echo "could not import the stand-in base" >&2; exit 1; }
    rm -f "$tarball"
  fi
fi
echo "time base: $(seconds "$started") s"

# -- the build
started=$(date +%s)
# --format docker: the OCI format has no HEALTHCHECK. --layers: a run whose context did not
# change reuses the steps of the last one.
if "${buildah[@]}" build --format docker --layers --isolation chroot --pull="$pull" -t "$tag" . \
    > "$cache/build.log" 2>&1; then
  ok build
else
  tail -n 40 "$cache/build.log"
  failed build "(the log: $cache/build.log)"
  exit 1
fi
echo "time build: $(seconds "$started") s"
"${buildah[@]}" rmi --prune >/dev/null 2>&1 || true  # the layers of earlier builds

# -- the checks
started=$(date +%s)
name=ivr-image-check-$$
volume=ivr-image-check-$$
env_file=$(mktemp)
cleanup() {
  "${podman[@]}" rm --force --time 0 "$name" >/dev/null 2>&1
  "${podman[@]}" volume rm --force "$volume" >/dev/null 2>&1
  rm -f "$env_file"
}
trap cleanup EXIT

config=$("${podman[@]}" image inspect --format '{{.Config.User}}|{{json .Config.Healthcheck}}|{{json .Config.Cmd}}' "$tag")
case $config in
  10001:10001\|*/healthz*\|*gunicorn*) ok image-config ;;
  *) failed image-config "$config" ;;
esac

# stdout only: podman says on stderr that it has no systemd to time the health checks with.
ids=$("${podman[@]}" "${run[@]}" --rm "$tag" sh -c 'echo "$(id -u):$(id -g)"' 2>/dev/null)
[ "$ids" = 10001:10001 ] && ok runs-as-10001 || failed runs-as-10001 "$ids"

help=$("${podman[@]}" "${run[@]}" --rm "$tag" ivr --help 2>&1) && [[ $help == *usage:* ]] \
  && ok ivr-help || failed ivr-help "$(last "$help" 500)"

# The folder joined at build time: root's, read-only to ivr, and verified as it is, so a worker
# never joins it again (it could not: it may not write there).
model=$("${podman[@]}" "${run[@]}" --rm --interactive "$tag" python - <<'EOF' 2>&1
import os
from pathlib import Path
from workers.transcriber.bundled_model import bundled_model_dir

folder = Path(os.environ["IVR_MODEL_CACHE_DIR"]) / "whisper-base"
before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt", ".verified.json"} <= set(before), before
assert (folder / "model.bin").stat().st_size > 100_000_000
for path in [folder.parent, folder, *folder.iterdir()]:
    assert path.stat().st_uid == 0 and not os.access(path, os.W_OK), f"{path} is writable"
try:
    (folder / "probe").write_bytes(b"")
except PermissionError:
    pass
else:
    raise AssertionError("ivr wrote into the model folder")
assert bundled_model_dir(folder.parent) == folder
assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
print("model ok")
EOF
)
[[ $model == *"model ok"* ]] && ok model-read-only || failed model-read-only "$(last "$model" 800)"

# An operator's message in Kazakh is voiced by the line itself (espeak-ng and sox in the image).
voice=$("${podman[@]}" "${run[@]}" --rm "$tag" python -c "from ivr.prompts import speak; a = speak('kk', 'Сәлеметсіз бе. Хабарыңыз қаралып жатыр.'); assert a[:4] == b'RIFF' and len(a) > 8000, len(a); print('voice ok', len(a))" 2>&1)
[[ $voice == *"voice ok"* ]] && ok kazakh-voice || failed kazakh-voice "$(last "$voice" 500)"

# A minimal production environment; Redis points where nothing listens (the container has its
# own network namespace), since /healthz must not need it.
python3 - > "$env_file" <<'EOF'
import base64, secrets
print("IVR_ENV=production")
print(f"IVR_SECRET_KEY={secrets.token_urlsafe(48)}")
print(f"IVR_DATA_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}")
print(f"TWILIO_ACCOUNT_SID=AC{secrets.token_hex(16)}")
print(f"TWILIO_AUTH_TOKEN={secrets.token_hex(16)}")
print("DATABASE_URL=sqlite:////var/lib/ivr/ivr.db")
print("REDIS_URL=redis://127.0.0.1:6379/0")
EOF
"${podman[@]}" volume create "$volume" >/dev/null
upgrade=$("${podman[@]}" "${run[@]}" --rm --env-file "$env_file" -v "$volume:/var/lib/ivr" "$tag" ivr db upgrade 2>&1) \
  && ok db-upgrade || failed db-upgrade "$(last "$upgrade" 800)"

# The default command, as `docker run` would start it.
"${podman[@]}" "${run[@]}" --detach --name "$name" --env-file "$env_file" -v "$volume:/var/lib/ivr" "$tag" >/dev/null
healthz=""
for _ in $(seq 60); do
  healthz=$("${podman[@]}" exec "$name" python -c "import urllib.request as u; r = u.urlopen('http://127.0.0.1:5000/healthz', timeout=4); print(r.status, r.read().decode().strip())" 2>&1) && break
  [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
  sleep 1
done
[[ $healthz == 200* ]] && ok healthz-200 || failed healthz-200 "$healthz $("${podman[@]}" logs "$name" 2>&1 | tail -n 20)"
# The image's own HEALTHCHECK command.
health=$("${podman[@]}" healthcheck run "$name" 2>&1) && ok healthcheck || failed healthcheck "$health"
users=$("${podman[@]}" top "$name" user args 2>&1)
if [[ $users == *gunicorn* ]] && ! awk 'NR > 1 && $1 != "ivr"' <<<"$users" | grep -q .; then
  ok processes-as-ivr
else
  failed processes-as-ivr "$users"
fi
echo "time checks: $(seconds "$started") s"
echo "image: $("${podman[@]}" image inspect --format '{{.Size}}' "$tag") bytes"
exit $((failures > 0))
