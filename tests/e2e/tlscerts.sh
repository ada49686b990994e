# tlscerts.sh - a throw-away PKI for the TLS tests (sourced after lib.sh): made with openssl at test
# time, never committed, so nothing expires in the tree.

# make_ca NAME : $T/NAME.crt and $T/NAME.key, a self-signed CA.
make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
        -keyout "$T/$1.key" -out "$T/$1.crt" 2>"$T/openssl-$1.err" || fail "openssl: CA $1: $(cat "$T/openssl-$1.err")"
}

# make_cert CA NAME SERIAL server|client : $T/NAME.crt and $T/NAME.key signed by CA; a server
# certificate names localhost and 127.0.0.1.
make_cert() {
    local ca=$1 name=$2 serial=$3 kind=$4
    if [ "$kind" = server ]; then
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/$name.ext"
    else
        printf 'extendedKeyUsage=clientAuth\n' >"$T/$name.ext"
    fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
        -keyout "$T/$name.key" -out "$T/$name.csr" 2>"$T/openssl-$name.err" &&
        openssl x509 -req -in "$T/$name.csr" -CA "$T/$ca.crt" -CAkey "$T/$ca.key" -set_serial "$serial" -days 2 \
            -extfile "$T/$name.ext" -out "$T/$name.crt" 2>>"$T/openssl-$name.err" ||
        fail "openssl: certificate $name: $(cat "$T/openssl-$name.err")"
}

# bcrypt_hash PASSWORD : a $2b$ hash at the lowest cost (tests only), via libxcrypt as the daemon.
bcrypt_hash() {
    "$PY" -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' "$1" 2>/dev/null
}

# served_serial PORT : the serial (hex, upper case, as openssl prints it) of the certificate the
# server on PORT presents.
served_serial() {
    openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
