#!/usr/bin/env bash
# make test-fresh: the README's two commands, run as a new user would, in a bare
# Debian 12 root (debootstrap --variant=minbase) that has nothing installed but `make`.
#
# A machine that earlier sessions installed things on by hand can hide a missing
# install step (it did: oneDNN's CMake package needs OpenCL's headers); only a bare
# root shows what `make deps` really installs. The committed tree (git archive HEAD)
# and ../shared are copied in; then, inside the root:
#   1. apt-get install make           (the README's one prerequisite besides root)
#   2. make run                       (must print a story)
#   3. make test                      (must pass)
#   4. without OpenCL's headers, configure, build and run the suite again: oneDNN
#      must be left out with one line, and everything else must still pass;
#   5. make test-arm64 (make deps-arm64 must install the cross build's packages too).
#      FRESH_ARM64=0 skips it.
#
# The bare base root (debootstrap's output, before anything of ours is installed) is
# cached in FRESH_CACHE and unpacked anew for every run; nothing `make deps` installs
# is kept. Mounts live in a private mount namespace, so they vanish with it whatever
# fails; the root is removed at the end (FRESH_KEEP=1 keeps it for a look).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "${SHARED:-$src/../shared}" 2>/dev/null && pwd) || { echo "test-fresh: no ../shared beside the checkout" >&2; exit 2; }
suite=bookworm
cache=${FRESH_CACHE:-/var/cache/edgerun-fresh}
base_tar=$cache/$suite-minbase.tar
say() { printf '\n== test-fresh: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "test-fresh: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
git -C "$src" rev-parse --verify -q HEAD >/dev/null || { echo "test-fresh: $src is not a git checkout with a commit" >&2; exit 2; }
if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
  echo "test-fresh: note: uncommitted changes are not tested (the root gets git archive HEAD)"
fi

# This machine's Debian mirror: the first source for the suite itself, from
# deb822 (.sources) or one-line (.list) apt sources.
host_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '
      /^[ \t]*$/ { if (uri != "" && ok && deb) { print uri; exit } uri = ""; ok = 0; deb = 0; next }
      tolower($1) == "types:"  { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "uris:"   { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
      END { if (uri != "" && ok && deb) print uri }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v s="$suite" '$1 == "deb" { sub(/ \[[^]]*\]/, ""); if ($3 == s) { print $2; exit } }'
  return 0
}
mirror=$(host_mirror | head -n 1)
[ -n "$mirror" ] || { echo "test-fresh: no apt source for Debian $suite found on this machine" >&2; exit 2; }

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap on this machine (host tool, not part of the root)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

work=$(mktemp -d "${FRESH_WORK_PARENT:-/var/tmp}/edgerun-fresh.XXXXXX")
root=$work/root
cleanup() {
  local rc=$?
  if [ "${FRESH_KEEP:-0}" = 1 ]; then
    echo "test-fresh: root kept at $root"
  elif findmnt -rn -o TARGET | grep -q "^$work"; then
    echo "test-fresh: $work still has mounts; not removing it" >&2
  else
    rm -rf --one-file-system "$work"
  fi
  exit $rc
}
trap cleanup EXIT

if [ ! -f "$base_tar" ]; then
  say "bootstrapping a bare Debian $suite root (minbase) into the cache"
  debootstrap --variant=minbase "$suite" "$work/base" "$mirror" > "$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; exit 1; }
  # A bare system as a new machine has it: no downloaded packages, no package lists.
  rm -rf "$work/base/var/cache/apt/archives/"*.deb "$work/base/var/lib/apt/lists/"*
  mkdir -p "$cache"
  tar -C "$work/base" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf --one-file-system "$work/base"
fi

say "unpacking the bare root"
mkdir -p "$root"
tar -C "$root" -xf "$base_tar"
# Reaching the mirror as this machine does: its apt sources, its resolver, and the
# settings it needs for them (a snapshot mirror's expired Valid-Until, a proxy).
rm -f "$root/etc/apt/sources.list" "$root/etc/apt/sources.list.d/"*
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && cp "$f" "$root$f"
done
apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy)' > "$root/etc/apt/apt.conf.d/00host-mirror" || true
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# What Debian's installer writes on every machine and debootstrap leaves out:
# without it "localhost" does not resolve (chromedriver reaches Chromium by it).
[ -f "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
# The npm registry (the server tests' pinned client) as this machine reaches it:
# where its network inspects TLS with a CA of its own, the host trusts that CA
# (NODE_EXTRA_CA_CERTS, /usr/local/share/ca-certificates); a machine on an
# open network needs none of it.
{
  [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ] && cat "$NODE_EXTRA_CA_CERTS"
  cat /usr/local/share/ca-certificates/*.crt 2>/dev/null
} > "$root/etc/host-network-ca.crt" || true
[ -s "$root/etc/host-network-ca.crt" ] || rm -f "$root/etc/host-network-ca.crt"

say "copying in git archive HEAD ($(git -C "$src" rev-parse --short HEAD)) and ../shared"
mkdir -p "$root/src/edgerun"
git -C "$src" archive HEAD | tar -x -C "$root/src/edgerun"
cp -a "$shared" "$root/src/shared"

# What runs inside the root, as the README says, then the no-OpenCL check.
cat > "$root/src/fresh-steps.sh" <<'STEPS'
set -euo pipefail
say() { printf '\n== test-fresh (inside the bare root): %s\n' "$*"; }
if [ -f /etc/host-network-ca.crt ]; then export NODE_EXTRA_CA_CERTS=/etc/host-network-ca.crt; fi
say "apt-get install make"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null
cd /src/edgerun
say "make run"
make run 2>&1 | tee /tmp/run.out
# The story itself, and edgerun's closing line counting the tokens it generated.
grep -q '^Once upon a time' /tmp/run.out && grep -Eq 'generated [1-9][0-9]* tokens' /tmp/run.out ||
  { echo "test-fresh: make run printed no story"; exit 1; }
say "make test"
make test 2>&1 | tee /tmp/test.out
say "without OpenCL's headers: oneDNN must be left out, the rest must build and pass"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq ocl-icd-opencl-dev opencl-c-headers >/dev/null
cmake -S . -B build-no-opencl -DCMAKE_BUILD_TYPE=Release 2>&1 | tee /tmp/configure.out | grep 'edgerun'
grep -q 'edgerun: oneDNN backend left out: Could NOT find OpenCL' /tmp/configure.out ||
  { echo "test-fresh: no line saying oneDNN was left out for want of OpenCL"; exit 1; }
cmake --build build-no-opencl -j2 > /tmp/build-no-opencl.log 2>&1 || { tail -n 30 /tmp/build-no-opencl.log; exit 1; }
(cd build-no-opencl && ctest --output-on-failure -j2) 2>&1 | tee /tmp/test-no-opencl.out
if [ "${FRESH_ARM64:-1}" = 1 ]; then
  say "make test-arm64"
  make test-arm64 2>&1 | tee /tmp/test-arm64.out
fi
say "summary"
echo "make run: $(grep -Eo 'generated [0-9]+ tokens' /tmp/run.out) of story"
echo "make test: $(grep -E 'tests passed' /tmp/test.out)"
echo "without OpenCL (oneDNN left out): $(grep -E 'tests passed' /tmp/test-no-opencl.out)"
[ ! -f /tmp/test-arm64.out ] || echo "make test-arm64: $(grep -E 'tests passed' /tmp/test-arm64.out)"
STEPS

say "running inside the bare root"
unshare --mount --propagation private -- /bin/bash -c '
  set -e
  root=$1
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t sysfs sysfs "$root/sys"
  mount -t tmpfs tmpfs "$root/tmp"
  exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM=dumb FRESH_ARM64="$2" /bin/bash /src/fresh-steps.sh' test-fresh "$root" "${FRESH_ARM64:-1}"
