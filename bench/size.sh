#!/usr/bin/env bash
# Binary sizes: builds the three arm64 release bootstraps as CI does (infra/build-lambdas.sh, which also
# fails on a second HTTP/TLS stack or a bootstrap over 8 MiB) and reports what it printed. Writes
# target/bench/size.{json,md}.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bash infra/build-lambdas.sh 2>&1 | tee "$out/size.log"
python3 bench/render.py size "$out/size.log"
