# Shared set-up for the key store tests (keystore-*.sh): a throwaway token, a
# test PKI, a key store configuration file and helpers that check what a user
# of the key store checks.  Source it after nothing else:
#
#   . "$top_srcdir/tests/integration/keystore-common.sh"
#   ks_setup [GRACE_SECONDS]

. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
require_pkcs11_tool
MKCERT=$top_builddir/tests/keystore/keystore_mkcert
require_program tests/keystore/keystore_mkcert "make check builds it"

# Token, PKI (SPCs 1234, 5678, 4321) and $sks_work/ks.conf; the working
# directory becomes $sks_work.
ks_setup() {
    sks_mkwork
    make_token sks-ks
    cd "$sks_work"
    "$SKSCTL" pki --out pki --spc 1234,5678,4321 --days 365 > pki.out ||
        fail "sksctl pki could not make the test PKI"
    {
        echo "# key store configuration of $sks_test_name"
        echo "[sks]"
        echo "pkcs11_module = $SOFTHSM_MODULE"
        echo "token = $SKS_TOKEN_LABEL   # a label"
        echo "pin_file = $SKS_PIN_FILE"
        echo "trust_anchors = pki/root.pem"
        echo "grace_period = ${1:-86400}"
        echo "crl_check = no   # the test PKI's CRLs are not served (keystore-crl.sh serves them)"
    } > ks.conf
    write_openssl_cnf openssl.cnf
}

# sksctl with the test's key store configuration.
ks() {
    ks_cmd=$1
    shift
    "$SKSCTL" "$ks_cmd" -c "$sks_work/ks.conf" "$@"
}

# Every object on the token as pkcs11-tool lists it after login, to compare
# before and after a command that must change nothing.
token_listing() {
    p11tool_login -O 2>/dev/null > "$1" || fail "pkcs11-tool cannot list the token"
}

# ks_refused NAME RULE ARGS...: sksctl ARGS must fail naming RULE and leave
# every object on the token as it was.
ks_refused() {
    ks_name=$1
    ks_rule=$2
    shift 2
    token_listing "$sks_work/$ks_name.before"
    run_fails "$ks_name" "$ks_rule" ks "$@"
    token_listing "$sks_work/$ks_name.after"
    assert_same_file "$ks_name: token unchanged" "$sks_work/$ks_name.before" \
        "$sks_work/$ks_name.after"
}

# The pkcs11: URI of IDENTITY's version VERSION, from sksctl list --json.
ks_uri() {
    ks list "$1" --json | tr -d '\n ' | sed 's/},{/}\n{/g' |
        grep "\"version\":$2," | sed -n 's/.*"uri":"\(pkcs11:[^"]*\)".*/\1/p'
}

# The CKA_ID (hex) of IDENTITY/VERSION's private key, as pkcs11-tool shows it.
ks_key_id() {
    p11tool_login -O 2>/dev/null |
        awk -v want="$1/$2" '/^Private Key Object/ { key = 1; next }
             /^[A-Z]/ { key = 0 }
             key && $1 == "label:" { lab = $2 }
             key && $1 == "ID:" && lab == want { print $2; exit }'
}

# ks_signs NAME KEY FULLCHAIN [X5U]: sksctl sign --key KEY makes an Identity
# header that sksctl verify accepts with FULLCHAIN and the test PKI's root.
ks_signs() {
    if [ -n "${4:-}" ]; then
        run_ok "$1-sign" env OPENSSL_CONF="$sks_work/openssl.cnf" "$SKSCTL" sign \
            -c "$sks_work/ks.conf" --key "$2" --orig 12155550121 --dest 12155550131 \
            --attest A --x5u "$4"
    else
        run_ok "$1-sign" ks sign --key "$2" --orig 12155550121 --dest 12155550131 --attest A
    fi
    run_ok "$1-verify" "$SKSCTL" verify --cert "$3" --trust pki/root.pem < "$sks_work/$1-sign.out"
    assert_grep "$1-verify" "verified: 200 OK" "$sks_work/$1-verify.out"
}

# ks_protected IDENTITY VERSION: the private key is sensitive, not
# extractable, sign-only, and pkcs11-tool cannot read it out.
ks_protected() {
    ks_id=$(ks_key_id "$1" "$2")
    [ -n "$ks_id" ] || fail "no private key $1/$2 on the token"
    p11tool_login -O 2>/dev/null |
        awk -v want="$1/$2" '/^Private Key Object/ { key = 1; next } /^[A-Z]/ { key = 0 }
             key && $1 == "label:" { lab = $2 } key && lab == want' > "$sks_work/$1-$2.key.txt"
    assert_grep "$1/$2 sensitive" "sensitive" "$sks_work/$1-$2.key.txt"
    assert_grep "$1/$2 sign-only" "Usage:      sign" "$sks_work/$1-$2.key.txt"
    if sed 's/never extractable//' "$sks_work/$1-$2.key.txt" | grep -q extractable; then
        cat "$sks_work/$1-$2.key.txt" >&2
        fail "$1/$2: the private key is extractable"
    fi
    if grep -Eq 'Usage:.*(decrypt|unwrap|derive)' "$sks_work/$1-$2.key.txt"; then
        fail "$1/$2: the private key can do more than sign"
    fi
    rm -f "$sks_work/$1-$2.read"
    p11tool_login --read-object --type privkey --id "$ks_id" -o "$sks_work/$1-$2.read" \
        > "$sks_work/$1-$2.read.out" 2>&1 || true
    if [ -s "$sks_work/$1-$2.read" ]; then
        fail "$1/$2: pkcs11-tool read the private key out of the token"
    fi
}

# SoftHSM 2.6.1 rewrites token.object in place (truncate, then write) on
# every C_Login, so a SIGKILL inside that window empties it and the token
# reads as uninitialised: SoftHSM's own crash window, outside the key store.
# token.object holds no key store state (label, PIN blobs, flags and the
# generation counter), so a crash test saves it before each step that may be
# killed and restores it after one that tore it, counting those in $torn.
token_object_save() {
    token_object=$(ls "$sks_work"/token/tokens/*/token.object)
    cp "$token_object" "$sks_work/token.object.copy"
}

token_object_check() {
    if [ "$(wc -c < "$token_object")" -ne "$(wc -c < "$sks_work/token.object.copy")" ]; then
        cp "$sks_work/token.object.copy" "$token_object"
        torn=$((${torn:-0} + 1))
    fi
}

# kill_after_random PID SPAN_US SPREAD: SIGKILL to PID after a random delay
# of 0 to SPREAD % of SPAN_US microseconds (from /dev/urandom), for the crash
# tests; PID may have ended already.
kill_after_random() {
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    delay_us=$(( r * $2 * $3 / 100 / 65536 ))
    sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
    kill -9 "$1" 2>/dev/null || true
}
