"""Read the machine's apt sources, and add the backports suite beside them.

Incus 6.0 comes from Debian 12's backports suite (docs/incus-facts.md §3).  We add that suite
by reusing the URI of the Debian source the machine already trusts, so labkit never
names a mirror host itself: a training server behind a local mirror keeps using it.

Parsing is pure (text in, `AptSource` out); only `read_sources`, `read_os_release`,
`find_debian_mirror` and `ensure_backports` touch the file system.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SetupError
from ..i18n import M

BACKPORTS_FILE = "labkit-backports.sources"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# debootstrap and apt both understand these; `cdrom:` or `mirror+file:` sources
# would work for apt but not for debootstrap, which reuses the same URI.
_USABLE_SCHEMES = ("http://", "https://", "file:/")
# apt's StringToBool: any of these switches a deb822 stanza off.
_FALSE_WORDS = frozenset({"no", "false", "without", "off", "disable", "0"})


@dataclass(frozen=True)
class AptSource:
    """One source entry: a deb822 stanza or a one-line `deb ...` line."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    enabled: bool = True
    origin: str = ""  # the file it came from, for error messages


def parse_deb822(text: str, origin: str = "") -> list[AptSource]:
    """Parse a `.sources` file: stanzas separated by blank lines."""
    sources = []
    for fields in _deb822_stanzas(text):
        if "types" not in fields and "uris" not in fields:
            continue  # a stanza of comments only, or an unrelated paragraph
        enabled = fields.get("enabled", "yes").strip().lower() not in _FALSE_WORDS
        sources.append(
            AptSource(
                types=tuple(fields.get("types", "").split()),
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
                enabled=enabled,
                origin=origin,
            )
        )
    return sources


def _deb822_stanzas(text: str) -> Iterable[dict[str, str]]:
    fields: dict[str, str] = {}
    current: str | None = None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue  # comments may sit inside a stanza without ending it
        if not raw.strip():
            if fields:
                yield fields
            fields, current = {}, None
            continue
        if raw[0] in " \t":
            # Continuation: the multi-value fields we read are whitespace-separated
            # lists, so joining with a space is exact.  " ." stands for an empty line.
            if current is not None and raw.strip() != ".":
                fields[current] += " " + raw.strip()
            continue
        name, sep, value = raw.partition(":")
        if not sep:
            continue  # not a field; apt would reject the file, we just skip the line
        current = name.strip().lower()  # deb822 field names are case-insensitive
        fields[current] = value.strip()
    if fields:
        yield fields


def parse_one_line(text: str, origin: str = "") -> list[AptSource]:
    """Parse the one-line `sources.list` format: `deb [opts] URI suite comp...`."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.replace("\t", " ").partition(" ")
        rest = rest.strip()
        if rest.startswith("["):
            # Options may hold spaces (`[ arch=amd64 signed-by=/k.gpg ]`); none matter here.
            _, _, rest = rest.partition("]")
        words = rest.split()
        if kind not in ("deb", "deb-src") or len(words) < 2:
            continue
        sources.append(
            AptSource(
                types=(kind,),
                uris=(words[0],),
                suites=(words[1],),
                components=tuple(words[2:]),
                origin=origin,
            )
        )
    return sources


def source_files(apt_dir: Path) -> list[Path]:
    """The files apt itself reads, in its order; `*.disabled-by-farm` and the like are not."""
    files = []
    main_list = apt_dir / "sources.list"
    if main_list.is_file():
        files.append(main_list)
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files.extend(
            p for p in sorted(parts.iterdir()) if p.suffix in (".list", ".sources") and p.is_file()
        )
    return files


def read_sources(apt_dir: Path) -> tuple[list[AptSource], list[Path]]:
    """Every entry of the apt configuration, plus the files that were read."""
    files = source_files(apt_dir)
    sources: list[AptSource] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        parse = parse_deb822 if path.suffix == ".sources" else parse_one_line
        sources.extend(parse(text, origin=str(path)))
    return sources, files


def debian_mirror_from(sources: Iterable[AptSource], codename: str) -> str | None:
    """The first enabled `deb` URI serving `codename` (bare, not `-security`) with `main`."""
    for source in sources:
        if not (source.enabled and "deb" in source.types and codename in source.suites):
            continue
        if "main" not in source.components:
            continue
        for uri in source.uris:
            if uri.startswith(_USABLE_SCHEMES) and not _is_security_archive(uri):
                return uri.rstrip("/")
    return None


def _is_security_archive(uri: str) -> bool:
    # A security archive serves only `<codename>-security`; one listed with the bare
    # codename is a misconfiguration, and debootstrap from it would fail.
    return uri.rstrip("/").rsplit("/", 1)[-1].endswith("-security")


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    """`/etc/os-release` as a dict.  It lives here because apt needs the codename and
    `install.detect_distro` builds on it; this module is the lower layer of the two."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip().strip("\"'")
    return values


