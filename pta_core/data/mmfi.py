"""MM-Fi in its official layout: ``<root>/E0x/Syy/Azz/<modality>/frameNNN.<ext>`` + ``ground_truth.npy``.

Reads what the official toolbox reads (``mmfi_lib/mmfi.py``, docs/datasets.md §1), through the modality
registry, and copes with what real copies of the dataset contain:

- a 0-byte file is an empty frame (e.g. a radar frame with no point): that modality is absent there;
- a folder with fewer files than the ground truth has frames (real mmWave often has) is aligned by
  the frame number in the file name, not by position: a missing number = modality absent there;
- a corrupt file raises :class:`DataFormatError` naming it, or is skipped and counted when lenient;
- stray files (``.DS_Store``, ``notes.txt``, a generator's ``synthetic_rig.yaml``) are ignored and counted;
- a ground truth that is unreadable, not (T, 17, 3), non-finite, or shorter than the highest frame
  number on disk raises (or, lenient, the whole sequence is skipped and counted).

Paths are built from the fixed subject → environment mapping, as the toolbox does.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pta_core.data.records import MISSING, ReadStats, read_raw
from pta_core.errors import DataFormatError
from pta_core.modalities import get_modality
from pta_core.skeleton import NUM_JOINTS

log = logging.getLogger(__name__)

MMFI_SUBJECTS: tuple[str, ...] = tuple(f"S{i:02d}" for i in range(1, 41))
MMFI_ACTION_IDS: tuple[str, ...] = tuple(f"A{i:02d}" for i in range(1, 28))
MMFI_ENVIRONMENTS: tuple[str, ...] = ("E01", "E02", "E03", "E04")
# Action names in id order (docs/datasets.md §1.6); the HAR label of A(k+1) is k.
MMFI_ACTIONS: tuple[str, ...] = (
    "Stretching and relaxing",
    "Chest expansion (horizontal)",
    "Chest expansion (vertical)",
    "Twist (left)",
    "Twist (right)",
    "Mark time",
    "Limb extension (left)",
    "Limb extension (right)",
    "Lunge (toward left-front)",
    "Lunge (toward right-front)",
    "Limb extension (both)",
    "Squat",
    "Raising hand (left)",
    "Raising hand (right)",
    "Lunge (toward left side)",
    "Lunge (toward right side)",
    "Waving hand (left)",
    "Waving hand (right)",
    "Picking up things",
    "Throwing (toward left side)",
    "Throwing (toward right side)",
    "Kicking (toward left side)",
    "Kicking (toward right side)",
    "Body extension (left)",
    "Body extension (right)",
    "Jumping up",
    "Bowing",
)
# Action lists exactly as the toolbox orders them (mmfi.py:19-24): the order seeds random_split.
PROTOCOL_ACTIONS: dict[str, tuple[str, ...]] = {
    "protocol1": (
        "A02",
        "A03",
        "A04",
        "A05",
        "A13",
        "A14",
        "A17",
        "A18",
        "A19",
        "A20",
        "A21",
        "A22",
        "A23",
        "A27",
    ),
    "protocol2": ("A01", "A06", "A07", "A08", "A09", "A10", "A11", "A12", "A15", "A16", "A24", "A25", "A26"),
    "protocol3": MMFI_ACTION_IDS,
}
# Every modality folder of the release; `pta_core.modalities.MMFI_MODALITIES` is the model's subset.
MMFI_FOLDERS: tuple[str, ...] = ("rgb", "infra1", "infra2", "depth", "lidar", "mmwave", "wifi-csi")
FRAMES_PER_SEQUENCE = 297  # in the release; the reader takes the count from each ground truth
GROUND_TRUTH = "ground_truth.npy"


def subject_environment(subject: str) -> str:
    """``S01``–``S10`` → ``E01``, …, ``S31``–``S40`` → ``E04`` (mmfi.py:140-150)."""
    if subject not in MMFI_SUBJECTS:
        raise ValueError(f"unknown MM-Fi subject {subject!r}; expected S01..S40")
    return MMFI_ENVIRONMENTS[(int(subject[1:]) - 1) // 10]


def action_label(action: str) -> int:
    """HAR label of an action id: ``A01`` → 0 … ``A27`` → 26."""
    if action not in MMFI_ACTION_IDS:
        raise ValueError(f"unknown MM-Fi action {action!r}; expected A01..A27")
    return int(action[1:]) - 1


def sequence_dir(root: str | Path, subject: str, action: str) -> Path:
    action_label(action)  # validates the id
    return Path(root) / subject_environment(subject) / subject / action


def check_modalities(modalities: Iterable[str]) -> tuple[str, ...]:
    """Validate MM-Fi modality names (registered and of dataset ``mmfi``)."""
    names = tuple(modalities)
    for name in names:
        if get_modality(name).dataset != "mmfi":
            raise ValueError(f"modality {name!r} is not an MM-Fi modality")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate modality in {list(names)}")
    return names


# ---------------------------------------------------------------------------------------------
# One sequence on disk


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SequenceListing:
    """What is on disk for one (subject, action): the ground truth and, per modality, frame → file."""

    environment: str
    subject: str
    action: str
    path: Path
    pose: np.ndarray  # (T, 17, 3) float64 metres
    ground_truth: FileEntry
    files: dict[str, dict[int, FileEntry]]  # modality → 1-based frame number → file
    stray_files: int

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    def fingerprint_lines(self, root: Path) -> Iterator[str]:
        """``relpath\\tsize\\tmtime_ns`` for every file this sequence contributes (for staleness hashes)."""
        rel = self.path.relative_to(root).as_posix()
        gt = self.ground_truth
        yield f"{rel}/{gt.name}\t{gt.size}\t{gt.mtime_ns}\n"
        for modality in sorted(self.files):
            for frame in sorted(self.files[modality]):
                entry = self.files[modality][frame]
                yield f"{rel}/{modality}/{entry.name}\t{entry.size}\t{entry.mtime_ns}\n"


def load_ground_truth(path: Path) -> np.ndarray:
    """``ground_truth.npy`` → (T, 17, 3) float64 metres; anything else raises :class:`DataFormatError`."""
    try:
        pose = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataFormatError(path, f"not a readable .npy file: {err}") from err
    if pose.ndim != 3 or pose.shape[1:] != (NUM_JOINTS, 3) or pose.shape[0] == 0:
        raise DataFormatError(path, f"ground truth must be (T, {NUM_JOINTS}, 3), got {pose.shape}")
    if not np.issubdtype(pose.dtype, np.number):
        raise DataFormatError(path, f"ground truth must be numeric, got {pose.dtype}")
    if not np.isfinite(pose).all():
        raise DataFormatError(path, "ground truth has non-finite values")
    return pose.astype(np.float64, copy=False)


def _list_frames(folder: Path, extension: str) -> tuple[dict[int, FileEntry], int]:
    """Frame files of one modality folder by frame number, and the count of stray entries."""
    pattern = re.compile(r"frame(\d+)" + re.escape(extension))
    frames: dict[int, FileEntry] = {}
    stray = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match is None or not entry.is_file():
                stray += 1
                continue
            number = int(match.group(1))
            if number in frames:
                raise DataFormatError(
                    folder, f"frame {number} appears twice ({frames[number].name}, {entry.name})"
                )
            stat = entry.stat()
            frames[number] = FileEntry(entry.name, stat.st_size, stat.st_mtime_ns)
    return frames, stray


def scan_sequence(
    root: str | Path, subject: str, action: str, modalities: Sequence[str]
) -> SequenceListing | None:
    """List one sequence; None when its folder is not on disk.

    Raises:
        DataFormatError: bad or missing ground truth, a frame number beyond the ground truth,
            a duplicated frame number.
    """
    path = sequence_dir(root, subject, action)
    if not path.is_dir():
        return None
    gt_path = path / GROUND_TRUTH
    if not gt_path.is_file():
        raise DataFormatError(gt_path, "missing: every MM-Fi sequence needs its ground truth")
    pose = load_ground_truth(gt_path)
    stat = gt_path.stat()
    files: dict[str, dict[int, FileEntry]] = {}
    stray = 0
    for name in modalities:
        modality = get_modality(name)
        folder = path / modality.folder
        if not folder.is_dir():
            files[name] = {}
            continue
        files[name], extra = _list_frames(folder, modality.extension)
        stray += extra
        beyond = [n for n in files[name] if not 1 <= n <= pose.shape[0]]
        if beyond:
            bad = files[name][max(beyond)].name
            raise DataFormatError(
                folder / bad,
                f"frame number outside 1..{pose.shape[0]}: ground truth {gt_path} has {pose.shape[0]} frames",
            )
    ground_truth = FileEntry(GROUND_TRUTH, stat.st_size, stat.st_mtime_ns)
    env = subject_environment(subject)
    return SequenceListing(env, subject, action, path, pose, ground_truth, files, stray)


def scan_sequences(
    root: str | Path,
    sequences: Iterable[tuple[str, str]],
    modalities: Sequence[str],
    *,
    lenient: bool = False,
    stats: ReadStats | None = None,
) -> Iterator[SequenceListing]:
    """Listings of the (subject, action) pairs that are on disk, in the given order.

    Missing sequences are counted (``sequences_missing``); a sequence whose structure is bad raises,
    or with ``lenient`` is counted (``sequences_skipped``) and left out.
    """
    stats = stats if stats is not None else ReadStats()
    for subject, action in sequences:
        try:
            listing = scan_sequence(root, subject, action, modalities)
        except DataFormatError as err:
            if not lenient:
                raise
            log.warning("skipping sequence %s/%s (lenient): %s", subject, action, err)
            stats.count("sequences_skipped")
            continue
        if listing is None:
            stats.count("sequences_missing")
            continue
        stats.count("sequences_found")
        stats.count("stray_files", listing.stray_files)
        yield listing


# ---------------------------------------------------------------------------------------------
# Frame and sequence units


@dataclass(frozen=True)
class MMFiFrame:
    """One frame: raw arrays as stored (depth uint16 mm, CSI raw amplitude, clouds float64 N×C).

    ``raw[m]`` is None when modality ``m`` is absent here; ``absent[m]`` says why
    (``missing``, ``empty``, ``corrupt``). ``pose`` is (17, 3) float64 metres.
    """

    environment: str
    subject: str
    action: str
    frame: int  # 1-based, the number in the file name
    raw: dict[str, np.ndarray | None]
    absent: dict[str, str]
    pose: np.ndarray

    @property
    def activity(self) -> int:
        return action_label(self.action)


def _read_frame(listing: SequenceListing, frame: int, modalities: Sequence[str], lenient: bool) -> MMFiFrame:
    raw: dict[str, np.ndarray | None] = {}
    absent: dict[str, str] = {}
    for name in modalities:
        entry = listing.files[name].get(frame)
        if entry is None:
            raw[name], reason = None, MISSING
        else:
            modality = get_modality(name)
            path = listing.path / modality.folder / entry.name
            raw[name], reason = read_raw(modality, path, entry.size, lenient=lenient)
        if reason is not None:
            absent[name] = reason
    pose = listing.pose[frame - 1]
    return MMFiFrame(listing.environment, listing.subject, listing.action, frame, raw, absent, pose)


def iter_frames(
    root: str | Path,
    sequences: Iterable[tuple[str, str]],
    modalities: Sequence[str],
    *,
    lenient: bool = False,
    stats: ReadStats | None = None,
    start: int = 0,
) -> Iterator[MMFiFrame]:
    """Every frame of the given (subject, action) sequences that are on disk, in order.

    Frames run 1..T with T the ground truth's length; a frame is yielded even when some (or all)
    modalities are absent there (unlike the toolbox, which drops a frame if any file is empty).

    Args:
        root: dataset root (the folder holding ``E01``…``E04``).
        sequences: (subject, action) pairs, e.g. one side of :func:`pta_core.data.splits.mmfi_split`.
        modalities: names from the modality registry (any of :data:`MMFI_FOLDERS`).
        lenient: skip and count corrupt files / sequences instead of raising.
        stats: counters to update (sequences missing/skipped, stray files).
        start: skip this many frames of the enumeration without reading them (resuming a pack).

    Raises:
        DataFormatError: a corrupt file or sequence (not lenient); the message names the file.
    """
    names = check_modalities(modalities)
    for listing in scan_sequences(root, sequences, names, lenient=lenient, stats=stats):
        if start >= listing.num_frames:
            start -= listing.num_frames
            continue
        for frame in range(start + 1, listing.num_frames + 1):
            yield _read_frame(listing, frame, names, lenient)
        start = 0


@dataclass(frozen=True)
class MMFiSequence:
    """A whole sequence (the toolbox's ``sequence`` unit): per modality a list of T raw arrays
    (None where absent), aligned by frame number; ``pose`` (T, 17, 3) float64 metres."""

    environment: str
    subject: str
    action: str
    raw: dict[str, list[np.ndarray | None]]
    absent: dict[str, dict[int, str]]  # modality → 1-based frame → reason
    pose: np.ndarray


def _read_sequence(listing: SequenceListing, names: Sequence[str], lenient: bool) -> MMFiSequence:
    raw: dict[str, list[np.ndarray | None]] = {name: [] for name in names}
    absent: dict[str, dict[int, str]] = {name: {} for name in names}
    for frame in range(1, listing.num_frames + 1):
        record = _read_frame(listing, frame, names, lenient)
        for name in names:
            raw[name].append(record.raw[name])
            if name in record.absent:
                absent[name][frame] = record.absent[name]
    return MMFiSequence(listing.environment, listing.subject, listing.action, raw, absent, listing.pose)


def read_sequence(
    root: str | Path, subject: str, action: str, modalities: Sequence[str], *, lenient: bool = False
) -> MMFiSequence:
    """Read one sequence; raises FileNotFoundError when it is not on disk."""
    names = check_modalities(modalities)
    listing = scan_sequence(root, subject, action, names)
    if listing is None:
        raise FileNotFoundError(f"MM-Fi sequence {sequence_dir(root, subject, action)} is not on disk")
    return _read_sequence(listing, names, lenient)


def iter_sequences(
    root: str | Path,
    sequences: Iterable[tuple[str, str]],
    modalities: Sequence[str],
    *,
    lenient: bool = False,
    stats: ReadStats | None = None,
) -> Iterator[MMFiSequence]:
    """The sequence unit over many (subject, action) pairs: those on disk, in order (missing ones
    counted in ``stats``; bad ones raise, or are skipped and counted when ``lenient``)."""
    names = check_modalities(modalities)
    for listing in scan_sequences(root, sequences, names, lenient=lenient, stats=stats):
        yield _read_sequence(listing, names, lenient)
