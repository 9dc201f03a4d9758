"""Replay backend: the live client of a vendor answered from a vcrpy cassette.

The same client code as `live` runs; vcrpy (record mode `none`) answers each
request from the cassette, matched on method, path, X-Amz-Target and the sha256
of the image. Nothing goes to the network. A request the cassette does not hold
raises `ReplayMissError` naming the cassette and the image. The client sends each
request once, like every client (the runner's RetryPolicy is the retry layer).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

from vcr.errors import CannotOverwriteExistingCassetteException

from dicore.backends.base import BackendError, BackendKind, Recognition, Vendor, no_gate
from dicore.backends.cassettes import (
    answered_digests,
    load_interactions,
    make_vcr,
    provenance_path,
    read_provenance,
)
from dicore.backends.common import image_label
from dicore.backends.live import live_client
from dicore.errors import UserError

# Host and port are not matched, so any syntactically valid endpoint will do.
REPLAY_ENDPOINT = "http://dicore-replay.invalid"

# vcrpy patches the HTTP connection classes process-wide while a cassette is in use, so two
# cassettes in use at once (the runner's per-vendor threads) would answer each other's
# requests. Replays are offline and fast: one at a time.
_VCR_LOCK = threading.Lock()


class ReplayMissError(BackendError):
    """The cassette has no recorded answer for this request."""


class ReplayBackend:
    gate: Callable[[], object]  # before every request (the runner's token bucket)
    kind: BackendKind = "replay"

    def __init__(self, vendor: Vendor, cassette: str | Path, **_ignored):
        self.vendor = vendor
        self.cassette = Path(cassette)
        if not self.cassette.is_file():
            raise UserError(
                f"cassette {self.cassette} does not exist",
                hint=f"record one with `dicore record --vendor {vendor} --images DIR --out {self.cassette}`",
            )
        self.interaction_count = len(load_interactions(self.cassette))  # CassetteError if not one
        self.answered_digests = answered_digests(self.cassette)  # sha256 of the images it knows
        self.provenance = read_provenance(self.cassette) if provenance_path(self.cassette).exists() else {}
        self.client = live_client(
            vendor, endpoint=REPLAY_ENDPOINT, placeholder_credentials=True
        )
        self.supports_similarity = self.client.supports_similarity
        self._vcr = make_vcr("none")
        self.gate = no_gate  # unlimited unless --rate: one token per call, outside the lock
        self.played: set[int] = set()  # indices of interactions answered so far

    def _replay(self, what: str, fn):
        with _VCR_LOCK, self._vcr.use_cassette(str(self.cassette), allow_playback_repeats=True) as cass:
            try:
                return fn()
            except CannotOverwriteExistingCassetteException as exc:
                raise ReplayMissError(
                    f"cassette {self.cassette} has no recorded {self.vendor} answer for {what}",
                ) from exc
            finally:
                self.played |= {i for i, n in cass.play_counts.items() if n}

    def recognize(self, image: bytes) -> Recognition:
        self.gate()
        rec = self._replay(image_label(image), lambda: self.client.recognize(image))
        if self.provenance.get("source") == "simulator" and not rec.simulated:
            rec = dataclasses.replace(rec, simulated=True)
        return rec

    def similarity(self, image_a: bytes, image_b: bytes) -> float | None:
        self.gate()
        what = f"similarity of {image_label(image_a)} and {image_label(image_b)}"
        return self._replay(what, lambda: self.client.similarity(image_a, image_b))
