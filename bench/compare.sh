#!/usr/bin/env bash
# compare.sh: ohem (every kernel set) side by side with single-threaded PyTorch, median ms per call.
#
#   bench/compare.sh [-only rpn,cls,...] [-time 1s] [-cpu]
#
# Runs `go run ./cmd/ohem bench -all -json` and `/usr/bin/python3 bench/torch/ohem_torch.py --json
# --tuned-malloc`, then prints the table with bench/cmd/compare. -cpu times both sides by the
# calling thread's CPU time (ohem bench -cpu, ohem_torch.py --cpu-time), for a busy machine.
# Without an importable PyTorch it prints the ohem figures alone. The JSON files are kept when
# OUT=dir is set; PYTHON overrides /usr/bin/python3.
set -euo pipefail

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }

only="" time="" cpu=""
while (($#)); do
	case "$1" in
	-only | --only) only="${2:?-only needs a list}"; shift 2 ;;
	-time | --time) time="${2:?-time needs a duration}"; shift 2 ;;
	-cpu | --cpu) cpu=1; shift ;;
	-h | -help | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
python="${PYTHON:-/usr/bin/python3}"
out="${OUT:-}"
if [[ -z "$out" ]]; then
	out="$(mktemp -d)"
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

ohem_args=(bench -all -json)
torch_args=(--json --tuned-malloc)
if [[ -n "$only" ]]; then
	ohem_args+=(-only "$only")
	torch_only="$only"
	# the torch script also times rpn's cross-entropy and top-k alone: keep them next to rpn
	if [[ ",$only," == *,rpn,* ]]; then torch_only+=",ce_rpn,topk_rpn"; fi
	torch_args+=(--only "$torch_only")
fi
if [[ -n "$time" ]]; then ohem_args+=(-time "$time"); fi
if [[ -n "$cpu" ]]; then
	ohem_args+=(-cpu)
	torch_args+=(--cpu-time)
fi

echo "compare.sh: go run ./cmd/ohem ${ohem_args[*]}" >&2
go run ./cmd/ohem "${ohem_args[@]}" >"$out/ohem.json"

torch_flag=()
if ! [[ -x "$python" ]]; then
	echo "compare.sh: $python not found: printing the ohem figures only" >&2
elif ! err="$("$python" -c 'import torch' 2>&1)"; then
	err="${err##*$'\n'}" # the last line: the exception
	echo "compare.sh: PyTorch is not importable by $python${err:+ ($err)}: printing the ohem figures only" >&2
else
	echo "compare.sh: $python bench/torch/ohem_torch.py ${torch_args[*]}" >&2
	if "$python" bench/torch/ohem_torch.py "${torch_args[@]}" >"$out/torch.json"; then
		torch_flag=(-torch "$out/torch.json")
	else
		echo "compare.sh: ohem_torch.py failed: printing the ohem figures only" >&2
	fi
fi

go run ./bench/cmd/compare -ohem "$out/ohem.json" "${torch_flag[@]}"
