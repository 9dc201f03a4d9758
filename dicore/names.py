"""Identities that match: the vendors' names (and ids) against a data set's targets.

A data set names its people its own way (`id0`, `Emmanuel_Macron`); a vendor
answers `Emmanuel Macron`, AWS also with its celebrity `Id` and `Urls`. Compared
as exact strings these never meet, and TA reads 0. The rule, applied to every
target, reference and prediction before any metric:

1. A vendor answer that carries vendor ids (AWS: `aws:<celebrity Id>` and each of
   its `Urls`) is the identity of the names file that lists one of them.
2. Otherwise a name is the identity whose id, display name or an alias has the
   same *normalised* form: Unicode NFKD with combining marks dropped (diacritics),
   casefolded, underscores as spaces, runs of whitespace as one space, trimmed.
3. A name that is no identity of the names file (or with no names file) stands for
   itself, compared in normalised form: `Emmanuel_Macron` (a folder name) and
   `emmanuel macron` are one person.

The canonical form written to results files is the identity's display name, or, for
names outside the names file, the first written form met (targets before
predictions, so a dataset's own spelling wins). Results files written this way
give the same metrics with or without `--names`.

`IdentityMap` is built by `dicore.formats.names_csv.read_names` (the `--names FILE`
CSV); `suggest_names` drafts such a file from what the vendors answered.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


def normalise(name: str) -> str:
    """The form names are compared in: no diacritics, casefolded, `_` as space,
    whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", str(name))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().replace("_", " ").split())


def normalise_vendor_id(value: str) -> str:
    """`aws:3Ir0du6` stays (AWS ids are case-sensitive); a URL loses its scheme, `www.`,
    the host's case and a trailing slash (AWS writes its Urls without a scheme);
    `wikidata:Q76` is the Wikidata entity URL."""
    v = str(value).strip()
    if v.lower().startswith("aws:"):
        return "aws:" + v[4:].strip()
    if v.lower().startswith("wikidata:"):
        v = "www.wikidata.org/wiki/" + v.split(":", 1)[1].strip()
    v = v.split("://", 1)[1] if "://" in v else v
    host, _, rest = v.partition("/")
    host = host.lower().removeprefix("www.")
    return (host + ("/" + rest if rest else "")).rstrip("/")


@dataclass(frozen=True)
class Identity:
    id: str
    name: str  # the display name: the canonical form in results files
    aliases: tuple[str, ...] = ()
    vendor_ids: tuple[str, ...] = ()


@dataclass
class IdentityMap:
    """Identities by normalised id/name/alias and by vendor id. Build with `from_identities`
    (which refuses a name or vendor id claimed by two identities)."""

    identities: tuple[Identity, ...] = ()
    by_key: dict[str, int] = field(default_factory=dict)
    by_vendor_id: dict[str, int] = field(default_factory=dict)
    source: str = "names file"

    @classmethod
    def from_identities(cls, identities: Sequence[Identity], source: str = "names file") -> IdentityMap:
        """Raises ValueError naming the clash when two identities share a name or id."""
        imap = cls(tuple(identities), source=source)
        for i, ident in enumerate(imap.identities):
            for text in dict.fromkeys((ident.id, ident.name, *ident.aliases)):
                key = normalise(text)
                if not key:
                    continue
                j = imap.by_key.setdefault(key, i)
                if j != i:
                    raise ValueError(
                        f"{text!r} names both {imap.identities[j].id!r} and {ident.id!r}")
            for vid in ident.vendor_ids:
                key = normalise_vendor_id(vid)
                j = imap.by_vendor_id.setdefault(key, i)
                if j != i:
                    raise ValueError(
                        f"vendor id {vid!r} is listed for both {imap.identities[j].id!r} and {ident.id!r}")
        return imap

    def __len__(self) -> int:
        return len(self.identities)

    def resolve(self, name: str, vendor_ids: Iterable[str] = ()) -> Identity | None:
        """The identity a name (with the vendor ids of its answer) stands for, or None."""
        for vid in vendor_ids:
            i = self.by_vendor_id.get(normalise_vendor_id(vid))
            if i is not None:
                return self.identities[i]
        i = self.by_key.get(normalise(name))
        return None if i is None else self.identities[i]


