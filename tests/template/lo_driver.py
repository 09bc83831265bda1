"""Drive LibreOffice headless over UNO: open a workbook, list its VBA, run macros.

Run with the system interpreter (``/usr/bin/python3``: python3-uno works only there, see
docs/excel.md "Checking without Excel"), never imported by the tests::

    /usr/bin/python3 lo_driver.py BOOK.xlsm [--call MODULE.FUNCTION ...] [--timeout S]

Prints one JSON object: ``{"modules": {name: source}, "calls": {"MODULE.FUNCTION": result}}``.
A fresh profile in a temporary folder and a free port per run; ``soffice`` is started in its
own process group and always killed at the end, and a watchdog ends everything after the
timeout, so a stuck LibreOffice never hangs the caller.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uno  # noqa: F401  (python3-uno; sets up the pyuno bridge)
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException

SOFFICE = shutil.which("soffice") or "/usr/bin/soffice"
ALWAYS_EXECUTE_NO_WARN = 4  # com.sun.star.document.MacroExecMode


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prop(name: str, value) -> PropertyValue:
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def _kill(proc: subprocess.Popen) -> None:
    """End soffice and its children (its own process group), then reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


def _connect(port: int, proc: subprocess.Popen, deadline: float):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    url = f"uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext"
    while True:
        try:
            return resolver.resolve(url)
        except NoConnectException:
            if proc.poll() is not None:
                raise RuntimeError(f"soffice exited with code {proc.returncode} before accepting")
            if time.monotonic() > deadline:
                raise RuntimeError("soffice did not accept a UNO connection in time")
            time.sleep(0.25)


def run(book: Path, calls: list[str], timeout: float, drop: list[str] = ()) -> dict:
    """Open ``book``, read the VBAProject library, drop modules, run each ``MODULE.FUNCTION``.

    LibreOffice compiles every module of a library before it runs any macro of it, and it
    cannot compile xlwings' ``#If``-branched modules (both branches are read): ``drop``
    names modules to remove from the loaded library first, in memory only (never saved).
    """
    profile = Path(tempfile.mkdtemp(prefix="xl_ar_lo_profile_"))
    port = _free_port()
    proc = subprocess.Popen(
        [SOFFICE, "--headless", "--invisible", "--norestore", "--nologo", "--nodefault",
         "--nolockcheck", f"-env:UserInstallation={profile.as_uri()}",
         f"--accept=socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip

    def watchdog() -> None:  # the last resort: never let the caller hang
        _kill(proc)
        shutil.rmtree(profile, ignore_errors=True)
        print(json.dumps({"error": f"timed out after {timeout} s"}), flush=True)
        os._exit(3)

    timer = threading.Timer(timeout, watchdog)
    timer.daemon = True
    timer.start()
    desktop = None
    try:
        ctx = _connect(port, proc, time.monotonic() + timeout)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = desktop.loadComponentFromURL(book.resolve().as_uri(), "_blank", 0, (
            _prop("Hidden", True), _prop("ReadOnly", True),
            _prop("MacroExecutionMode", ALWAYS_EXECUTE_NO_WARN),
        ))  # fmt: skip
        if doc is None:
            raise RuntimeError(f"LibreOffice could not open {book}")
        result: dict = {"modules": {}, "calls": {}}
        libraries = doc.BasicLibraries
        if libraries.hasByName("VBAProject"):
            libraries.loadLibrary("VBAProject")
            library = libraries.getByName("VBAProject")
            result["modules"] = {name: library.getByName(name) for name in library.getElementNames()}
            for name in drop:
                library.removeByName(name)
        result["vba_mode"] = bool(libraries.VBACompatibilityMode)
        provider = doc.getScriptProvider()
        for call in calls:
            uri = f"vnd.sun.star.script:VBAProject.{call}?language=Basic&location=document"
            value, _, _ = provider.getScript(uri).invoke((), (), ())
            result["calls"][call] = value
        doc.close(True)
        return result
    finally:
        timer.cancel()
        if desktop is not None:
            try:
                desktop.terminate()
            except Exception:  # noqa: BLE001 (the process is killed below anyway)
                pass
        _kill(proc)
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", type=Path)
    parser.add_argument("--call", action="append", default=[], help="MODULE.FUNCTION to run")
    parser.add_argument("--drop", action="append", default=[], help="module to remove before the calls")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    try:
        result = run(args.book, args.call, args.timeout, args.drop)
    except Exception as exc:  # noqa: BLE001 (reported to the test as JSON)
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
