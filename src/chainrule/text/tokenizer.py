"""Tokenization through the Hugging Face ``tokenizers`` library; padding, truncation and masks are ours.

::

    tok = Tokenizer.from_pretrained("path/to/all-MiniLM-L6-v2")   # reads tokenizer.json
    batch = tok(["a warm, funny film", "dull"], max_length=64)
    batch["input_ids"], batch["attention_mask"]                  # (2, L) int64, L = longest in the batch

A ``tokenizer.json`` may carry its own padding and truncation settings (the
all-MiniLM-L6-v2 file pads every text to 128 tokens).  The wrapper switches
both off when it loads the file: the library only splits text into ids and
adds the special tokens of the file's template ([CLS] ... [SEP] for BERT);
truncation to ``max_length`` is asked for per call (the library then keeps
room for the special tokens, so a truncated sequence still ends in [SEP]),
and padding happens here, to the longest sequence of the batch or to
``max_length``, with an attention mask of 1 for real tokens and 0 for
padding.

Differs from Hugging Face's ``PreTrainedTokenizerFast``: returns NumPy
arrays in a plain dict (``return_tensors="cr"`` gives chainrule Tensors),
pads on the right only, and never returns overflowing tokens.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from .._untrusted import inside, regular_file
from ..errors import ChainruleError
from ..io import atomic_write

__all__ = ["Tokenizer", "TokenizerError", "pad_sequences"]

TOKENIZER_NAME = "tokenizer.json"
_PAD_CANDIDATES = ("[PAD]", "<pad>", "<|pad|>")
_LONGEST_DEFAULT = 1 << 20  # the longest default max_length a tokenizer.json may set


class TokenizerError(ChainruleError, ValueError):
    """A tokenizer.json that cannot be read or used (malformed, truncated, outside its model directory).

    Also a ``ValueError``.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.text import Tokenizer
        >>> _ = Path("tokenizer.json").write_text("{}")
        >>> Tokenizer.from_file("tokenizer.json")
        Traceback (most recent call last):
            ...
        chainrule.text.tokenizer.TokenizerError: tokenizer.json is not a readable tokenizer.json (Model missing. ...)
    """


def _panicked(exc: BaseException) -> bool:
    """Whether ``exc`` is a Rust panic of the tokenizers library: pyo3's PanicException derives from
    BaseException (not Exception), so a malformed file could otherwise end the program with a traceback."""
    return type(exc).__name__ == "PanicException"


@contextlib.contextmanager
def _library_failure(message):
    """A Rust panic of the tokenizers library inside the block becomes one TokenizerError(``message``)."""
    try:
        yield
    except BaseException as exc:
        if not _panicked(exc):
            raise
        raise TokenizerError(message) from None


@contextlib.contextmanager
def _file_failure(message, panic):
    """Loading a file: an error inside the block becomes TokenizerError("``message`` (the error)"), a Rust panic
    TokenizerError("``message`` (``panic``)")."""
    with _library_failure(f"{message} ({panic})"):
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - the library raises plain Exceptions for bad files
            raise TokenizerError(f"{message} ({exc})") from None


def _encoding_failure(what):
    return _library_failure(
        f"Tokenizer: the tokenizers library failed on {what} (its file's post-processor, decoder or vocabulary "
        "is inconsistent)"
    )


def _template_problem(backend):
    """Why the backend's post-processor would make the tokenizers library panic on the first text, or None.

    The library loads a TemplateProcessing whose template names a special token that its ``special_tokens``
    map lacks (or whose ids and tokens differ in length), and then panics (a Rust panic, printed to stderr
    before Python sees it) on every encode.  Checked here, on the processor's own serialized form, before any
    text is encoded.
    """
    import json  # noqa: PLC0415 - only when a file is loaded

    processor = backend.post_processor
    if processor is None:
        return None
    try:
        spec = json.loads(processor.__getstate__())
    except (AttributeError, TypeError, ValueError):
        return None  # not the library's serialized form: the checks below do not apply
    pending = [spec]
    while pending:
        proc = pending.pop()
        if not isinstance(proc, dict):
            continue
        if proc.get("type") == "Sequence":
            pending.extend(proc.get("processors") or [])
            continue
        if proc.get("type") != "TemplateProcessing":
            continue
        specials = proc.get("special_tokens")
        specials = specials if isinstance(specials, dict) else {}
        for name, token in specials.items():
            if not isinstance(token, dict) or len(token.get("ids") or []) != len(token.get("tokens") or []):
                return f"its post-processor's special token {name!r} has ids and tokens of different lengths"
        for key in ("single", "pair"):
            for piece in proc.get(key) or []:
                special = piece.get("SpecialToken") if isinstance(piece, dict) else None
                if isinstance(special, dict) and special.get("id") not in specials:
                    return (
                        f"its post-processor's {key!r} template names the special token {special.get('id')!r}, "
                        "which its special_tokens do not define"
                    )
    return None


def _tokenizers():
    try:
        import tokenizers  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError("chainrule.text needs the tokenizers package: pip install 'chainrule[text]'") from exc
    return tokenizers


def pad_sequences(sequences, pad_value: int = 0, length: int | None = None, pad_to_multiple_of: int | None = None):
    """Right-pad int sequences into one (N, L) int64 array; also returns the (N, L) 1/0 attention mask.

    L is ``length`` when given (every sequence must fit), else the longest
    sequence, rounded up to a multiple of ``pad_to_multiple_of``.

    Args:
        sequences: N sequences of ints (lists or arrays) of any lengths.
        pad_value: the id written after each sequence; default 0.
        length: the length L to pad to, or None for the longest sequence.
        pad_to_multiple_of: round L up to a multiple of this, or None.

    Returns:
        ``(ids, mask)``: two int64 NumPy arrays of shape (N, L), the mask 1 for real tokens and 0 for padding.

    Raises:
        ValueError: a sequence is longer than ``length``.

    Examples:
        >>> from chainrule.text import pad_sequences
        >>> ids, mask = pad_sequences([[5, 6, 7], [8]], pad_value=0)
        >>> ids.tolist(), mask.tolist()
        ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    longest = int(lengths.max()) if len(lengths) else 0
    if length is None:
        length = longest
    elif longest > length:
        raise ValueError(f"pad_sequences: a sequence of {longest} tokens does not fit length {length}")
    if pad_to_multiple_of:
        length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
    ids = np.full((len(sequences), length), pad_value, dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int64)
    return ids, mask


