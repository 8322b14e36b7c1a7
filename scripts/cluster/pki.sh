# PKI of the local cluster (sourced by up.sh): a CA and the certificates of
# every component, made once with openssl and kept under $CLUSTER_DIR/pki.

# cert NAME SUBJECT [SAN] signs NAME.crt/NAME.key with the cluster CA.
cert() {
  local name=$1 subj=$2 san=${3:-}
  [ -f "$PKI/$name.crt" ] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
}

# kubeconfig NAME writes $CLUSTER_DIR/NAME.kubeconfig for the client cert NAME.
kubeconfig() {
  local name=$1 file=$CLUSTER_DIR/$1.kubeconfig
  cat > "$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: trace-debug-local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: trace-debug-local
  context:
    cluster: trace-debug-local
    user: $name
    namespace: default
current-context: trace-debug-local
KC
}

make_pki() {
  PKI=$CLUSTER_DIR/pki
  mkdir -p "$PKI"
  if [ ! -f "$PKI/ca.crt" ]; then
    openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=trace-debug-local-ca" -days 3650 -out "$PKI/ca.crt" 2>/dev/null
  fi
  cert apiserver "/CN=kube-apiserver" \
    "DNS:localhost,DNS:$NODE_NAME,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1"
  cert admin "/O=system:masters/CN=trace-debug-admin"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "DNS:$NODE_NAME,IP:127.0.0.1"
  cert kubelet2 "/O=system:nodes/CN=system:node:$NODE2_NAME" "DNS:$NODE2_NAME,IP:127.0.0.1"
  cert scheduler "/CN=system:kube-scheduler"
  cert controller-manager "/O=system:masters/CN=system:kube-controller-manager"
  [ -f "$PKI/sa.key" ] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null; openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  for n in admin kubelet kubelet2 scheduler controller-manager; do kubeconfig "$n"; done
}
