#!/usr/bin/env bash
# Installs every Debian package aha uses. Idempotent: when all are present it only runs dpkg-query.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config make git
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
  libopenmpi-dev openmpi-bin
  libopenblas-dev libyaml-dev libcjson-dev libsodium-dev
  gnuplot-nox python3 python3-torch python3-numpy
  procps mawk # pgrep and awk in the integration tests
  clang libclang-rt-14-dev # make fuzz: clang's libFuzzer + ASan/UBSan runtimes (Debian 12: clang 14)
  protobuf-compiler python3-zmq python3-protobuf # examples/verifier.py and its CTest (python_verifier)
  slurmctld slurmd slurm-client munge libpmix2 # deploy/slurm/ and the one-node Slurm of the slurm test
)
missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
