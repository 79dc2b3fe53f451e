"""When a query matches a registered variant: the published configuration and the rule.

Matching runs in two steps. The index finds candidates: every registered variant whose
64-bit pHash is within `phash_radius` of the query's, together with every variant whose
dHash is within `dhash_radius` (a watermark bar moves pHash more than dHash). Each
candidate is then verified here by comparing descriptors (a 32x32 grey and 16x16 colour
picture of each, registry.fingerprints.comparison); hashes alone never decide, because
distinct drawings on white collide under 64-bit hashes. Plain Python, no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from registry.fingerprints import FINGERPRINT_VERSION, Hashes, ImageFingerprint
from registry.fingerprints.comparison import compare
from registry.fingerprints.descriptor import DESCRIPTOR_BYTES
from registry.fingerprints.hashing import PDQ_BYTES
from registry.fingerprints.variants import WEAK_VARIANTS


@dataclass(frozen=True)
class MatchingConfig:
    fingerprint_version: int = FINGERPRINT_VERSION
    phash_radius: int = 10
    dhash_radius: int = 10  # a negative radius turns the dHash search off
    # dHash is searched only on the variants framed like the original (and its small tilts and
    # centre crop): the overlays it rescues, a watermark bar or a re-post, keep the framing.
    # Measured by bench/accuracy, the other variants add 1 or 2 hits in 8,592 queries and
    # would double the dHash index.
    dhash_variants: tuple[str, ...] = (
        "original",
        "untrimmed",
        "tilt_left",
        "tilt_right",
        "crop_centre",
    )
    # The query's upright region (a picture found by four fitted sides on a fill and put
    # upright, fingerprints.rectify) is searched by dHash too, over these variants only: the
    # ones framed as it is. A warped flat sprite's pHash bits flip easily while its dHash
    # holds, and its fitted sides are evidence a cut piece lacks; a match through a
    # registered tilt would contradict its being upright (on corpus 2 every such match was
    # another work). Held to the near-copy limits of both paths, never strong. Empty: off.
    upright_dhash_variants: tuple[str, ...] = ("original", "untrimmed")
    # What counts as a changed descriptor cell (registry.fingerprints.comparison): off by more
    # than this share of the query's grey range, beyond its neighbours' range widened by
    # `contrast_tolerance` times itself.
    cell_tolerance: float = 0.15
    contrast_tolerance: float = 0.5
    # A match differs in at most this share of cells, overlays included (a watermark bar
    # changes 3-8%, a caption band across the picture up to 20%),
    max_changed: float = 0.25
    # of which at most this share in one compact blob away from the frame's edge (a sticker,
    # a line of text, a caption band),
    max_overlay: float = 0.15
    # and at most this share of the picture's content (its ink) anywhere else. A different
    # drawing disagrees in scattered places; an overlay in one. (0.03 let another frame of a
    # sprite animation through on mateval's DEV set.)
    max_scattered: float = 0.016
    # Changed cells as a share of the ink: at least half of what either picture shows must
    # agree (two different thin drawings on white disagree wherever either has a line).
    max_changed_ink: float = 0.5
    # Mean difference of the 90% best-agreeing cells, as a share of the query's grey range.
    max_luma: float = 0.08
    max_colour: float = 0.08
    # A candidate found by its dHash only (pHash farther than `phash_radius`, dHash within
    # `dhash_radius`) is held to a stricter agreement: a watermark bar moves pHash, but so
    # does another tile or sprite, and on mateval's DEV set these candidates brought most
    # false matches.
    dhash_max_changed: float = 0.05
    dhash_max_changed_ink: float = 0.2
    dhash_max_scattered: float = 0.005
    # A query region (the untrimmed frame, an XY-cut rectangle) is a picture the artist may not
    # have meant: it matches only as a near copy, without an overlay of its own. A sparse
    # sprite in its untrimmed frame otherwise matches another sprite that differs in one blob.
    # (0.02 with the first XY cut; the recursive cut proposes more regions, each one more
    # chance to match a neighbouring tile that differs in a small blob, and 0.01 keeps corpus
    # 2's DEV false matches where the first cut had them: docs/matching.md.)
    region_max_changed: float = 0.10
    region_max_overlay: float = 0.01
    # A region is a part of the query and a registered crop variant a part of a work: a
    # part of one flag or tile resembles a part of another, so a region never matches one.
    region_matches_crops: bool = False
    # A registered crop variant (crop_centre, crop_top_left...) is a detail of the work: a
    # plain texture or pattern in it resembles many pictures, so it matches near copies only.
    crop_max_changed: float = 0.07
    # A strong match is a whole-picture near copy: found by the whole query's pHash (not by
    # dHash only, not by a query region) and within version 2's near-copy limits, at most
    # `strong_max_changed` of the cells changed (edge overlays such as a watermark or
    # letterbox bars included) and at most `strong_max_changed_inside` away from the edge
    # (7 of 1,024 cells: no overlay inside the picture). Only a strong match may allow an
    # item; any match may deny it. The relaxed paths (regions, inside overlays, dHash only)
    # find most of version 3's re-posts, but they also brought most of its false matches on
    # corpus 2's DEV set, and a false match to an allowed work lets an unrelated picture
    # through as consented, while one to a denying work only withholds a picture.
    strong_max_changed: float = 0.10
    strong_max_changed_inside: float = 0.007
    # and changes connected to the frame's edge reach at most this share of the side in (4 of
    # 32 cells): a watermark, a logo in a corner or a letterbox remnant is shallow; another
    # picture inset over a quarter or a third of a corner is not at the edge but over the
    # picture. On corpus 2's DEV set this kept every strong hit of the mild edits.
    strong_max_edge_depth: float = 0.125
    # A match through one of these registered variants is never strong: it may deny, never
    # allow. A deep crop is a part of the work, and a part of one icon or sprite resembles a
    # part of its template's siblings; the content box of a drawing on white is the framing
    # another drawing on the same sheet shares. On corpus 2's DEV set each raised the strong
    # false matches when it could allow, and none when weak (docs/matching.md, "Version 4").
    # A 7-degree tilt turns the picture's corners out of its frame and brings fill in: like
    # a deep crop it holds only part of the work, and unrelated pictures on white share the
    # filled corners.
    weak_variants: tuple[str, ...] = WEAK_VARIANTS
    # A candidate both plain baselines accept (the whole query's pHash within `phash_radius`,
    # or its dHash within `dhash_radius`: a sticker moves pHash more; or the pHash of a query
    # region that carries a real PDQ, such as the untrimmed frame; and its PDQ, 256 bits
    # of a 64x64 picture, within this many bits: PDQ's usual threshold, the baseline
    # bench.accuracy reports) and the limits above refuse is refused only on evidence of
    # another work: its colour (the same layout in other colours, a flag's sibling) or
    # scattered detail of the work missing from the query (Distances.removed, within
    # `max_scattered`, `dhash_max_scattered` for a dHash-only pair: another muffin without
    # the chips).
    # How much changed is not such evidence: translucent stripes and caption bands change a
    # third of the cells and the light of the 90% best-agreeing ones while PDQ agrees. Such
    # a match is never strong (the strong flag needs the limits above). Negative: no such rule.
    pdq_radius: int = 31
    # A candidate found plainly (as above: the whole query's pHash or dHash, or the pHash of
    # a region carrying its own PDQ, the untrimmed frame) whose PDQ is within this many bits,
    # and, for the frame, whose dHash is within `dhash_radius` too, is judged by the limits of
    # a whole-query pHash candidate rather than the near-copy limits of its path
    # (`dhash_max_*`, `region_max_*`). Those limits are there because a dHash code or a
    # sparse sprite's frame alone says little; a caption band, a line of text or a sticker
    # across a drawing on a wide margin keeps the re-post from being trimmed as its work was,
    # and moves the frame's PDQ past 31 bits, while three hashes still agree. On corpus 2's
    # DEV set this found 21 more re-posts (captions, text, stickers) with no new false match;
    # the first came at 50 bits (docs/matching.md, "Every hash agreeing"). Such a match is
    # never strong. Negative: no such rule.
    pdq_path_radius: int = 44
    # PDQ's own advice: a hash of quality under 50 (little gradient) is not to be matched on.
    pdq_min_quality: int = 50
    # A query whose colour stays within this many grey levels of grey is compared on grey only.
    colourless: float = 12.0
    # Descriptor comparisons one query item may cost: an item with more candidates found by
    # pHash is decided `invalid` (fail closed) and counted, so a pathological query cannot
    # stall a chunk; dHash-only candidates take what is left (verify_item).
    max_verifications: int = 64
    # The same budget for a new work's comparison with other artists' works at registration;
    # a work whose comparison cannot rule every candidate out is registered held, allowing
    # nothing until an operator's check with no budget (services.works.work_hold_review).
    # Registering is rare and a flat graphic brings thousands of candidates at a million
    # works (docs/benchmarks.md), so it may spend far more: 4,096 comparisons are about a
    # quarter of a second.
    registration_max_verifications: int = 4096
    # fingerprints.information below this: too plain to match, decided `invalid`.
    min_information: float = 2.5

    def __post_init__(self) -> None:
        limits = (
            "cell_tolerance",
            "max_changed",
            "max_overlay",
            "max_scattered",
            "max_changed_ink",
            "max_luma",
            "max_colour",
            "dhash_max_changed",
            "dhash_max_changed_ink",
            "dhash_max_scattered",
            "region_max_changed",
            "region_max_overlay",
            "crop_max_changed",
            "strong_max_changed",
            "strong_max_changed_inside",
            "strong_max_edge_depth",
        )
        if min(getattr(self, name) for name in limits) <= 0:
            raise ValueError("matching thresholds must be positive")
        if min(self.max_verifications, self.registration_max_verifications) < 1:
            raise ValueError(
                "max_verifications and registration_max_verifications must be at least 1"
            )
        if self.contrast_tolerance < 0:
            raise ValueError("contrast_tolerance must not be negative")

    def to_dict(self) -> dict[str, object]:
        published: dict[str, object] = asdict(self)
        published["dhash_variants"] = list(self.dhash_variants)
        published["upright_dhash_variants"] = list(self.upright_dhash_variants)
        published["weak_variants"] = list(self.weak_variants)
        published["candidates"] = (
            "phash within phash_radius of the query or of one of its regions, all verified "
            "within max_verifications; then the query's dhash within dhash_radius, and its "
            "upright region's over upright_dhash_variants (held to the dhash_max_* and "
            "region_max_* limits), nearest first, as far as max_verifications allows"
        )
        published["strength"] = (
            "a weak match can deny, only a strong match can allow: a match is strong when the "
            "whole query's phash found it within phash_radius (not its dhash only, not a "
            "region) and its descriptor differs in at most strong_max_changed of the cells, "
            "strong_max_changed_inside away from the frame's edge, and changes at the edge "
            "reach at most strong_max_edge_depth of the side in, and it was not made through one "
            "of weak_variants; a matched work's other "
            "variants are verified for a strong match as far as max_verifications allows"
        )
        published["algorithms"] = ["phash", "dhash", "pdq", "descriptor"]
        return published


DEFAULT_MATCHING = MatchingConfig()


@dataclass(frozen=True)
class Verdict:
    matched: bool
    distances: dict[str, int | float]
    # The largest descriptor distance as a share of its limit: at most 1.0 when matched.
    # Among several matched works, the lowest score is the closest.
    score: float = math.inf
    # A whole-picture near copy (MatchingConfig.strong_*): only a strong match may allow an
    # item, a weak one may only deny it.
    strong: bool = False


def is_weak(fp: ImageFingerprint, config: MatchingConfig = DEFAULT_MATCHING) -> bool:
    """Too little information to match reliably: the item is `invalid`, never `allowed`."""
    return fp.information < config.min_information


def is_candidate(
    query: Hashes, candidate: Hashes, config: MatchingConfig = DEFAULT_MATCHING
) -> bool:
    """The index's search, for one pair: what a brute-force scan would return."""
    return (query.phash ^ candidate.phash).bit_count() <= config.phash_radius or (
        query.dhash ^ candidate.dhash
    ).bit_count() <= config.dhash_radius


