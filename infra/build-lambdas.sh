#!/usr/bin/env bash
# infra/build-lambdas.sh: build the four Lambda bootstraps (otp-send, otp-verify, otp-enroll, otp-events) for arm64
# in release mode with `cargo lambda build --release --arm64`, using the cargo-lambda and zig of the
# infra venv (infra/tools.sh installs them), then print each bootstrap's size and fail if any is over
# 8 MiB (8388608 bytes), or otp-events over 2 MiB (it links no AWS SDK: more means it started to).
#
#   bash infra/build-lambdas.sh
#
# Output: <target dir>/lambda/<binary>/bootstrap, the target dir being $CARGO_TARGET_DIR or ./target.
# Adds the Rust target aarch64-unknown-linux-gnu with rustup when it is missing. A cold build takes
# several minutes on 2 cores (the AWS SDK crates dominate).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

PATH="$(bash infra/tools.sh):$PATH"
export PATH

triple=aarch64-unknown-linux-gnu
arch_flag=--arm64
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$triple"; then
  # The arm64 standard library comes from static.rust-lang.org. Where that is out of reach (a CI
  # machine that reaches only the package registries), build for x86_64 instead, held to the same
  # budget, and say so loudly: the arm64 figures then come from a machine that has the target.
  if ! rustup target add "$triple"; then
    echo "build-lambdas.sh: WARNING: cannot install the Rust target $triple here;" >&2
    echo "build-lambdas.sh: building the x86_64 bootstraps instead (same 8 MiB budget)" >&2
    arch_flag=--x86-64
  fi
fi

binaries=(otp-send otp-verify otp-enroll otp-events)
limit=8388608
declare -A limits=([otp-events]=2097152)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
lambda_dir="$target_dir/lambda"

# One HTTP/TLS stack: no second rustls, hyper, h2 or crypto provider in the Lambdas' dependency tree.
second_stack=$(cargo tree --locked -d -e normal --target aarch64-unknown-linux-gnu \
  -p otp-send -p otp-verify -p otp-enroll -p otp-events 2>/dev/null \
  | grep -E '^(rustls|hyper|hyper-rustls|h2|ring|aws-lc-rs|aws-lc-sys|openssl) v' || true)
if [[ -n "$second_stack" ]]; then
  echo "build-lambdas.sh: more than one HTTP/TLS stack:" >&2
  echo "$second_stack" >&2
  exit 1
fi
if cargo tree --locked -e normal --target aarch64-unknown-linux-gnu -p otp-send 2>/dev/null \
  | grep -qE '(aws-lc-rs|openssl v|openssl-sys|hyper v0\.14|rustls v0\.21)'; then
  echo "build-lambdas.sh: a second TLS provider or the legacy hyper 0.14 stack is in the tree" >&2
  exit 1
fi
echo "one HTTP/TLS stack: $(cargo tree --locked -e normal --target aarch64-unknown-linux-gnu -p otp-send 2>/dev/null \
  | grep -oE '(── |^)(hyper|rustls|ring) v[0-9.]+' | sed 's/── //' | sort -u | tr '\n' ' ')"

package_args=()
for b in "${binaries[@]}"; do package_args+=(--package "$b"); done
cargo lambda build --release "$arch_flag" --locked --lambda-dir "$lambda_dir" "${package_args[@]}"

status=0
for b in "${binaries[@]}"; do
  f="$lambda_dir/$b/bootstrap"
  if [[ ! -f "$f" ]]; then
    echo "build-lambdas.sh: missing $f" >&2
    status=1
    continue
  fi
  size=$(stat -c %s "$f")
  mib=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')
  budget=${limits[$b]:-$limit}
  if (( size > budget )); then
    echo "$b (${arch_flag#--}): $size bytes ($mib MiB) OVER the $((budget / 1048576)) MiB limit  $f"
    status=1
  else
    echo "$b (${arch_flag#--}): $size bytes ($mib MiB)  $f"
  fi
done
exit "$status"
