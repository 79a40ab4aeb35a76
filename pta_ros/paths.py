"""Where the package's shared files (config/, launch/) are: a colcon/pip install, or this checkout."""
from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "pta_ros"
_CHECKOUT = Path(__file__).resolve().parents[1]


def share_dir() -> Path:
    """The package's share folder: the ament index when it knows the package, else the source checkout
    (running from the repository), else ``<prefix>/share/pta_ros`` (``pip install .``)."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            return Path(get_package_share_directory(PACKAGE))
        except (PackageNotFoundError, ValueError, OSError):  # OSError: no AMENT_PREFIX_PATH
            pass
    except ImportError:
        pass
    if (_CHECKOUT / "package.xml").is_file() and (_CHECKOUT / "config").is_dir():
        return _CHECKOUT
    return Path(sys.prefix) / "share" / PACKAGE


def config_file(name: str) -> Path:
    """A file of the package's ``config/`` folder (raises FileNotFoundError naming where it looked)."""
    path = share_dir() / "config" / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} not found in {path.parent}")
    return path