def verify(
    query: Hashes,
    candidate: Hashes,
    config: MatchingConfig = DEFAULT_MATCHING,
    *,
    region: bool = False,
    variant: str = "original",
) -> Verdict:
    """Whether a candidate from the index is the query's work, with every distance.

    `region`: the query hashes are one of its regions (ImageFingerprint.regions), not the
    whole query; `variant`: the name of the registered variant `candidate` is."""
    distances: dict[str, int | float] = {
        "phash": (query.phash ^ candidate.phash).bit_count(),
        "dhash": (query.dhash ^ candidate.dhash).bit_count(),
        "pdq": (
            int.from_bytes(query.pdq, "big") ^ int.from_bytes(candidate.pdq, "big")
        ).bit_count(),
    }
    if len(query.descriptor) != DESCRIPTOR_BYTES or len(candidate.descriptor) != DESCRIPTOR_BYTES:
        return Verdict(matched=False, distances=distances)  # fail closed: nothing to verify on
    if region and variant.startswith("crop_") and not config.region_matches_crops:
        return Verdict(matched=False, distances=distances)
    found = compare(
        query.descriptor,
        candidate.descriptor,
        cell_tolerance=config.cell_tolerance,
        contrast_tolerance=config.contrast_tolerance,
        colourless=config.colourless,
    )
    distances.update({name: round(value, 4) for name, value in found._asdict().items()})
    changed_ink = found.changed / found.ink
    distances["changed_ink"] = round(changed_ink, 4)
    # Changed cells away from the edge, as a share of the frame: the inside blob and the
    # scattered cells (a share of the ink).
    changed_inside = found.overlay + found.scattered * found.ink
    distances["changed_inside"] = round(changed_inside, 4)
    max_changed, max_overlay, max_scattered, max_changed_ink = (
        config.max_changed,
        config.max_overlay,
        config.max_scattered,
        config.max_changed_ink,
    )
    found_by_phash = distances["phash"] <= config.phash_radius
    found_by_dhash = not found_by_phash and distances["dhash"] <= config.dhash_radius
    found_plainly = _found_plainly(distances, config, region)
    vouched = vouched_for(query, candidate, distances, config, region=region)
    if found_by_dhash and not vouched:
        max_changed = min(max_changed, config.dhash_max_changed)
        max_scattered = min(max_scattered, config.dhash_max_scattered)
        max_changed_ink = min(max_changed_ink, config.dhash_max_changed_ink)
    if region and not vouched:
        max_changed = min(max_changed, config.region_max_changed)
        max_overlay = min(max_overlay, config.region_max_overlay)
    if variant.startswith("crop_"):
        max_changed = min(max_changed, config.crop_max_changed)
    score = max(
        found.luma / config.max_luma,
        found.colour / config.max_colour,
        found.changed / max_changed,
        found.overlay / max_overlay,
        found.scattered / max_scattered,
        changed_ink / max_changed_ink,
    )
    matched = score <= 1.0
    within_limits = matched
    if not matched and found_plainly and _pdq_agrees(query, candidate, config, config.pdq_radius):
        # Both plain baselines accept the pair: how much changed (an overlay's area, the
        # light it takes) is no evidence of another work; erased detail and colour are. A
        # pair the whole query's dHash found (a sticker moves pHash more) is held to the
        # stricter dHash limit on erased detail, vouched or not (the vouched relaxation is
        # for the limits above, not for this rescue).
        erased_limit = (
            min(max_scattered, config.dhash_max_scattered) if found_by_dhash else max_scattered
        )
        evidence = max(found.colour / config.max_colour, found.removed / erased_limit)
        if evidence <= 1.0:
            matched, score = True, evidence
    strong = (
        within_limits
        and found_by_phash
        and not region
        and found.changed <= config.strong_max_changed
        and changed_inside <= config.strong_max_changed_inside
        and found.edge_depth <= config.strong_max_edge_depth
        and variant not in config.weak_variants
    )
    return Verdict(matched=matched, distances=distances, score=round(score, 4), strong=strong)


