#!/bin/sh
# Installs the Debian packages airgap needs on a fresh machine: `demo` (openssl, for the demo's TLS
# certificates) or `test` (the real servers and clients the test suite starts on loopback). One list, used by
# the README's two commands and by .ci/run. Runs apt-get directly as root, through sudo for anyone else.
set -eu

case "${1:-}" in
  demo) packages="openssl ca-certificates" ;;
  # docker-registry: CNCF distribution 2.8; skopeo: the independent client; docker.io: dockerd 20.10 with its
  # containerd and runc; openssl: the test CA; apache2-utils: htpasswd -B (docker-registry wants bcrypt);
  # mount: umount, for what a killed dockerd leaves mounted; mawk: the cleanup watchdog's awk;
  # containerd (docker.io's dependency, named for its tests): airgap config containerd's hosts.toml proven by
  # ctr pull, and ctr pulling from airgap serve --htpasswd; util-linux (unshare, nsenter) and iproute2: the
  # test's own network namespace; unzip: a charm's manifest.yaml read by the Juju images test; strace: the
  # collect output-set test kills collect on entry to each rename.
  test) packages="docker-registry skopeo docker.io openssl apache2-utils ca-certificates mount mawk containerd util-linux iproute2 unzip strace" ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "error: installing Debian packages needs root: run this as root, or install sudo" >&2
  exit 1
fi

# Package scripts must not start system services (dockerd on /run/docker.sock, docker-registry on :5000): the
# tests start their own on private sockets and free loopback ports, and a half-started service can fail the
# install on a machine without an init system. policy-rc.d exit 101 is Debian's "do not start".
created_policy=false
if [ ! -e /usr/sbin/policy-rc.d ]; then
  $as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
  created_policy=true
fi
remove_policy() {
  if [ "$created_policy" = true ]; then $as_root rm -f /usr/sbin/policy-rc.d; fi
}
trap remove_policy EXIT

$as_root env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086 # the list is meant to split into words
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
