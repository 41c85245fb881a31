#!/bin/sh
# sksd's configuration: --check accepts a good file and opens the token;
# each broken setting stops the start with a message naming the section, the
# key and what is wrong, and no listener is opened.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
run_ok check "$SKSD" -c "$sks_work/sks.conf" --check
assert_grep check "is valid and the token" "$sks_work/check.out"
pass "check_accepts_a_good_configuration"

# broken NAME EXPECTED SED-EXPRESSION [APPENDED TEXT]
n=0
broken() {
    n=$((n + 1))
    sed "$3" "$sks_work/sks.conf" > "$sks_work/bad$n.conf"
    [ -z "${4:-}" ] || printf '%s\n' "$4" >> "$sks_work/bad$n.conf"
    run_fails "$1" "$2" "$SKSD" -c "$sks_work/bad$n.conf" --check
    pass "config_refuses_$1"
}
broken listen-without-port '[sksd] listen = "127.0.0.1": expected ADDRESS:PORT' 's/^listen = .*/listen = 127.0.0.1/'
broken port-out-of-range 'the port must be a number from 0 to 65535' 's/^listen = .*/listen = 127.0.0.1:70000/'
broken no-listen '[sksd] listen is missing' '/^listen = /d'
broken limit-out-of-range '[sksd_limits] key_max_age_ms = "5000": expected a whole number from 0 to 1000' \
    's/^connection_timeout = 10$/connection_timeout = 10\nkey_max_age_ms = 5000/'
broken limit-not-a-number '[sksd_limits] max_body = "lots"' \
    's/^connection_timeout = 10$/connection_timeout = 10\nmax_body = lots/'
broken bad-identity-name '[sksd_identities] default = "sp main"' 's/^default = sp-main$/default = sp main/'
broken bad-prefix '[sksd_identities] 12a4 = "sp-west": a key is "default" or a TN prefix' \
    's/^default = sp-main$/default = sp-main\n12a4 = sp-west/'
broken missing-section 'limits = nowhere: no such section' 's/^limits = sksd_limits$/limits = nowhere/'
broken relative-socket 'the socket needs an absolute path' 's|^path = .*|path = import.sock|'
broken no-uids 'allowed_uids is missing' '/^allowed_uids/d'
broken bad-uids 'expected numeric uids separated by commas' 's/^allowed_uids = .*/allowed_uids = root/'
broken tls-without-subjects 'names no subject' \
    's/^import_unix = sksd_import_unix$/import_unix = sksd_import_unix\nimport_tls = tls/' \
    "$(printf '[tls]\nlisten = 127.0.0.1:0\ncert = a.pem\nkey = a.key\nclient_ca = ca.pem')"
broken no-pin-file 'pin_file is missing' '/^pin_file = /d'
broken bad-error-body '[sksd] error_body = xml: it must be atis (the default) or vesper' \
    's/^limits = sksd_limits$/limits = sksd_limits\nerror_body = xml/'
verify_on='s/^import_unix = sksd_import_unix$/import_unix = sksd_import_unix\nverify = sksd_verify/'
broken verify-missing-section '[sksd] verify = sksd_verify: no such section' "$verify_on"
broken verify-bad-bool '[sksd_verify] x5u_allow_private = "maybe": expected yes or no' "$verify_on" \
    "$(printf '[sksd_verify]\nx5u_allow_private = maybe')"
broken verify-threads '[sksd_verify] threads = "0": expected a whole number from 1 to 1024' \
    "$verify_on" "$(printf '[sksd_verify]\nthreads = 0')"
broken verify-ttl-order 'cache_min_ttl = 600 is more than cache_max_ttl = 60' "$verify_on" \
    "$(printf '[sksd_verify]\ncache_min_ttl = 600\ncache_max_ttl = 60')"
broken crl-max-bytes '[sksd_verify] crl_max_bytes = "100": expected a whole number from 1024 to 33554432' \
    "$verify_on" "$(printf '[sksd_verify]\ncrl_max_bytes = 100')"
broken crl-cache-entries '[sksd_verify] crl_cache_entries = "0": expected a whole number from 1 to 1000000' \
    "$verify_on" "$(printf '[sksd_verify]\ncrl_cache_entries = 0')"
broken crl-cache-bytes '[sksd_verify] crl_cache_bytes = "lots": expected a whole number' \
    "$verify_on" "$(printf '[sksd_verify]\ncrl_cache_bytes = lots')"
broken crl-cache-too-small '[sksd_verify] crl_cache_bytes = 1048576 cannot hold one CRL of crl_max_bytes = 1048576' \
    "$verify_on" "$(printf '[sksd_verify]\ncrl_cache_bytes = 1048576')"
broken cache-too-small '[sksd_verify] cache_bytes = 65536 cannot hold one chain of x5u_max_bytes = 65536' \
    "$verify_on" "$(printf '[sksd_verify]\nx5u_max_bytes = 65536\ncache_bytes = 65536')"
broken verify-no-trust '[sksd_verify] needs trust' "$verify_on; /^trust_anchors = /d" \
    "$(printf '[sksd_verify]\nmax_age = 60')"
broken verify-trust-unreadable '[verify] trust' "$verify_on" \
    "$(printf '[sksd_verify]\ntrust = %s/no-roots.pem' "$sks_work")"
broken syntax 'syntax error on line' 's/^\[sksd\]$/[sksd/'
run_fails missing-file 'cannot read the configuration file' "$SKSD" -c "$sks_work/nothing.conf" --check
pass "config_refuses_a_missing_file"
run_fails usage 'usage: sksd' "$SKSD" --bogus
pass "usage_error_prints_the_usage"