def _found_plainly(distances: Mapping[str, float], config: MatchingConfig, region: bool) -> bool:
    """Found by the whole query's pHash or dHash, or by a region's pHash when the region
    carries a PDQ of its own: the untrimmed frame is the file as a plain hash reads it, and
    a caption band or stripes across a sprite's margin keep the whole query from being
    trimmed as its work was (a region sent without PDQ, all zeros, never qualifies)."""
    found_by_phash = distances["phash"] <= config.phash_radius
    if region:
        return found_by_phash
    return found_by_phash or distances["dhash"] <= config.dhash_radius


def vouched_for(
    query: Hashes,
    candidate: Hashes,
    distances: Mapping[str, float],
    config: MatchingConfig,
    *,
    region: bool,
) -> bool:
    """Every hash the pair carries agrees (PDQ within `pdq_path_radius`, a region's dHash
    too): the path's stricter limits are not needed to tell the work from a sibling the
    hashes confuse."""
    return (
        _found_plainly(distances, config, region)
        and (not region or distances["dhash"] <= config.dhash_radius)
        and _pdq_agrees(query, candidate, config, config.pdq_path_radius)
    )


def _pdq_agrees(query: Hashes, candidate: Hashes, config: MatchingConfig, radius: int) -> bool:
    """Both PDQ hashes are real (PDQ_BYTES, PDQ's quality at least `pdq_min_quality`: a
    query region other than the untrimmed frame carries none) and within `radius` bits."""
    if len(query.pdq) != PDQ_BYTES or len(candidate.pdq) != PDQ_BYTES:
        return False
    if min(query.pdq_quality, candidate.pdq_quality) < config.pdq_min_quality:
        return False
    bits = int.from_bytes(query.pdq, "big") ^ int.from_bytes(candidate.pdq, "big")
    return bits.bit_count() <= radius


