#!/bin/sh
# Generates ES256 (P-256) keys and certificates with various extension profiles.
set -e
cd "$(dirname "$0")"
openssl ecparam -name prime256v1 -genkey -noout -out es256.key.sec1.pem
openssl pkcs8 -topk8 -nocrypt -in es256.key.sec1.pem -out es256.key.pem   # PKCS#8 "BEGIN PRIVATE KEY"
mk() { # name section
  openssl req -new -x509 -key es256.key.pem -sha256 -days 3650 -config c2pa.cnf -extensions "$2" \
     -subj "/C=US/O=FaceSwap Test/CN=FaceSwap Test Signer $1" -out "$1.pem"
}
mk good        v3_good
mk docsign     v3_docsign
mk c2pakp      v3_c2pakp
mk noeku       v3_noeku
mk ca_true     v3_ca_true
mk anyeku      v3_anyeku
mk serverauth  v3_serverauth
mk noku        v3_noku
mk ku_nodigsig v3_ku_nodigsig
mk nobc        v3_nobc
mk nocrit      v3_nocrit
# version 1 cert (no extensions at all)
openssl req -new -x509 -key es256.key.pem -sha256 -days 3650 -config c2pa.cnf -extensions v3_empty \
   -subj "/C=US/O=FaceSwap Test/CN=FaceSwap Test Signer v1" -out v1tmp.pem
openssl req -new -key es256.key.pem -subj "/CN=v1" -out v1.csr
openssl x509 -req -in v1.csr -key es256.key.pem -sha256 -days 3650 -out v1.pem
rm -f v1.csr v1tmp.pem
# expired cert: use -not_before/-not_after not available in 3.0; use x509 -days with past? use faketime-free approach: skip
mk noaki       v3_noaki
mk minimal     v3_minimal
mk nocrit_aki  v3_nocrit_aki
mk eku_email_server v3_eku_email_server
# CA + leaf chain (good practice: leaf signed by a separate CA; anchor = CA)
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out ca.key.pem
openssl req -new -x509 -key ca.key.pem -sha256 -days 3650 -config c2pa.cnf -extensions v3_ca \
   -subj "/C=US/O=FaceSwap Test/CN=FaceSwap Test Root CA" -out ca.pem
openssl req -new -key es256.key.pem -subj "/C=US/O=FaceSwap Test/CN=FaceSwap Test Leaf" -out leaf.csr
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key.pem -CAcreateserial -sha256 -days 1825 \
   -extfile c2pa.cnf -extensions v3_good -out leaf.pem
cat leaf.pem ca.pem > leaf_chain.pem
rm -f leaf.csr ca.srl
