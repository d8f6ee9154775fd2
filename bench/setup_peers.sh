#!/usr/bin/env bash
# Install the peer servers the benchmarks compare against (Debian's Postfix 3.7 with its
# smtp-source, Dovecot 2.3 POP3) and write their configuration under a bench work dir.
#
# Nothing listens system-wide afterwards: the packages' own instances are never started
# (postfix "No configuration", service starts refused while installing) and any that is
# running on 25/110/143/993/995 is stopped. The bench instances are started by the
# benchmarks themselves (bench/peers.py) with `postfix -c BENCH_DIR/postfix/etc` and `dovecot -c FILE`.
#
# Usage (as root): bench/setup_peers.sh [BENCH_DIR]      default /tmp/beaconbench
# Environment: POSTFIX_PORT (10025), DOVECOT_PORT (10110), BENCH_USERS (2000 Postfix mailboxes
# user0..userN-1@bench.test), BENCH_USER (the sudo user, or
# a system user "beaconbench" when run as plain root: virtual(8) and Dovecot refuse uid 0).
set -euo pipefail

BENCH_DIR=${1:-${BENCH_DIR:-/tmp/beaconbench}}
POSTFIX_PORT=${POSTFIX_PORT:-10025}
DOVECOT_PORT=${DOVECOT_PORT:-10110}
BENCH_DOMAIN=${BENCH_DOMAIN:-bench.test}
BENCH_USERS=${BENCH_USERS:-2000}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "setup_peers.sh: run as root (apt-get and the Postfix master need it)" >&2
    exit 2
fi

if [ -n "${BENCH_USER:-}" ]; then
    :
elif [ -n "${SUDO_USER:-}" ] && [ "${SUDO_USER}" != root ]; then
    BENCH_USER=$SUDO_USER
else
    BENCH_USER=beaconbench
    getent passwd "$BENCH_USER" >/dev/null ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$BENCH_USER"
fi
BENCH_UID=$(id -u "$BENCH_USER")
BENCH_GID=$(id -g "$BENCH_USER")

install_packages() {
    local wanted=(postfix dovecot-core dovecot-pop3d procps iproute2)
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Refuse service starts during the install (the packages' own instances would take 25 and 110).
    local made_policy=no
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=yes
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$made_policy" = yes ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

stop_system_instances() {
    # The default instances (config in /etc/postfix, /etc/dovecot), if anything started them.
    if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then postfix stop || true; fi
    if pidof -q dovecot 2>/dev/null; then
        for pid in $(pidof dovecot); do
            if ! grep -q -- "$BENCH_DIR" "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid" || true; fi
        done
    fi
    sleep 1
    if ss -Hltn '( sport = :25 or sport = :110 or sport = :143 or sport = :993 or sport = :995 )' | grep -q .; then
        echo "setup_peers.sh: something still listens on a mail port:" >&2
        ss -ltnp '( sport = :25 or sport = :110 or sport = :143 or sport = :993 or sport = :995 )' >&2
        exit 1
    fi
}

write_postfix() {
    local dir=$BENCH_DIR/postfix/etc
    mkdir -p "$dir" "$BENCH_DIR/postfix/data" "$BENCH_DIR/postfix/queue" "$BENCH_DIR/mail/postfix/$BENCH_DOMAIN"
    chown "$BENCH_UID:$BENCH_GID" "$BENCH_DIR/mail/postfix" "$BENCH_DIR/mail/postfix/$BENCH_DOMAIN"
    chown postfix "$BENCH_DIR/postfix/data"
    sed -e "s|@BENCH_DIR@|$BENCH_DIR|g" -e "s|@DOMAIN@|$BENCH_DOMAIN|g" \
        -e "s|@UID@|$BENCH_UID|g" -e "s|@GID@|$BENCH_GID|g" "$HERE/peers/main.cf.in" >"$dir/main.cf"
    sed -e "s|@PORT@|$POSTFIX_PORT|g" "$HERE/peers/master.cf.in" >"$dir/master.cf"
    # userN@domain -> domain/userN/ (the trailing slash asks virtual(8) for Maildir);
    # virtual(8) refuses regexp substitutions, so every user is listed.
    seq 0 $((BENCH_USERS - 1)) | awk -v d="$BENCH_DOMAIN" '{print "user" $1 "@" d " " d "/user" $1 "/"}' >"$dir/vmailbox"
    postfix -c "$dir" set-permissions >/dev/null 2>&1 || true
    postfix -c "$dir" check
}

write_dovecot() {
    local dir=$BENCH_DIR/dovecot
    mkdir -p "$dir/run" "$dir/state" "$BENCH_DIR/mail/dovecot"
    sed -e "s|@BENCH_DIR@|$BENCH_DIR|g" -e "s|@PORT@|$DOVECOT_PORT|g" -e "s|@USER@|$BENCH_USER|g" \
        -e "s|@GROUP@|$(id -gn "$BENCH_USER")|g" -e "s|@UID@|$BENCH_UID|g" -e "s|@GID@|$BENCH_GID|g" \
        "$HERE/peers/dovecot.conf.in" >"$dir/dovecot.conf"
    touch "$dir/passwd"
    chown -R "$BENCH_UID:$BENCH_GID" "$dir" "$BENCH_DIR/mail/dovecot"
    runuser -u "$BENCH_USER" -- dovecot -c "$dir/dovecot.conf" -n >/dev/null
}

install_packages
mkdir -p "$BENCH_DIR"
chmod 755 "$BENCH_DIR"
stop_system_instances
write_postfix
write_dovecot
cat >"$BENCH_DIR/peers.env" <<EOF
BENCH_DIR=$BENCH_DIR
BENCH_USER=$BENCH_USER
BENCH_UID=$BENCH_UID
BENCH_GID=$BENCH_GID
BENCH_DOMAIN=$BENCH_DOMAIN
POSTFIX_PORT=$POSTFIX_PORT
DOVECOT_PORT=$DOVECOT_PORT
EOF
echo "peers ready in $BENCH_DIR: $(postconf -d -h mail_version | sed 's/^/postfix /'), dovecot $(dovecot --version | cut -d' ' -f1)"