def closest_work(verdicts: dict[int, Verdict]) -> int | None:
    """The work whose best matched variant scored lowest: the one a re-post is credited to."""
    matched = {work: verdict.score for work, verdict in verdicts.items() if verdict.matched}
    return min(matched, key=lambda work: matched[work]) if matched else None


@dataclass(frozen=True)
class ItemVerdicts:
    """What one query item matched: per work, the variant and verdict that settled it (its
    strong verdict when one of the work's variants matched strongly)."""

    matched: dict[int, tuple[str, Verdict]] = field(default_factory=dict)
    # More candidates than `max_verifications`: the unverified ones might be the item's
    # work, so the item must not be decided on what was verified (fail closed).
    over_budget: bool = False
    spent: int = 0  # descriptor comparisons made
    # Works found by dHash only that the budget left unverified: not matched, but not ruled
    # out either, so a refusing one must not let the item through (the gatekeeper's rule).
    unverified: frozenset[int] = frozenset()
    # Per matched work, which of the item's searched hashes (an index into `searched`: 0 the
    # whole query, then its regions) its verdict was made with.
    found_by: Mapping[int, int] = field(default_factory=dict)
    # Works matched weakly (or only in a part of the picture) whose other candidates the
    # strong or whole-picture pass did not reach for want of budget: a strong match among
    # them was not ruled out. A screened item may be decided on what was found (a weak match
    # denies, never allows); a registration's check is unfinished (services.works).
    unsettled: frozenset[int] = frozenset()

    @property
    def strong(self) -> frozenset[int]:
        """The works matched strongly: only these may allow the item; any match may deny it."""
        return frozenset(work for work, (_, verdict) in self.matched.items() if verdict.strong)


