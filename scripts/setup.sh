#!/usr/bin/env bash
# Installs what Mitosis needs on a fresh Debian 12 machine. Idempotent, and quick when everything
# is already there. Needs root (apt). Every README command calls it.
#
#   Java, ZooKeeper 3.8.0 (Debian 12 package), ZooKeeper 3.4.13 and 3.9.3 (the Debian 11 and 13
#   packages, unpacked into vendor-zookeeper/VERSION, the mirror taken from this machine's apt
#   configuration), kazoo, PyYAML, the kubernetes Python client,
#   iproute2, iptables, OpenSSH server, sudo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    say "run as root (it installs Debian packages and, for rehearsals, creates network namespaces)"
    exit 1
fi

missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)   # interop tests run a Java source file
[ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
[ -f /usr/share/java/slf4j-nop.jar ] || missing+=(libslf4j-java)   # MitosisBench's Java client peer logs nowhere
/usr/bin/python3 -c 'import kazoo' >/dev/null 2>&1 || missing+=(python3-kazoo)
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || missing+=(python3-yaml)   # the YAML client of the client-format tests
/usr/bin/python3 -c 'import kubernetes' >/dev/null 2>&1 || missing+=(python3-kubernetes)   # checks the --kubernetes manifests against its typed models
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v sudo >/dev/null 2>&1 || missing+=(sudo)   # the SSH driver's sudo test
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package may start a ZooKeeper service on 2181; Mitosis starts its own servers.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet zookeeper 2>/dev/null; then
    systemctl stop zookeeper || true
fi

# The first Debian archive (not the security archive) this machine's apt uses: a deb822 stanza
# (*.sources) or a one-line entry whose suite is a Debian release; $MITOSIS_DEBIAN_MIRROR wins.
debian_mirror() {
    if [ -n "${MITOSIS_DEBIAN_MIRROR:-}" ]; then
        echo "${MITOSIS_DEBIAN_MIRROR%/}"
        return
    fi
    local apt_etc="${MITOSIS_APT_ETC:-/etc/apt}" file uri
    local release='^(buster|bullseye|bookworm|trixie|forky|sid|oldoldstable|oldstable|stable|testing|unstable)(-updates|-backports)?$'
    for file in "$apt_etc"/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        uri=$(awk -v release="$release" '
            function flush(   n, i, list, ok) {
                ok = 0
                n = split(suites, list, " ")
                for (i = 1; i <= n; i++) if (list[i] ~ release) ok = 1
                if (ok && types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
                    split(uris, list, " "); print list[1]; done = 1; exit
                }
                types = ""; uris = ""; suites = ""; enabled = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            tolower($1) == "types:"   { $1 = ""; types = $0 }
            tolower($1) == "uris:"    { $1 = ""; uris = $0 }
            tolower($1) == "suites:"  { $1 = ""; suites = $0 }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { if (!done) flush() }
        ' "$file")
        if [ -n "$uri" ]; then echo "${uri%/}"; return; fi
    done
    for file in "$apt_etc"/sources.list "$apt_etc"/sources.list.d/*.list; do
        [ -f "$file" ] || continue
        uri=$(awk -v release="$release" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                if ($(i + 1) ~ release) { print $i; exit }
            }
        ' "$file")
        if [ -n "$uri" ]; then echo "${uri%/}"; return; fi
    done
}

# An older or newer ZooKeeper than the machine's own: the jars of one Debian release's
# libzookeeper-java, fetched through the mirror this machine's apt already uses (no host name is
# written here) with a private apt directory, and unpacked into vendor-zookeeper/VERSION.
#   fetch_zookeeper VERSION SUITE JAR...
work_directories=()
trap 'rm -rf "${work_directories[@]}"' EXIT
fetch_zookeeper() {
    local version="$1" suite="$2"
    shift 2
    local vendor="$root/vendor-zookeeper/$version" jar
    local complete=1
    for jar in "$@"; do [ -f "$vendor/$jar" ] || complete=0; done
    [ "$complete" = 1 ] && return 0
    local mirror
    mirror="$(debian_mirror)"
    if [ -z "$mirror" ]; then
        say "cannot find a Debian archive in /etc/apt/sources.list or /etc/apt/sources.list.d;"
        say "set MITOSIS_DEBIAN_MIRROR to one (the URL that ends in /debian), or put $* into $vendor"
        exit 1
    fi
    local work
    work=$(mktemp -d)
    work_directories+=("$work")
    mkdir -p "$work/lists/partial" "$work/archives/partial"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg trust
    if [ -f "$keyring" ]; then trust="signed-by=$keyring"; else trust="trusted=yes"; fi
    echo "deb [$trust] $mirror $suite main" > "$work/sources.list"
    local apt_options=(
        -o "APT::Sandbox::User=root"
        -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
        -o "Dir::Cache::pkgcache=$work/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$work/srcpkgcache.bin"
        -o "APT::Get::List-Cleanup=0"
    )
    say "fetching ZooKeeper $version (Debian $suite libzookeeper-java) from $mirror"
    apt-get "${apt_options[@]}" update -qq
    local package_version
    package_version=$(apt-cache "${apt_options[@]}" madison libzookeeper-java |
        awk -F'|' -v want="$version" '{ v = $2; gsub(/ /, "", v) } index(v, want) == 1 { print v; exit }')
    if [ -z "$package_version" ]; then
        say "the $suite index at $mirror has no libzookeeper-java $version"
        exit 1
    fi
    (cd "$work" && apt-get "${apt_options[@]}" download -qq "libzookeeper-java=$package_version")
    dpkg-deb -x "$work"/libzookeeper-java_*.deb "$work/unpacked"
    mkdir -p "$vendor"
    for jar in "$@"; do
        if [ ! -f "$work/unpacked/usr/share/java/$jar" ]; then
            say "libzookeeper-java $package_version has no usr/share/java/$jar"
            exit 1
        fi
        cp "$work/unpacked/usr/share/java/$jar" "$vendor/"
    done
    echo "$package_version" > "$vendor/DEBIAN-VERSION"
    say "ZooKeeper $version is in $vendor"
}

# 3.4.13 (Debian 11) needs only its own jar plus Debian 12's log4j 1.2 and slf4j jars.
fetch_zookeeper 3.4.13 bullseye zookeeper-3.4.13.jar
# 3.9.3 (Debian 13) runs on Debian 12's netty, log4j 1.2, slf4j, metrics, snappy, commons-io and
# commons-cli jars (installed with the zookeeper package) with its own server and jute jars first.
fetch_zookeeper 3.9.3 trixie zookeeper-3.9.3.jar zookeeper-jute-3.9.3.jar
