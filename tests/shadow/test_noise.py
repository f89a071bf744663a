"""Noise cancellation (Diffy's rule): real differences stand out from noise; noise alone is never reported."""

import pytest

from shadow.comparator import Comparator
from shadow.noise import classify, real_mismatches, verdict
from shadow.rules import NoiseThresholds, default_rules
from tests.shadow.builders import answer, make_pair

DIFFY = NoiseThresholds(relative=20.0, absolute=0.03)


def product(generated_at: str, price: str = "10.00") -> dict:
    return {"id": 1, "price": price, "generated_at": generated_at, "name": "Laptop"}


def run(pairs) -> tuple[dict, dict, int, int, list]:
    """Compare pairs and count per path as the store does: raw, noise, samples, noise samples."""
    comparator = Comparator(default_rules())
    raw: dict[str, int] = {}
    noise: dict[str, int] = {}
    mismatched = []
    noise_samples = 0
    for pair in pairs:
        result = comparator.compare(pair)
        for path in result.paths:
            raw[path] = raw.get(path, 0) + 1
        for path in result.noise_paths:
            noise[path] = noise.get(path, 0) + 1
        noise_samples += result.noise_checked
        if not result.matched:
            mismatched.append(result.paths)
    return raw, noise, len(pairs), noise_samples, mismatched


def noisy_pairs(count: int, *, real_every: int = 0) -> list:
    """Every answer carries its own generation timestamp; every `real_every`-th candidate has a new price."""
    pairs = []
    for n in range(count):
        primary = answer(product(f"2026-01-01T10:00:{n % 60:02d}.{n:06d}Z"))
        secondary = answer(product(f"2026-01-01T10:00:{n % 60:02d}.{n + 1:06d}Z"))
        price = "10.5" if real_every and n % real_every == 0 else "10.00"
        candidate = answer(product(f"2026-01-01T10:00:{n % 60:02d}.{n + 2:06d}Z", price))
        pairs.append(make_pair(primary, candidate, secondary=secondary))
    return pairs


def test_a_real_difference_hidden_among_noisy_timestamps_is_found():
    raw, noise, samples, noise_samples, mismatched = run(noisy_pairs(200, real_every=20))

    verdicts = classify(raw, noise, samples=samples, noise_samples=noise_samples, thresholds=DIFFY)

    real = {v.path for v in verdicts if v.real}
    assert real == {"body.price"}
    assert raw["body.generated_at"] == 200  # every pair differs there, but so does legacy from itself
    assert real_mismatches(mismatched, real) == 10


def test_pure_noise_is_not_reported():
    raw, noise, samples, noise_samples, mismatched = run(noisy_pairs(200))

    verdicts = classify(raw, noise, samples=samples, noise_samples=noise_samples, thresholds=DIFFY)

    assert [v.path for v in verdicts] == ["body.generated_at"]
    assert not verdicts[0].real
    assert verdicts[0].noise_share == 1.0
    assert real_mismatches(mismatched, set()) == 0


def test_a_second_candidate_answer_teaches_noise_without_a_secondary():
    pairs = []
    for n in range(50):
        primary = answer(product(f"2026-01-01T10:00:00.{n:06d}Z"))
        candidate = answer(product(f"2026-01-01T10:00:01.{n:06d}Z"))
        candidate2 = answer(product(f"2026-01-01T10:00:02.{n:06d}Z"))
        pairs.append(make_pair(primary, candidate, candidate2=candidate2))
    raw, noise, samples, noise_samples, _ = run(pairs)

    verdicts = classify(raw, noise, samples=samples, noise_samples=noise_samples, thresholds=DIFFY)

    assert [(v.path, v.real) for v in verdicts] == [("body.generated_at", False)]


def test_without_any_noise_answer_every_difference_above_the_absolute_threshold_is_real():
    v = verdict("body.x", 1, 0, samples=100, noise_samples=0, thresholds=DIFFY)

    assert v.real
    assert v.relative == 100.0
    assert v.absolute == 1.0


@pytest.mark.parametrize(
    ("raw", "noise", "real"),
    [
        (12, 8, False),  # relative = 4 / 20 = 20 %: at the threshold, not above it
        (13, 8, True),  # 5 / 21 = 23.8 %
        (8, 8, False),  # raw must exceed noise
        (8, 12, False),
    ],
)
def test_the_relative_threshold_on_both_sides_of_the_boundary(raw, noise, real):
    v = verdict("body.x", raw, noise, samples=1000, noise_samples=1000, thresholds=DIFFY)

    assert v.real is real


@pytest.mark.parametrize(
    ("raw", "real"),
    [
        (3, False),  # 3 / 10000 = 0.03 %: at the threshold, not above it
        (4, True),  # 0.04 %
    ],
)
def test_the_absolute_threshold_on_both_sides_of_the_boundary(raw, real):
    v = verdict("body.x", raw, 0, samples=10_000, noise_samples=10_000, thresholds=DIFFY)

    assert v.real is real


def test_thresholds_are_configurable():
    strict = NoiseThresholds(relative=50.0, absolute=1.0)

    assert verdict("body.x", 13, 8, samples=1000, noise_samples=1000, thresholds=DIFFY).real
    assert not verdict("body.x", 13, 8, samples=1000, noise_samples=1000, thresholds=strict).real


def test_noise_seen_on_part_of_the_samples_is_scaled_to_all_of_them():
    # 10 of 100 pairs carried a secondary, and 10 of those differed: noise is estimated at 100.
    v = verdict("body.x", 100, 10, samples=100, noise_samples=10, thresholds=DIFFY)

    assert v.noise == 100.0
    assert not v.real
