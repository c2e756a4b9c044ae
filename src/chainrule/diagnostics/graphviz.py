"""Pictures of the backward graph: Graphviz dot source, and SVG/PNG through the ``dot`` program.

::

    loss = F.cross_entropy(model(x), y)
    source = cr.diagnostics.to_dot(loss, params=model)      # dot text
    cr.diagnostics.render(source, "graph.svg")               # needs Graphviz's `dot` on PATH

Each recorded op is a box with its name and output shape(s); each leaf that
requires grad is an ellipse with its shape, named after the parameter when
``params`` names it (blue) or after ``tensor.name``; the tensors passed in
are the green boxes at the bottom.  Arrows follow the forward direction
(input -> op); backward walks them in reverse.  An op whose saved tensors
were already freed by a backward is drawn dashed.  The graph is the same
one the engine walks: the nodes reachable from the tensors' ``grad_fn``.
"""

from __future__ import annotations

from pathlib import Path

from ..autograd.graph import RELEASED
from ..errors import ChainruleError
from ..io import atomic_write
from ..tensor import Tensor

__all__ = ["GraphvizNotFoundError", "render", "to_dot"]


class GraphvizNotFoundError(ChainruleError, FileNotFoundError):
    """Graphviz's ``dot`` program is not installed (only rendering needs it; ``to_dot`` does not).

    Raised by ``render`` for SVG, PNG or PDF output; the message says how to
    install Graphviz. Also a ``FileNotFoundError``.

    Examples:
        >>> issubclass(cr.diagnostics.GraphvizNotFoundError, FileNotFoundError)
        True
    """


