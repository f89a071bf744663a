"""Noise cancellation as in Twitter's Diffy: a differing field path is a REAL difference only when the
candidate differs from legacy there clearly more often than legacy differs from itself.

Per route and stable field path we count, over the route's N compared pairs:
  r  raw differences: pairs whose candidate answer differs from the primary (legacy) answer at the path;
  n  noise differences: pairs whose secondary (a second legacy instance) differs from the primary at the
     path, or whose second candidate answer differs from the first there ("learning noise from the
     candidate alone"); a pair counts once per path. When only M of the N pairs carried a noise answer,
     n is scaled to the N samples: n = noise_pairs * N / M (M = N when every pair had one, as in Diffy).

  relative = |r - n| / (r + n) * 100        (percent: how far raw and noise are apart, relative to both)
  absolute = |r - n| / N * 100              (percent of all samples)

  real  <=>  r > n  and  relative > relative_threshold  and  absolute > absolute_threshold

Diffy's defaults: relative 20 (%), absolute 0.03 (% of samples); the rules file (`noise:`) and the CLI
(`--relative`, `--absolute`) change them. Strict inequalities, as in Diffy: a value exactly at a threshold
is not real. With no noise answers at all (n = 0) relative is 100 % and any path that differs in more than
0.03 % of the samples is real.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shadow.rules import NoiseThresholds


@dataclass(frozen=True, slots=True)
class PathVerdict:
    path: str
    raw: int
    noise: float  # scaled to the route's samples
    relative: float  # percent
    absolute: float  # percent of samples
    real: bool

    @property
    def noise_share(self) -> float:
        """How much of the raw count noise explains (0..1)."""
        return 0.0 if self.raw == 0 else min(self.noise, self.raw) / self.raw

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "raw": self.raw,
            "noise": round(self.noise, 3),
            "relative": round(self.relative, 3),
            "absolute": round(self.absolute, 4),
            "noise_share": round(self.noise_share, 4),
            "real": self.real,
        }


def verdict(
    path: str, raw: int, noise_pairs: int, *, samples: int, noise_samples: int, thresholds: NoiseThresholds
) -> PathVerdict:
    noise = noise_pairs * samples / noise_samples if noise_samples else 0.0
    gap = abs(raw - noise)
    relative = gap / (raw + noise) * 100 if raw + noise else 0.0
    absolute = gap / samples * 100 if samples else 0.0
    real = raw > noise and relative > thresholds.relative and absolute > thresholds.absolute
    return PathVerdict(path, raw, noise, relative, absolute, real)


def classify(
    raw: Mapping[str, int],
    noise: Mapping[str, int],
    *,
    samples: int,
    noise_samples: int,
    thresholds: NoiseThresholds,
) -> list[PathVerdict]:
    """A verdict for every path that differed (raw or noise), most raw differences first."""
    verdicts = [
        verdict(
            path,
            raw.get(path, 0),
            noise.get(path, 0),
            samples=samples,
            noise_samples=noise_samples,
            thresholds=thresholds,
        )
        for path in set(raw) | set(noise)
    ]
    verdicts.sort(key=lambda v: (-v.raw, -v.noise, v.path))
    return verdicts


def real_mismatches(mismatched_paths: Iterable[Iterable[str]], real_paths: set[str]) -> int:
    """How many mismatched pairs differ at one or more real paths (the others differ only in noise)."""
    return sum(1 for paths in mismatched_paths if not real_paths.isdisjoint(paths))
