"""Restore a versioned study from its DVC remote, and say whether it is current.

``python -m prism restore`` (after ``git checkout <tag>``) runs ``dvc pull``, which brings
back the data, the results and Snakemake's record of what made them (``.snakemake/metadata``:
settings, code identity, input checksums). The remote is configured to verify every object
against its hash, so a corrupt object is refused; this command then names the files that had
no intact copy. Finally it asks Snakemake (a dry run) whether anything would rerun: after a
clean restore nothing does, on any machine, so the restored numbers are never recomputed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

CACHE = Path(".dvc/cache/files/md5")  # DVC 3's content-addressed cache
CURRENT = "Nothing to be done"  # what a Snakemake dry run says when every result is current


class RestoreError(RuntimeError):
    """The pull failed; the message names what could not be restored."""


def restore(root: str | os.PathLike = ".", remote: str | None = None) -> dict[str, int]:
    """Pull the study at ``root`` from its DVC remote and dry-run its workflow.

    Parameters
    ----------
    root : path-like
        The repository (a checkout of the commit or tag to restore).
    remote : str, optional
        The DVC remote to pull from (default: the configured default remote).

    Returns
    -------
    dict
        The Snakemake jobs that would rerun, by rule (empty when the restored study is
        current).

    Raises
    ------
    RestoreError
        When ``dvc pull`` fails, naming the files with no intact copy in the remote.
    """
    root = Path(root)
    command = ["dvc", "pull", *(["--remote", remote] if remote else [])]
    if subprocess.run(command, cwd=root).returncode != 0:  # DVC shows its progress
        lost = unrestored_files(root)
        listed = "\n".join(f"  {path}" for path in lost[:20])
        more = f"\n  ... and {len(lost) - 20} more" if len(lost) > 20 else ""
        raise RestoreError(
            f"`dvc pull` failed: {len(lost)} file(s) have no intact copy in the remote (an "
            f"object that does not match its recorded hash is refused, as is a missing one):\n"
            f"{listed}{more}\nPush them again from a checkout that has them "
            f"(`dvc push`), then restore again."
            if lost
            else "`dvc pull` failed (see DVC's message above); nothing is missing from the cache"
        )
    return stale_jobs(root)


def unrestored_files(root: str | os.PathLike = ".") -> list[str]:
    """The files of the repository's DVC outputs that have no copy in the local cache.

    DVC deletes a downloaded object that fails verification, so after a failed pull these are
    the files whose object in the remote is corrupt or absent.
    """
    root = Path(root)
    lost = []
    for path, md5 in _outputs(root):
        if not md5.endswith(".dir"):
            lost += [] if _cached(root, md5) else [path]
            continue
        listing = root / CACHE / md5[:2] / md5[2:]
        if not listing.is_file():
            lost.append(f"{path}/ (its list of files)")
            continue
        for entry in json.loads(listing.read_text()):
            if not _cached(root, entry["md5"]):
                lost.append(f"{path}/{entry['relpath']}")
    return lost


def stale_jobs(root: str | os.PathLike = ".", *options: str) -> dict[str, int]:
    """The jobs a Snakemake dry run at ``root`` would run, by rule (empty when all is current).

    ``options`` go to Snakemake first, as they are (targets, ``--config``, ...).

    Raises
    ------
    RestoreError
        When the dry run fails (its output ends the message).
    """
    command = [sys.executable, "-m", "snakemake", *options, "-n", "--quiet", "rules"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RestoreError(f"the workflow's dry run failed:\n{output[-3000:]}")
    if CURRENT in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    rows = [line.split() for line in table.splitlines()]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def _outputs(root: Path) -> list[tuple[str, str]]:
    """``(path, md5)`` of every output in ``dvc.lock`` and in the ``.dvc`` files."""
    outputs = []
    lock = root / "dvc.lock"
    if lock.is_file():
        for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
            outputs += [(out["path"], out["md5"]) for out in stage.get("outs", [])]
    listed = subprocess.run(["git", "ls-files", "*.dvc"], cwd=root, capture_output=True, text=True)
    for name in listed.stdout.split():
        pointer = root / name
        for out in yaml.safe_load(pointer.read_text()).get("outs", []):
            outputs.append((str(pointer.parent.relative_to(root) / out["path"]), out["md5"]))
    return outputs


def _cached(root: Path, md5: str) -> bool:
    return (root / CACHE / md5[:2] / md5[2:]).is_file()