def find_debian_mirror(apt_dir: Path = Path("/etc/apt"), codename: str | None = None) -> str:
    """The URI of the machine's Debian archive for `codename` (default: this release)."""
    if codename is None:
        codename = own_codename()
    sources, files = read_sources(apt_dir)
    if not files:
        raise SetupError(M(
            "setup.no_apt_sources",
            "No apt source file was found in {apt_dir} (neither sources.list nor "
            "sources.list.d/*.sources or *.list). Configure a Debian source for {codename} "
            "with the main component, check that apt-get update works, then run the "
            "setup again.",
            apt_dir=str(apt_dir), codename=codename,
        ))
    uri = debian_mirror_from(sources, codename)
    if uri is None:
        raise SetupError(M(
            "setup.no_debian_source",
            "None of the apt sources read ({files}) has an enabled 'deb' entry for the "
            "suite {codename} with the main component over http, https or file, so labkit "
            "cannot tell which Debian mirror to use. Configure a Debian source for "
            "{codename} main (for example in /etc/apt/sources.list.d/debian.sources), "
            "check that apt-get update works, then run the setup again.",
            files=", ".join(str(f) for f in files), codename=codename,
        ))
    return uri


def own_codename(os_release: Path = Path("/etc/os-release")) -> str:
    try:
        codename = read_os_release(os_release).get("VERSION_CODENAME", "")
    except OSError:
        codename = ""
    if not codename:
        raise SetupError(M(
            "setup.unknown_codename",
            "The release codename of this system could not be read from {path} "
            "(VERSION_CODENAME is missing), so labkit cannot tell which Debian release to "
            "build the lab image from. Run the setup on Debian or Ubuntu, or give an image "
            "that already exists with --image.",
            path=str(os_release),
        ))
    return codename


def backports_stanza(uri: str, codename: str) -> str:
    """The deb822 text of `labkit-backports.sources`."""
    return (
        "Types: deb\n"
        f"URIs: {uri}\n"
        f"Suites: {codename}-backports\n"
        "Components: main\n"
        f"Signed-By: {DEBIAN_KEYRING}\n"
    )


def ensure_backports(apt_dir: Path, uri: str, codename: str) -> bool:
    """Make `<codename>-backports` available to apt; True when a file was written.

    Nothing is written when another file already enables that suite with `main`:
    a second copy would only make apt warn about targets configured twice.
    """
    target = apt_dir / "sources.list.d" / BACKPORTS_FILE
    wanted = backports_stanza(uri, codename)
    if target.is_file() and target.read_text(encoding="utf-8") == wanted:
        return False
    others = [s for s in read_sources(apt_dir)[0] if s.origin != str(target)]
    if debian_mirror_from(others, f"{codename}-backports") is not None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target under a name apt ignores, then rename: apt never
    # sees a half-written file, even if we are interrupted.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".labkit-backports.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(wanted)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; apt's unprivileged helpers read sources
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
