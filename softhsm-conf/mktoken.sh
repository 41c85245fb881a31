#!/bin/sh
# Creates a throwaway SoftHSM2 token under DIR, touching nothing outside it.
#
#   mktoken.sh DIR [LABEL]
#
# Writes:
#   DIR/softhsm2.conf  SoftHSM2 configuration (point SOFTHSM2_CONF here)
#   DIR/tokens/        the token store
#   DIR/user.pin       the user PIN, mode 0600
#   DIR/so.pin         the SO PIN, mode 0600
#   DIR/env            shell lines to source: SOFTHSM2_CONF, SKS_TOKEN_LABEL,
#                      SKS_PIN_FILE, SKS_SO_PIN_FILE, SOFTHSM_MODULE
#   DIR/sks.conf       an [sks] section for sksctl -c and sksd -c that needs no
#                      SOFTHSM2_CONF in the environment (pkcs11_module_env)
# PINs are random and are passed to the token through files, never argv.
set -eu

dir=${1:?usage: mktoken.sh DIR [LABEL]}
label=${2:-sks-test}
here=$(cd "$(dirname "$0")" && pwd)

module=${SOFTHSM_MODULE:-}
if [ -z "$module" ]; then
    for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*-linux-gnu/softhsm/libsofthsm2.so \
             /usr/local/lib/softhsm/libsofthsm2.so; do
        if [ -f "$m" ]; then module=$m; break; fi
    done
fi
[ -n "$module" ] && [ -f "$module" ] || { echo "mktoken.sh: SoftHSM2 module not found (install softhsm2 or set SOFTHSM_MODULE)" >&2; exit 77; }

sksctl=${SKSCTL:-}
if [ -z "$sksctl" ]; then
    for s in "${top_builddir:-}/sksctl" "$here/../sksctl"; do
        if [ -x "$s" ]; then sksctl=$s; break; fi
    done
fi
[ -n "$sksctl" ] || { echo "mktoken.sh: sksctl not found (build first, or set SKSCTL)" >&2; exit 1; }

mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
sed "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.in" > "$dir/softhsm2.conf"

umask 077
od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$dir/user.pin"
od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$dir/so.pin"

SOFTHSM2_CONF=$dir/softhsm2.conf "$sksctl" init-token --module "$module" \
    --label "$label" --so-pin-file "$dir/so.pin" --pin-file "$dir/user.pin" >/dev/null

cat > "$dir/env" <<ENV
SOFTHSM2_CONF='$dir/softhsm2.conf'; export SOFTHSM2_CONF
SOFTHSM_MODULE='$module'; export SOFTHSM_MODULE
SKS_TOKEN_LABEL='$label'; export SKS_TOKEN_LABEL
SKS_PIN_FILE='$dir/user.pin'; export SKS_PIN_FILE
SKS_SO_PIN_FILE='$dir/so.pin'; export SKS_SO_PIN_FILE
ENV

# Paths relative to DIR: the file keeps working when DIR moves.
cat > "$dir/sks.conf" <<CONF
[sks]
pkcs11_module = $module
pkcs11_module_env = sks_module_env
token = $label
pin_file = user.pin

[sks_module_env]
SOFTHSM2_CONF = softhsm2.conf
CONF