NO_NAMES = IdentityMap(source="no names file")


class Canonical:
    """Maps written names to their canonical form (see the module docstring), remembering
    the first spelling of every name outside the names file."""

    def __init__(self, imap: IdentityMap | None = None):
        self.imap = imap or NO_NAMES
        self.spelling: dict[str, str] = {}  # normalised -> first written form

    def __call__(self, name: str, vendor_ids: Iterable[str] = ()) -> str:
        if not name:
            return name
        ident = self.imap.resolve(name, vendor_ids)
        if ident is not None:
            return ident.name
        return self.spelling.setdefault(normalise(name), name)


def canonical_columns(
    cols: Mapping[str, Sequence], imap: IdentityMap | None = None,
    predicted_ids: Sequence[Sequence[str]] | None = None,
) -> dict[str, list]:
    """Results-file columns with `target`, `reference` and `predicted` in canonical form.
    `predicted_ids[i]` are the vendor ids of row i's answer (AWS Id and Urls), if known.

    Each distinct name (with its ids) is mapped once, in order of first appearance
    (targets, then references, then predictions), which is the order a row-by-row pass
    meets them in, so the first spelling wins as there; the rows then take their name's
    form (no Python loop over rows: millions of rows have few names)."""
    canon = Canonical(imap)
    out = {c: list(v) for c, v in cols.items()}
    out["target"] = _each_distinct(canon, cols["target"])  # targets first: their spelling wins
    out["reference"] = _each_distinct(canon, cols["reference"])
    if predicted_ids is None:
        out["predicted"] = _each_distinct(canon, cols["predicted"])
    else:
        keys = list(zip(cols["predicted"], map(tuple, predicted_ids), strict=True))
        out["predicted"] = _each_distinct(lambda key: canon(*key), keys)
    return out


def _each_distinct(fn, values: Sequence) -> list:
    """`[fn(v) for v in values]` for a pure-per-value `fn` whose state only depends on the
    order values are first met: `fn` is called once per distinct value, in that order."""
    table = {v: fn(v) for v in dict.fromkeys(values)}
    return list(map(table.__getitem__, values))


def name_mismatches(cols: Mapping[str, Sequence]) -> list[str]:
    """Warnings for each (dataset, vendor) whose answers name images but never a target
    of the data set: almost certainly the data set and the vendor spell people
    differently. Columns must be canonical already. Counted per distinct (dataset,
    vendor, predicted, target), in order of first appearance (as a row-by-row pass)."""
    norm: dict[str, str] = {}

    def key(name: str) -> str:
        if name not in norm:
            norm[name] = normalise(name)
        return norm[name]

    targets: dict[str, set] = {}
    for d, t in dict.fromkeys(zip(cols["dataset"], cols["target"], strict=True)):
        targets.setdefault(d, set()).add(key(t))
    named: Counter = Counter()
    hits: Counter = Counter()
    example: dict[tuple, tuple[str, str]] = {}
    rows = Counter(zip(cols["dataset"], cols["vendor"], cols["predicted"], cols["target"], strict=True))
    for (d, v, p, t), n in rows.items():  # first-appearance order
        if not p:
            continue
        named[(d, v)] += n
        hits[(d, v)] += n * (key(p) in targets[d])
        example.setdefault((d, v), (p, t))
    out = []
    for (d, v), n in named.items():
        if hits[(d, v)]:
            continue
        said, target = example[(d, v)]
        out.append(
            f"{d} x {v}: {n} image(s) named, but never with a name among the data set's "
            f"targets (e.g. {v} said {said!r} for target {target!r}): almost certainly a name "
            "mismatch, so TA and SIC read 0. Fix: map identities with --names FILE "
            "(draft one with `dicore names suggest --store STORE --out names.csv`, review it)."
        )
    return out


