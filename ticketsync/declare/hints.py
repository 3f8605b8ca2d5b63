""""Did you mean": the one way ticketsync finds the word a typo meant, among many.

difflib compares a word with every candidate (a second per unknown parent in a 100k-ticket
project). Typos are nearly always one edit away: a letter missing, extra, wrong, or two
letters swapped. So the candidates are generated from the word (a few thousand at most)
and looked up: the cost does not grow with the number of words.

Two sets of rules, one per kind of word (:meth:`Hints.for_keys`, :meth:`Hints.for_names`):
ticket keys are exact, so a key one edit away wins over one equal but for case and
separators; names (people, projects, types) ignore case everywhere, and a small table is
also searched by difflib (two typos).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

#: What a key may hold (model.KEY_PATTERN): the letters a one-letter typo may involve.
_KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
_SEPARATORS = str.maketrans("._", "--")


class Hints:
    """The word of ``words`` that a word most likely meant (:meth:`closest`).

    ``fold`` says which words are one for the edit search (None: exact: ``words`` is then
    looked up as it is, never walked); ``alphabet`` the letters an edit may bring (None:
    those of the words); ``small``: a table of at most that many words is also searched by
    difflib when no word is one edit away; ``loose``, a last resort: a word equal once
    folded by it (a table built once, on first need).
    """

    def __init__(self, words: Collection[str], *, fold: Callable[[str], str] | None = None,
                 alphabet: str | None = None, small: int = 0,
                 loose: Callable[[str], str] | None = None) -> None:
        self._fold = fold
        self._words = words
        #: folded word -> the first word (sorted) that folds to it
        self._folded: dict[str, str] | None = None
        if fold is not None:
            self._folded = {}
            for word in sorted(set(words)):
                self._folded.setdefault(fold(word), word)
        if alphabet is None:
            alphabet = "".join(sorted({c for w in self._searched() for c in w}))
        self._alphabet = alphabet
        self._small = small
        self._loose = loose
        self._loosely: dict[str, str] | None = None

    @classmethod
    def for_keys(cls, keys: Collection[str]) -> Hints:
        """Ticket keys: one edit away as written first, then equal but for case and
        separators (``Prod_Outage`` for ``prod-outage``)."""
        return cls(keys, alphabet=_KEY_CHARS, loose=_fold_key)

    @classmethod
    def for_names(cls, words: Iterable[str]) -> Hints:
        """Names: case-folded, one edit away, or (among at most 300) close for difflib."""
        return cls(list(words), fold=str.casefold, small=300)

    def _searched(self) -> Collection[str]:
        return self._words if self._folded is None else self._folded

    def closest(self, word: str) -> str | None:
        """The word ``word`` most likely meant, or None."""
        import difflib  # only on a failure: start-up stays lean

        searched = self._searched()
        folded = word if self._fold is None else self._fold(word)
        if folded in searched:
            return self._word(folded)
        near = sorted(w for w in one_edit(folded, self._alphabet) if w in searched)
        if not near and self._small and len(searched) <= self._small:
            near = difflib.get_close_matches(folded, list(searched), n=1, cutoff=0.75)
        if near:
            best = max(near, key=lambda w: difflib.SequenceMatcher(None, folded, w).ratio())
            return self._word(best)
        if self._loose is None:
            return None
        if self._loosely is None:
            self._loosely = {}
            for key in sorted(self._words):
                self._loosely.setdefault(self._loose(key), key)
        return self._loosely.get(self._loose(word))

    def _word(self, found: str) -> str:
        return found if self._folded is None else self._folded[found]


def _fold_key(key: str) -> str:
    return key.lower().translate(_SEPARATORS)


def one_edit(word: str, alphabet: str) -> set[str]:
    """Every string one deletion, insertion, substitution or swap away from ``word``
    (inserted and substituted letters from ``alphabet``)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    found = {a + b[1:] for a, b in splits if b}
    found.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    found.update(a + c + b[1:] for a, b in splits if b for c in alphabet)
    found.update(a + c + b for a, b in splits for c in alphabet)
    found.discard(word)
    return found