def verify_item(
    searched: Sequence[Hashes],
    candidates: Mapping[int, Sequence[tuple[str, int, Hashes]]],
    config: MatchingConfig = DEFAULT_MATCHING,
    *,
    whole: Sequence[bool] | None = None,
    upright: int | None = None,
) -> ItemVerdicts:
    """Verify one item's candidates, up to `config.max_verifications` comparisons.

    `searched` are the item's hashes, the whole query first, then its regions;
    `candidates` maps each candidate work to its (variant, index into `searched` of the
    hashes that found it, the variant's registered hashes).

    Candidates within `phash_radius` (of the whole query or of a region) are verified
    first, work by work in id order, each work's variants nearest first; the first that
    matches settles the work. All of them must fit the budget, else the item is over budget
    (decided invalid, fail closed). Candidates found by the whole query's dHash only are
    then verified nearest dHash first with what the budget has left: dHash codes of sprites
    and icons on flat backgrounds cluster (up to 950 candidates an item on the DEV set), and
    those the budget does not reach are not candidates. `upright`, the index into `searched`
    of the query's upright region (ImageFingerprint.upright_searched): its dHash-only
    candidates through `config.upright_dhash_variants` take their turn among those, held to
    the near-copy limits of both paths (verify, `region`). Other regions' dHash-only
    candidates are never verified: a region matches as a near copy, so pHash finds it, and a
    cut piece's dHash says too little (it brought false matches on flat graphics).
    Last, a work settled by a weak match keeps its remaining variants found by the whole
    query's pHash, verified nearest first with what the budget still has left, until one
    matches strongly (Verdict.strong); a work they do not reach stays weak, which can deny
    but not allow. This pass comes last so that it never takes budget from a candidate that
    could deny.
    `whole`, when given, says which of `searched` stand for the whole picture (the registry
    counts the untrimmed frame too, gatekeeper.covers_whole_picture). A work settled through
    a part of the picture (a panel of a comic) may match as a whole too, which changes how it
    is reported (gatekeeper.decide): its whole-picture candidates are then verified last,
    with what the budget still has left, so that no path costs an item more than
    `max_verifications` comparisons; a work they do not reach stays found in part, which
    never allows. Without `whole` (bench.accuracy) that pass is skipped.
    The same function decides in the registry and in bench.accuracy."""
    found_by_phash: dict[int, list[tuple[int, str, int, Hashes]]] = {}
    found_by_dhash: list[tuple[int, int, int, str, Hashes]] = []
    for work_id, pairs in candidates.items():
        for variant, k, registered in pairs:
            if k > 0 and variant.startswith("crop_") and not config.region_matches_crops:
                continue  # never matched (verify): not worth a comparison of the budget
            phash = (registered.phash ^ searched[k].phash).bit_count()
            if phash <= config.phash_radius:
                found_by_phash.setdefault(work_id, []).append((phash, variant, k, registered))
            elif _dhash_searched(k, variant, upright, config):
                dhash = (registered.dhash ^ searched[k].dhash).bit_count()
                found_by_dhash.append((dhash, work_id, k, variant, registered))
    matched: dict[int, tuple[str, Verdict]] = {}
    found_by: dict[int, int] = {}
    # Per weakly matched work, its whole-query pHash candidates not verified yet.
    weak_rest: dict[int, list[tuple[str, Hashes]]] = {}
    tried: set[tuple[int, str, int]] = set()  # (work, variant, searched index) compared
    spent = 0
    for work_id in sorted(found_by_phash):
        nearest_first = sorted(found_by_phash[work_id], key=lambda f: f[0])
        for position, (_, variant, k, registered) in enumerate(nearest_first):
            if spent >= config.max_verifications:
                return ItemVerdicts(matched, over_budget=True, spent=spent, found_by=found_by)
            spent += 1
            tried.add((work_id, variant, k))
            verdict = verify(searched[k], registered, config, region=k > 0, variant=variant)
            if verdict.matched:
                matched[work_id], found_by[work_id] = (variant, verdict), k
                if not verdict.strong:
                    # A weak variant never makes a match strong (a work found in a part is
                    # compared with the whole query's candidates, weak ones too, by
                    # _whole_picture_matches).
                    weak_rest[work_id] = [
                        (v, r)
                        for _, v, j, r in nearest_first[position + 1 :]
                        if j == 0 and v not in config.weak_variants
                    ]
                break
    unverified: set[int] = set()
    for _, work_id, k, variant, registered in sorted(
        found_by_dhash, key=lambda f: (f[0], f[1], f[2])
    ):
        if work_id in matched:
            continue
        if spent >= config.max_verifications:
            unverified.add(work_id)
            continue
        spent += 1
        tried.add((work_id, variant, k))
        verdict = verify(searched[k], registered, config, region=k > 0, variant=variant)
        if verdict.matched:
            matched[work_id], found_by[work_id] = (variant, verdict), k
    # A weak match can deny but not allow: a near copy among the work's other variants can.
    for work_id, rest in sorted(weak_rest.items()):
        for variant, registered in rest:
            if spent >= config.max_verifications:
                break
            spent += 1
            tried.add((work_id, variant, 0))
            verdict = verify(searched[0], registered, config, variant=variant)
            # A weak match of the whole query still says more than one found in a part.
            partial = whole is not None and not whole[found_by[work_id]]
            if verdict.strong or (verdict.matched and partial):
                matched[work_id], found_by[work_id] = (variant, verdict), 0
            if verdict.strong:
                break
    if whole is not None:
        spent = _whole_picture_matches(
            searched, candidates, config, whole, matched, found_by, tried, spent, upright=upright
        )
    unsettled: frozenset[int] = frozenset()
    if spent >= config.max_verifications:
        unsettled = _unsettled(searched, candidates, config, whole, matched, found_by, tried)
    return ItemVerdicts(
        matched,
        spent=spent,
        unverified=frozenset(unverified),
        found_by=found_by,
        unsettled=unsettled,
    )