def name_mismatches_coded(obs, vocab) -> list[str]:
    """`name_mismatches` on an `Observations` and its `Vocab` (ids, not text): the names
    are normalised once per distinct name, the rows are compared as integers (for
    results files of millions of rows). Same warnings, same order."""
    import numpy as np

    keys = np.unique([normalise(x) for x in vocab.identities] or [""], return_inverse=True)[1]
    dataset, vendor = np.asarray(obs.dataset, np.int64), np.asarray(obs.vendor, np.int64)
    target, predicted = np.asarray(obs.target), np.asarray(obs.predicted)
    k = int(keys.max()) + 1 if len(keys) else 1
    target_keys = np.unique(dataset * k + keys[target]) if len(target) else np.zeros(0, np.int64)
    named = np.flatnonzero(predicted >= 0)
    hit = np.isin(dataset[named] * k + keys[predicted[named]], target_keys)
    group = dataset[named] * len(vocab.vendors) + vendor[named]
    groups, first, counts = np.unique(group, return_index=True, return_counts=True)
    hits = np.zeros(len(groups), np.int64)
    np.add.at(hits, np.searchsorted(groups, group), hit)
    out = []
    for g in np.argsort(first, kind="stable"):  # in order of each group's first named row
        if hits[g]:
            continue
        row = named[first[g]]
        d, v = vocab.datasets[dataset[row]], vocab.vendors[vendor[row]]
        said, tgt = vocab.identities[predicted[row]], vocab.identities[target[row]]
        out.append(
            f"{d} x {v}: {int(counts[g])} image(s) named, but never with a name among the data "
            f"set's targets (e.g. {v} said {said!r} for target {tgt!r}): almost certainly a name "
            "mismatch, so TA and SIC read 0. Fix: map identities with --names FILE "
            "(draft one with `dicore names suggest --store STORE --out names.csv`, review it)."
        )
    return out


@dataclass(frozen=True)
class Suggestion:
    identity: str  # the data set's target, as written
    name: str  # the vendor name given most often to its real images
    count: int  # how often
    of: int  # real images of the identity with an answer
    vendors: str  # per vendor: 'aws 3/4; naver 2/4'
    vendor_ids: tuple[str, ...] = ()  # ids that came with that name (AWS Id, Urls)


def suggest_names(
    rows: Iterable[Mapping], ids: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> list[Suggestion]:
    """For each target identity: the name the vendors give most often to its *real*
    images (fakes would suggest the attacked person), with counts. `rows` are results
    rows (vendor, item_id, is_fake, target, predicted); `ids[(vendor, item_id)]` the
    vendor ids of an answer. Identities no vendor named are left out."""
    names: dict[str, Counter] = {}
    per_vendor: dict[tuple[str, str], Counter] = {}
    answered: Counter = Counter()
    id_votes: dict[tuple[str, str], Counter] = {}
    for r in rows:
        if r["is_fake"] in (True, "true", "1", 1):
            continue
        target = str(r["target"])
        answered[(target, r["vendor"])] += 1
        p = r.get("predicted") or ""
        if not p:
            continue
        key = normalise(p)
        names.setdefault(target, Counter())[p] += 1
        per_vendor.setdefault((target, r["vendor"]), Counter())[key] += 1
        for vid in (ids or {}).get((r["vendor"], r["item_id"]), ()):
            id_votes.setdefault((target, key), Counter())[vid] += 1
    out = []
    for target, counter in names.items():
        # Vote by normalised name; show the most frequent spelling of the winner.
        by_key: Counter = Counter()
        for spelled, n in counter.items():
            by_key[normalise(spelled)] += n
        best, count = sorted(by_key.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        # Ties go to the spelling met first.
        spelled = max((s for s in counter if normalise(s) == best), key=lambda s: counter[s])
        vendors = sorted({v for (t, v) in answered if t == target})
        of = sum(answered[(target, v)] for v in vendors)
        detail = "; ".join(
            f"{v} {per_vendor.get((target, v), Counter())[best]}/{answered[(target, v)]}"
            for v in vendors)
        vids = tuple(v for v, _ in id_votes.get((target, best), Counter()).most_common())
        out.append(Suggestion(target, spelled, count, of, detail, vids))
    return sorted(out, key=lambda s: s.identity)
