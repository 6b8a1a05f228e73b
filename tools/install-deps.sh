#!/usr/bin/env bash
# Installs the Debian packages Flowcorder needs, only those missing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  libfixbuf-dev libsqlite3-dev sqlite3 libpcap-dev libcli11-dev nlohmann-json3-dev
  libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 nftables iptables tshark nfdump softflowd iperf3 procps python3
  libns3-dev ns3 libgsl-dev python3-matplotlib
  mininet bridge-utils iputils-ping nginx-light apache2-utils dnsmasq-base
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: need root to install packages (run as root or install them yourself)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer it up front.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
