#!/usr/bin/env bash
# Installs what Mitosis needs on a fresh Debian 12 machine. Idempotent, and quick when everything
# is already there. Needs root (apt). Every README command calls it.
#
#   Java, ZooKeeper 3.8.0 (Debian 12 package), ZooKeeper 3.4.13 (Debian 11 package, unpacked into
#   vendor-zookeeper/3.4.13, the mirror taken from this machine's apt configuration), kazoo, PyYAML,
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
/usr/bin/python3 -c 'import kazoo' >/dev/null 2>&1 || missing+=(python3-kazoo)
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || missing+=(python3-yaml)   # the YAML client of the client-format tests
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

# ZooKeeper 3.4.13: the jar from Debian 11's libzookeeper-java, fetched through the mirror this
# machine's apt already uses (no host name is written here).
vendor="$root/vendor-zookeeper/3.4.13"
if [ ! -f "$vendor/zookeeper-3.4.13.jar" ]; then
    mirror="$(debian_mirror)"
    if [ -z "$mirror" ]; then
        say "cannot find a Debian archive in /etc/apt/sources.list or /etc/apt/sources.list.d;"
        say "set MITOSIS_DEBIAN_MIRROR to one (the URL that ends in /debian), or put zookeeper-3.4.13.jar into $vendor"
        exit 1
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/archives/partial"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    if [ -f "$keyring" ]; then trust="signed-by=$keyring"; else trust="trusted=yes"; fi
    echo "deb [$trust] $mirror bullseye main" > "$work/sources.list"
    apt_options=(
        -o "APT::Sandbox::User=root"
        -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
        -o "Dir::Cache::pkgcache=$work/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$work/srcpkgcache.bin"
        -o "APT::Get::List-Cleanup=0"
    )
    say "fetching ZooKeeper 3.4.13 (Debian 11 libzookeeper-java) from $mirror"
    apt-get "${apt_options[@]}" update -qq
    version=$(apt-cache "${apt_options[@]}" madison libzookeeper-java | awk -F'|' '$2 ~ /3\.4\.13/ { gsub(/ /, "", $2); print $2; exit }')
    if [ -z "$version" ]; then
        say "the bullseye index has no libzookeeper-java 3.4.13"
        exit 1
    fi
    (cd "$work" && apt-get "${apt_options[@]}" download -qq "libzookeeper-java=$version")
    dpkg-deb -x "$work"/libzookeeper-java_*.deb "$work/unpacked"
    mkdir -p "$vendor"
    cp "$work/unpacked/usr/share/java/zookeeper-3.4.13.jar" "$vendor/"
    echo "$version" > "$vendor/DEBIAN-VERSION"
    say "ZooKeeper 3.4.13 is in $vendor"
fi