def _names(params) -> dict:
    """id(tensor) -> name, from a Module, a dict, or (name, tensor) pairs."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        pairs = params.named_parameters()
    elif isinstance(params, dict):
        pairs = params.items()
    else:
        pairs = params
    return {id(t): name for name, t in pairs}


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensors, params=None, max_nodes: int = 5000, title: str | None = None) -> str:
    r"""Graphviz dot source of the backward graph that ends at ``tensors`` (a Tensor or a sequence).

    ``params`` names the leaves: a Module (its ``named_parameters()``), a dict
    ``{name: tensor}`` or ``(name, tensor)`` pairs.  Beyond ``max_nodes`` op
    nodes the picture is cut off (a note says so).  Differs from torchviz's
    ``make_dot``: the root tensors, not their grad_fn, are the entry points,
    and arrows point the way the data flowed.

    Each op is a box with its name and output shape, each leaf that requires
    grad an ellipse (blue when ``params`` names it), the given tensors green
    boxes; an op whose saved tensors a backward already freed is dashed.

    Args:
        tensors: the output tensor (a loss) or a sequence of them.
        params: names for the leaves: a Module, a dict or ``(name, tensor)`` pairs; None labels them by shape (or
            ``tensor.name``).
        max_nodes: the most op nodes drawn; default 5000.
        title: a label at the top of the picture, or None.

    Returns:
        The dot source, a str.

    Raises:
        TypeError: something other than Tensors is given.

    Examples:
        >>> model = nn.Linear(2, 1)
        >>> source = cr.diagnostics.to_dot(model(cr.ones(3, 2)).sum(), params=model)
        >>> print(source)
        digraph backward {
        ...
          leaf0 [label="weight\n(1, 2)", shape=ellipse, fillcolor="#cfe2ff"];
          leaf1 [label="bias\n(1)", shape=ellipse, fillcolor="#cfe2ff"];
          op2 [label="linear\n(3, 1)"];
          op3 [label="sum\n()"];
        ...
    """
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for i, t in enumerate(roots):
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot: expected Tensors, got a {type(t).__name__} at position {i}")
    names = _names(params)
    lines = [
        "digraph backward {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=10];',
        '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#eeeeee"];',
        '  edge [fontname="Helvetica", fontsize=8, color="#555555"];',
    ]
    if title:
        lines.append(f"  label={_quote(title)}; labelloc=t;")
    ids: dict = {}

    def ident(obj, prefix):
        key = id(obj)
        if key not in ids:
            ids[key] = f"{prefix}{len(ids)}"
        return ids[key]

    nodes: list = []
    seen = set()
    stack = []
    leaves = {}
    for t in roots:
        edge = t._edge
        if type(edge) is tuple:
            stack.append(edge[0])
        elif edge is None and t.requires_grad:
            leaves[id(t)] = t
    truncated = False
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        if len(nodes) >= max_nodes:
            truncated = True
            break
        seen.add(id(node))
        nodes.append(node)
        for edge in node.next:
            if type(edge) is tuple:
                if id(edge[0]) not in seen:
                    stack.append(edge[0])
            elif edge is not None:
                leaves[id(edge)] = edge
    nodes.sort(key=lambda n: n.seq)
    ordered: dict = {}  # leaves in the order the ops used them
    for node in nodes:
        for edge in node.next:
            if edge is not None and type(edge) is not tuple:
                ordered.setdefault(id(edge), edge)
    ordered.update(leaves)

    for leaf in ordered.values():
        name = names.get(id(leaf)) or leaf.name
        label = f"{name}\n{_shape(leaf.shape)}" if name else f"leaf {_shape(leaf.shape)}"
        color = "#cfe2ff" if id(leaf) in names else "#fff3cd"
        lines.append(f"  {ident(leaf, 'leaf')} [label={_quote(label)}, shape=ellipse, fillcolor={_quote(color)}];")
    for node in nodes:
        shapes = node.shapes
        out = _shape(shapes[0]) if len(shapes) == 1 else ", ".join(_shape(s) for s in shapes)
        style = ', style="rounded,filled,dashed"' if node.saved is RELEASED else ""
        label = f"{node.prim.name}\n{out}"
        lines.append(f"  {ident(node, 'op')} [label={_quote(label)}{style}];")
    for node in nodes:
        target = ident(node, "op")
        multi_in = len(node.next) > 1
        for position, edge in enumerate(node.next):
            if edge is None:
                continue
            if type(edge) is tuple:
                source_node, index = edge
                if id(source_node) not in seen:
                    continue
                source = ident(source_node, "op")
                label = f"out {index}" if len(source_node.shapes) > 1 else ""
            else:
                source = ident(edge, "leaf")
                label = ""
            if multi_in:
                label = f"{label} -> in {position}".strip(" ->") if label else f"in {position}"
            attrs = f" [label={_quote(label)}]" if label else ""
            lines.append(f"  {source} -> {target}{attrs};")
    for i, t in enumerate(roots):
        root_id = f"root{i}"
        label = f"{names.get(id(t)) or t.name or 'output'}\n{_shape(t.shape)}"
        lines.append(f'  {root_id} [label={_quote(label)}, fillcolor="#d1e7dd"];')
        edge = t._edge
        if type(edge) is tuple and id(edge[0]) in seen:
            index = edge[1]
            attr = f" [label={_quote(f'out {index}')}]" if len(edge[0].shapes) > 1 else ""
            lines.append(f"  {ident(edge[0], 'op')} -> {root_id}{attr};")
        elif id(t) in leaves:
            lines.append(f"  {ident(t, 'leaf')} -> {root_id};")
    if truncated:
        lines.append(f"  truncated [label={_quote(f'... cut off after {max_nodes} ops')}, shape=plaintext];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph, path, format: str | None = None, params=None, timeout: float = 120.0) -> Path:  # noqa: A002
    """Render ``graph`` (dot source, or a Tensor passed through :func:`to_dot`) to ``path`` with Graphviz.

    ``format`` defaults to the path's suffix (``svg``, ``png``, ``pdf``, or
    ``dot`` to write the source itself).  The file is written atomically.
    Raises :class:`GraphvizNotFoundError` when the ``dot`` program is missing
    (Debian/Ubuntu: ``apt-get install graphviz``; macOS: ``brew install graphviz``).

    Args:
        graph: dot source (from ``to_dot``) or a Tensor whose backward graph to draw.
        path: the file to write (a str or Path).
        format: the output format (any of ``dot -T``'s: ``svg``, ``png``, ``pdf``, ...) or ``dot``/``gv`` for the
            source; None takes the path's suffix (``svg`` without one).
        params: names for the leaves when ``graph`` is a Tensor (see ``to_dot``).
        timeout: seconds ``dot`` may run; default 120.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        GraphvizNotFoundError: ``dot`` is not on PATH (any format but ``dot``/``gv``).
        ChainruleError: ``dot`` failed.

    Examples:
        >>> model = nn.Linear(2, 1)
        >>> cr.diagnostics.render(model(cr.ones(3, 2)).sum(), "graph.dot", params=model)  # .svg/.png need Graphviz
        PosixPath('graph.dot')
    """
    path = Path(path)
    source = to_dot(graph, params=params) if isinstance(graph, Tensor) else str(graph)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt in ("dot", "gv"):
        return atomic_write(path, source.encode())
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            "render: Graphviz's 'dot' program is not on PATH; install Graphviz (apt-get install graphviz, "
            "brew install graphviz or conda install graphviz), or write the source with to_dot() and render it "
            "elsewhere"
        )
    proc = subprocess.run(  # noqa: S603 - a fixed program and arguments, the source goes through stdin
        [dot, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise ChainruleError(f"render: dot -T{fmt} failed: {proc.stderr.decode(errors='replace').strip()}")
    return atomic_write(path, proc.stdout)