def _dhash_searched(k: int, variant: str, upright: int | None, config: MatchingConfig) -> bool:
    """Whether a candidate the `k`th searched hashes found by dHash alone is verified: the
    whole query's (the index holds only `dhash_variants`), and the upright region's through
    a variant framed as it is."""
    return k == 0 or (k == upright and variant in config.upright_dhash_variants)


def _unsettled(
    searched: Sequence[Hashes],
    candidates: Mapping[int, Sequence[tuple[str, int, Hashes]]],
    config: MatchingConfig,
    whole: Sequence[bool] | None,
    matched: dict[int, tuple[str, Verdict]],
    found_by: dict[int, int],
    tried: set[tuple[int, str, int]],
) -> frozenset[int]:
    """The works not settled strongly that still have a candidate the strong pass (the
    whole query's pHash) or the whole-picture pass (`whole`, for a work found in part only)
    would have compared, had the budget lasted."""
    unsettled = set()
    for work_id, (_, verdict) in matched.items():
        if verdict.strong:
            continue
        in_part = whole is not None and not whole[found_by[work_id]]
        for name, k, registered in candidates[work_id]:
            if (work_id, name, k) in tried or (name in config.weak_variants and not in_part):
                continue
            near = (searched[k].phash ^ registered.phash).bit_count() <= config.phash_radius
            if (k == 0 and near) or (
                in_part and whole is not None and whole[k] and (k == 0 or near)
            ):
                unsettled.add(work_id)
                break
    return frozenset(unsettled)


