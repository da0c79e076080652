#!/usr/bin/env bash
# On the lent GPU machine: install the packed wheels, then run one benchmark part there.
#   bash benchmarks/device.sh vision|nlp      (see benchmarks/device.py; pack it here first)
set -euo pipefail
part="${1:?usage: bash benchmarks/device.sh vision|nlp}"
OUT="${OUT:-/tmp/device-out}"
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site ".devpack/$part"/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
{ nvidia-smi || true; python3 -c "import torch, transformers, pandas, sklearn; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'pandas', pandas.__version__, 'sklearn', sklearn.__version__)"; } > "$OUT/machine.txt" 2>&1
python3 -m benchmarks.device run "$part" 2>&1 | tee "$OUT/$part.log"
