#!/bin/sh
# Build the Java example with Debian's packages only (no Maven Central): protoc and the grpc-java
# plugin generate the contract's classes, google.rpc's (from the vendored protos/google/rpc: Debian's
# proto-google-common-protos 1.16 predates ErrorInfo) and google.api's (the HTTP annotations the
# contract imports), javac compiles them against Debian's jars.
#
#   apt-get install protobuf-compiler protobuf-compiler-grpc-java-plugin libgrpc-java \
#     libprotobuf-java libguava-java libnetty-java libperfmark-java \
#     libgeronimo-annotation-1.3-spec-java default-jdk-headless
#   examples/java/build.sh [OUT]        # OUT defaults to examples/java/build
#   java -cp "$(cat OUT/classpath)" io.tanxiao.examples.QuoteLoan ADDRESS USCC
set -eu
here=$(cd "$(dirname "$0")" && pwd)
protos=${TANXIAO_PROTOS:-$here/../../protos}
out=${1:-$here/build}
java_dir=/usr/share/java
jars="grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub protobuf guava
  failureaccess perfmark-api netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-codec-socks
  netty-common netty-handler netty-handler-proxy netty-resolver netty-transport
  netty-transport-native-unix-common jsr305
  geronimo-annotation-1.3-spec"  # javax.annotation.Generated, which grpc-java 1.41's stubs carry
classpath=""
for jar in $jars; do
  if [ -f "$java_dir/$jar.jar" ]; then
    classpath="$classpath${classpath:+:}$java_dir/$jar.jar"
  elif [ "$jar" != failureaccess ]; then  # failureaccess is inside some guava builds
    echo "missing $java_dir/$jar.jar (see the apt-get line at the top of $0)" >&2
    exit 1
  fi
done

rm -rf "$out/generated" "$out/classes"
mkdir -p "$out/generated" "$out/classes"
contract=$(cd "$protos" && find tanxiao google/rpc google/api -name '*.proto' | sort)
(cd "$protos" && protoc -I. --java_out="$out/generated" \
  --plugin=protoc-gen-grpc-java="$(command -v grpc_java_plugin || echo /usr/bin/grpc_java_plugin)" \
  --grpc-java_out="$out/generated" $contract)
# shellcheck disable=SC2046
javac -nowarn -encoding UTF-8 --release 11 -d "$out/classes" -cp "$classpath" \
  $(find "$out/generated" "$here/src/main/java" -name '*.java')
echo "$out/classes:$classpath" > "$out/classpath"
echo "built $out/classes (classpath in $out/classpath)"
