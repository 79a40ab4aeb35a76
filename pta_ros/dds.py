"""The DDS environment the project's processes need, set in one place (no rclpy import here).

**Shared memory for camera-sized images.** Fast DDS's default shared-memory segment is 512 KiB: a
640×480 depth image (614 KB) then goes over fragmented UDP, and best-effort images are lost (on
this machine 18–27 of 60 arrived at 30 Hz, against 60 of 60 with the profile; docs/BENCHMARKS.md,
"DDS shared memory"). ``config/fastdds_shm.xml`` gives every participant a 32 MiB segment. What counts is the
*publisher's* segment (the subscriber's alone did not help), so every process that publishes images
loads it: a camera driver, ``replay_node``, ``ros2 bag play``.

Fast DDS reads the profile's path from an environment variable whose name changed with Fast DDS 3:
``FASTDDS_DEFAULT_PROFILES_FILE`` (Kilted and later) and ``FASTRTPS_DEFAULT_PROFILES_FILE`` (Fast DDS
2: Humble, Jazzy, which ignore the new name; Fast DDS 3 still reads the old one, with a deprecation
warning). :func:`with_shm_profile` sets the one the installed Fast DDS reads.

**Host-only discovery for tests and demos.** :func:`host_only` keeps discovery on this host, on a
domain of the run's own, so concurrent runs never cross-talk (never for a robot, whose sensors may
be on other hosts).
"""
from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Mapping
from pathlib import Path

FASTDDS_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"  # Fast DDS 3 (ROS 2 Kilted and later)
FASTRTPS_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"  # Fast DDS 2 (Humble, Jazzy)
FAST_DDS_2_DISTROS = frozenset({"humble", "iron", "jazzy"})
SHM_SEGMENT_BYTES = 32 * 1024 * 1024  # config/fastdds_shm.xml's segment_size
PROFILE_NAME = "fastdds_shm.xml"


def profile_variable(environ: Mapping[str, str] = os.environ) -> str:
    """The profile variable the installed Fast DDS reads: from ``ROS_DISTRO`` on a ROS machine, else
    from the Fast DDS wheel installed here (the PyPI wheels set no ``ROS_DISTRO``)."""
    distro = environ.get("ROS_DISTRO", "").strip().lower()
    if distro:
        return FASTRTPS_VARIABLE if distro in FAST_DDS_2_DISTROS else FASTDDS_VARIABLE
    for dist, variable in (("ros-fastdds", FASTDDS_VARIABLE), ("ros-fastrtps", FASTRTPS_VARIABLE)):
        try:
            importlib.metadata.version(dist)
            return variable
        except importlib.metadata.PackageNotFoundError:
            continue
    return FASTDDS_VARIABLE


def profile_path() -> Path:
    """The package's ``config/fastdds_shm.xml``."""
    from pta_ros.paths import config_file

    return config_file(PROFILE_NAME)


def with_shm_profile(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``environ`` plus the shared-memory profile in the variable this Fast DDS reads.

    A profile the user already chose wins: if only the other generation's variable is set, its value
    is carried over to the one read here (a Kilted-style export on Jazzy is otherwise ignored).
    """
    env = dict(environ)
    variable = profile_variable(env)
    if not env.get(variable):
        other = FASTRTPS_VARIABLE if variable == FASTDDS_VARIABLE else FASTDDS_VARIABLE
        env[variable] = env.get(other) or str(profile_path())
    return env


def host_only(environ: Mapping[str, str] = os.environ, domain_id: int | None = None) -> dict[str, str]:
    """``environ`` plus the shared-memory profile, discovery on this host only and a domain of its own
    (``domain_id``, else one from the process id), each unless already set."""
    env = with_shm_profile(environ)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_DOMAIN_ID", str(domain_id if domain_id is not None else os.getpid() % 100 + 1))
    return env


def shm_segment_bytes(pid: int | str = "self") -> dict[str, int]:
    """The Fast DDS shared-memory files a process has mapped, with their mapped size in bytes
    (``/proc/<pid>/maps``; Linux only): a participant with the profile maps a segment of
    :data:`SHM_SEGMENT_BYTES` and more, one without it 512 KiB and more."""
    sizes: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith(("/dev/shm/fastdds_", "/dev/shm/fastrtps_")):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            sizes[fields[5]] = sizes.get(fields[5], 0) + end - start
    return sizes


def shm_profile_in_effect(pid: int | str = "self") -> bool:
    """Has the process mapped a shared-memory segment at least as large as the profile's?"""
    return any(size >= SHM_SEGMENT_BYTES for size in shm_segment_bytes(pid).values())