def _whole_picture_matches(
    searched: Sequence[Hashes],
    candidates: Mapping[int, Sequence[tuple[str, int, Hashes]]],
    config: MatchingConfig,
    whole: Sequence[bool],
    matched: dict[int, tuple[str, Verdict]],
    found_by: dict[int, int],
    tried: set[tuple[int, str, int]],
    spent: int,
    *,
    upright: int | None = None,
) -> int:
    """verify_item's last pass: each work settled weakly through a part of the picture is
    verified against its candidates found by hashes of the whole picture, nearest pHash
    first, within the budget; the first match records the work as found by the whole
    picture. Updates `matched` and `found_by`; returns the comparisons spent so far."""
    for work_id in sorted(matched):
        if matched[work_id][1].strong or whole[found_by[work_id]]:
            continue
        rest = sorted(
            (
                ((searched[k].phash ^ registered.phash).bit_count(), name, k, registered)
                for name, k, registered in candidates[work_id]
                if whole[k] and (work_id, name, k) not in tried
            ),
            key=lambda c: (c[0], c[2]),
        )
        for phash, name, k, registered in rest:
            if phash > config.phash_radius and not _dhash_searched(k, name, upright, config):
                continue  # a (not upright) region's dHash-only candidate is never verified
            if spent >= config.max_verifications:
                return spent
            spent += 1
            tried.add((work_id, name, k))
            again = verify(searched[k], registered, config, region=k > 0, variant=name)
            if again.matched:
                matched[work_id], found_by[work_id] = (name, again), k
                break
    return spent