class Tokenizer:
    """A ``tokenizers.Tokenizer`` with chainrule's padding, truncation and attention masks.

    ``max_length`` is the default truncation length: the file's own
    truncation length when it sets one, else 512.

    Usually loaded with ``Tokenizer.from_pretrained(model_directory)`` (a
    Hugging Face ``tokenizer.json``). Calling it encodes, truncates and pads a
    batch: ``tok(texts)`` returns ``{"input_ids", "token_type_ids",
    "attention_mask"}``, (N, L) int64 NumPy arrays (``return_tensors="cr"``
    for Tensors). The backend's own padding and truncation settings are
    switched off: the wrapper pads and truncates per call.

    Args:
        backend: a ``tokenizers.Tokenizer`` (the Hugging Face ``tokenizers`` library, the ``text`` extra).
        max_length: the default truncation length, a positive int; None takes the backend's truncation length,
            else 512.

    Raises:
        ValueError: a bad ``max_length``, or a backend truncation length beyond 2**20.

    Examples:
        >>> from tokenizers import Tokenizer as Backend, models, pre_tokenizers, processors
        >>> from chainrule.text import Tokenizer
        >>> words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "warm", "funny", "film", "dull"]
        >>> vocab = {word: i for i, word in enumerate(words)}
        >>> backend = Backend(models.WordLevel(vocab, unk_token="[UNK]"))
        >>> backend.pre_tokenizer = pre_tokenizers.Whitespace()
        >>> backend.post_processor = processors.TemplateProcessing(
        ...     single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
        >>> tok = Tokenizer(backend, max_length=16)
        >>> batch = tok(["a warm funny film", "dull"])
        >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
        ([[2, 4, 5, 6, 7, 3], [2, 8, 3, 0, 0, 0]], [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
        >>> tok(["a warm funny film"], max_length=4)["input_ids"].tolist()  # truncated, still ends in [SEP]
        [[2, 4, 5, 3]]
    """

    def __init__(self, backend, max_length: int | None = None):
        self.backend = backend
        file_truncation = backend.truncation
        file_padding = backend.padding
        backend.no_padding()
        backend.no_truncation()
        if max_length is None:
            max_length = file_truncation["max_length"] if file_truncation else 512
            if max_length > _LONGEST_DEFAULT:  # padding="max_length" would allocate (N, max_length)
                raise ValueError(
                    f"its truncation max_length {max_length:,} is beyond any model's positions "
                    f"(at most {_LONGEST_DEFAULT:,}); pass max_length= to choose one"
                )
        self.max_length = self._check_length(max_length)
        self.pad_token_id = self._find_pad(file_padding)
        self.num_special_tokens = len(backend.encode("").ids)

    @classmethod
    def from_file(cls, path, max_length: int | None = None) -> Tokenizer:
        """Load a ``tokenizer.json`` file.  A file the library cannot parse or use is one TokenizerError."""
        path = Path(path)
        if max_length is not None:
            cls._check_length(max_length)
        if not regular_file(path, TokenizerError):
            raise FileNotFoundError(f"no such tokenizer file: {path}")
        with _file_failure(f"{path} is not a readable tokenizer.json", "the tokenizers library failed on it"):
            backend = _tokenizers().Tokenizer.from_file(str(path))
        problem = _template_problem(backend)
        if problem is not None:
            raise TokenizerError(f"{path} cannot be used as a tokenizer ({problem})")
        # settings in the file that the wrapper cannot use
        with _file_failure(
            f"{path} cannot be used as a tokenizer",
            "the tokenizers library failed on its settings: a post-processor naming a token its vocabulary lacks, "
            "or the like",
        ):
            return cls(backend, max_length)

    @classmethod
    def from_pretrained(cls, directory, max_length: int | None = None) -> Tokenizer:
        """Load ``directory/tokenizer.json`` (a Hugging Face model directory); a symlink out of it is refused."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"no such model directory: {directory}")
        file = inside(directory.resolve(), TOKENIZER_NAME, TokenizerError, f"model directory {directory}")
        if not regular_file(file, TokenizerError):
            raise FileNotFoundError(f"{directory} has no {TOKENIZER_NAME} (only fast-tokenizer files are read)")
        return cls.from_file(file, max_length)

    def save(self, path) -> Path:
        """Write ``tokenizer.json`` (to ``path``, or into it when it is a directory), atomically.

        The file records truncation at ``max_length`` and no padding.
        """
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = path / TOKENIZER_NAME
        self.backend.enable_truncation(self.max_length)
        try:
            text = self.backend.to_str()
        finally:
            self.backend.no_truncation()
        return atomic_write(path, text.encode("utf-8"))

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _check_length(max_length) -> int:
        if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length <= 0:
            raise ValueError(f"Tokenizer: max_length must be a positive integer, got {max_length!r}")
        return int(max_length)

    def _find_pad(self, file_padding):
        if file_padding and file_padding.get("pad_token") is not None:
            found = self.backend.token_to_id(file_padding["pad_token"])
            if found is not None:
                return found
        for token in _PAD_CANDIDATES:
            found = self.backend.token_to_id(token)
            if found is not None:
                return found
        return None

    @staticmethod
    def _texts(texts, name: str) -> list:
        if isinstance(texts, str):
            return [texts]
        try:
            texts = list(texts)
        except TypeError:
            raise TypeError(
                f"Tokenizer: {name} must be a string or a list of strings, got {type(texts).__name__}"
            ) from None
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"Tokenizer: {name}[{i}] is a {type(t).__name__}, not a string")
        return texts

    @property
    def vocab_size(self) -> int:
        """The number of tokens in the vocabulary."""
        return self.backend.get_vocab_size()

    # ------------------------------------------------------------------ encoding

    def encode(self, texts, text_pairs=None, max_length: int | None = None) -> list:
        """Ids of each text (and its pair), special tokens added, truncated to ``max_length``.

        Returns a list of ``(ids, token_type_ids)`` pairs of int64 arrays, unpadded.
        """
        texts = self._texts(texts, "texts")
        limit = self.max_length if max_length is None else self._check_length(max_length)
        if limit < self.num_special_tokens + 1:
            raise ValueError(
                f"Tokenizer: max_length {limit} leaves no room for text next to the "
                f"{self.num_special_tokens} special tokens"
            )
        if text_pairs is not None:
            pairs = self._texts(text_pairs, "text_pairs")
            if len(pairs) != len(texts):
                raise ValueError(f"Tokenizer: {len(texts)} texts but {len(pairs)} text_pairs")
            inputs = list(zip(texts, pairs))
        else:
            inputs = texts
        self.backend.enable_truncation(limit)
        try:
            with _encoding_failure("these texts"):
                encodings = self.backend.encode_batch(inputs)
        finally:
            self.backend.no_truncation()
        return [(np.array(e.ids, dtype=np.int64), np.array(e.type_ids, dtype=np.int64)) for e in encodings]

    def pad(
        self, encoded, padding="longest", max_length: int | None = None, pad_to_multiple_of=None, return_tensors="np"
    ):
        """Pad ``encode``'s output into a batch: a dict of (N, L) int64 input_ids, token_type_ids, attention_mask.

        ``padding``: "longest" (the longest sequence of the batch) or
        "max_length" (``max_length``, default ``self.max_length``).
        """
        if padding not in ("longest", "max_length"):
            raise ValueError(f"Tokenizer: padding must be 'longest' or 'max_length', got {padding!r}")
        if not encoded:
            raise ValueError("Tokenizer: nothing to pad (no texts)")
        if self.pad_token_id is None:
            raise ValueError(
                f"Tokenizer: the vocabulary has no padding token (looked for {', '.join(_PAD_CANDIDATES)})"
            )
        length = None
        if padding == "max_length":
            length = self.max_length if max_length is None else self._check_length(max_length)
        ids, mask = pad_sequences([e[0] for e in encoded], self.pad_token_id, length, pad_to_multiple_of)
        types, _ = pad_sequences([e[1] for e in encoded], 0, ids.shape[1])
        batch = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        if return_tensors == "cr":
            from ..creation import from_numpy  # noqa: PLC0415

            return {k: from_numpy(v) for k, v in batch.items()}
        if return_tensors != "np":
            raise ValueError(f"Tokenizer: return_tensors must be 'np' or 'cr', got {return_tensors!r}")
        return batch

    def __call__(
        self,
        texts,
        text_pairs=None,
        max_length: int | None = None,
        padding: str = "longest",
        pad_to_multiple_of: int | None = None,
        return_tensors: str = "np",
    ) -> dict:
        """Encode, truncate to ``max_length`` and pad: {"input_ids", "token_type_ids", "attention_mask"}, (N, L)."""
        encoded = self.encode(texts, text_pairs, max_length)
        return self.pad(encoded, padding, max_length, pad_to_multiple_of, return_tensors)

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Text of one sequence of ids (padding and special tokens dropped by default)."""
        ids = [int(i) for i in np.asarray(ids).reshape(-1)]
        with _encoding_failure("these ids"):
            return self.backend.decode(ids, skip_special_tokens=skip_special_tokens)

    def tokens(self, text: str) -> list:
        """The token strings of one text, special tokens included, untruncated."""
        with _encoding_failure("this text"):
            return self.backend.encode(text).tokens
